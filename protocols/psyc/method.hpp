#pragma once
// PSYC method families: a method names its family by its prefix ("_notice_presence_here_quiet"
// is a "_notice_presence_here" is a "_notice_presence" is a "_notice"), so a receiver that
// does not know a method handles it as the nearest family it knows (about.psyc.eu
// Spec:Methods, "inheritance").
#include <string_view>

namespace parley::protocols::psyc {

// The method's family: the method without its last "_part"; empty for a one-part method.
std::string_view parent_method(std::string_view method);

// Calls handle(m) for the method and then each family up the chain until it returns true.
// Returns false when no family handled it.
template <typename F>
bool dispatch_by_family(std::string_view method, F&& handle) {
  for (std::string_view m = method; !m.empty(); m = parent_method(m))
    if (handle(m)) return true;
  return false;
}

}  // namespace parley::protocols::psyc

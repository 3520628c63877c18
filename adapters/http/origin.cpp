#include "adapters/http/origin.hpp"

#include "protocols/common/ascii.hpp"

namespace parley::adapters::http {

bool origin_allowed(const std::vector<std::string>& allowed, std::string_view origin) {
  if (allowed.empty() || origin.empty()) return true;
  for (std::string_view a : allowed) {
    if (a.size() > 1 && a.back() == '/') a.remove_suffix(1);
    if (protocols::ascii_equal_fold(a, origin)) return true;
  }
  return false;
}

}  // namespace parley::adapters::http

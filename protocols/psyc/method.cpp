#include "protocols/psyc/method.hpp"

namespace parley::protocols::psyc {

std::string_view parent_method(std::string_view method) {
  std::size_t cut = method.rfind('_');
  if (cut == std::string_view::npos || cut == 0) return {};
  return method.substr(0, cut);
}

}  // namespace parley::protocols::psyc

#pragma once
// ASCII case folding for the core (nicks in Room::find_nick, RoomService's comparisons).
// The same as protocols/common/ascii.hpp, which serves protocols/ and adapters/: the layer
// rule forbids core/ to include protocols/, so the core keeps this copy. Bytes outside A-Z
// are unchanged.
#include <string>
#include <string_view>

namespace parley::core {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string ascii_fold(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

constexpr bool ascii_equal_fold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

}  // namespace parley::core

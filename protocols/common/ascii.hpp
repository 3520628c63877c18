#pragma once
// ASCII case folding and blank trimming, the one copy for protocols/ and adapters/ (IRC
// CASEMAPPING=ascii, RFC 2812 §2.2 without the "rfc1459" bracket mapping; XMPP domain
// parts, RFC 7622 §3.2). Bytes outside A-Z are unchanged, so UTF-8 passes through intact.
//
// The core has its own copy (core/model/ascii.hpp): the layer rule forbids core/ to include
// protocols/ and protocols/ to include core/, and no third place is reachable from both.
#include <string>
#include <string_view>

namespace parley::protocols {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string ascii_fold(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

inline std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

constexpr bool ascii_equal_fold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// Spaces and tabs: HTTP's optional whitespace (RFC 9110 §5.6.3), SIP's whitespace inside a
// header line (RFC 3261 §25.1, after unfolding), ident's (RFC 1413).
constexpr bool is_blank(char c) { return c == ' ' || c == '\t'; }

constexpr std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace parley::protocols

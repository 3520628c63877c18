#pragma once
// XML 1.0 Char (§2.2) and its UTF-8 form: the one copy for the framer's byte checks, the
// writer's sanitising and JID preparation, which must agree on what a valid character is.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace parley::protocols::xmpp {

constexpr bool is_xml_char(std::uint64_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
         (c >= 0x10000 && c <= 0x10FFFF);
}

// Length (2..4) of the shortest-form UTF-8 sequence of one non-ASCII XML Char starting at
// s[i] and lying wholly inside s, or 0 (ASCII, invalid, overlong, surrogate, U+FFFE/FFFF,
// above U+10FFFF, or cut off by the end of s).
constexpr std::size_t xml_char_length(std::string_view s, std::size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  std::uint32_t cp = 0, min = 0;
  if (b >= 0xC2 && b <= 0xDF)
    n = 2, cp = b & 0x1F, min = 0x80;
  else if (b >= 0xE0 && b <= 0xEF)
    n = 3, cp = b & 0x0F, min = 0x800;
  else if (b >= 0xF0 && b <= 0xF4)
    n = 4, cp = b & 0x07, min = 0x10000;
  else
    return 0;
  if (n > s.size() - i) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  return cp >= min && is_xml_char(cp) ? n : 0;
}

}  // namespace parley::protocols::xmpp

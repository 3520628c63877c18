#include "protocols/sip/text.hpp"

#include "protocols/irc/message.hpp"

namespace parley::protocols::sip {

std::optional<std::string> clean_text_body(std::string_view body) {
  if (!irc::is_valid_utf8(body)) return std::nullopt;
  std::string out;
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == '\r') {
      out += '\n';
      if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) continue;
    out += c;
  }
  return out;
}

std::string header_safe(std::string_view v, std::size_t max) {
  std::string out;
  for (char c : v) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
  if (out.size() > max) {
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;
    out.resize(cut);
  }
  return out;
}

std::string escape_user(std::string_view user) {
  static constexpr std::string_view extra = "-_.!~*'()&=+$,;?/";
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : user) {
    auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        extra.find(c) != std::string_view::npos) {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

}  // namespace parley::protocols::sip

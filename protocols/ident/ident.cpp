#include "protocols/ident/ident.hpp"

#include <charconv>

#include "protocols/common/ascii.hpp"

namespace parley::protocols::ident {

namespace {

// 1..65535 as decimal digits only: 0 when it is digits but out of range, nullopt when it
// is not a number at all.
std::optional<std::uint32_t> port_of(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size()) return std::nullopt;
  if (ec != std::errc{}) return 0;  // digits, too large
  return v;
}

std::string ports(const Query& q) {
  return std::to_string(q.server_port) + " , " + std::to_string(q.client_port);
}
}  // namespace

ParseResult parse_query(std::string_view line, Query* q) {
  if (line.size() > kMaxQueryLine) return ParseResult::malformed;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto comma = line.find(',');
  if (comma == std::string_view::npos) return ParseResult::malformed;
  auto a = port_of(trim_blanks(line.substr(0, comma)));
  auto b = port_of(trim_blanks(line.substr(comma + 1)));
  if (!a || !b) return ParseResult::malformed;
  const bool valid = *a >= 1 && *a <= 65535 && *b >= 1 && *b <= 65535;
  q->server_port = static_cast<std::uint16_t>(*a <= 65535 ? *a : 0);
  q->client_port = static_cast<std::uint16_t>(*b <= 65535 ? *b : 0);
  return valid ? ParseResult::ok : ParseResult::invalid_port;
}

std::string userid_reply(const Query& q, std::string_view user_id) {
  std::string id;
  for (char c : user_id.substr(0, 64)) {
    const bool printable = c > ' ' && c < 0x7f && c != ':';
    id.push_back(printable ? c : '_');
  }
  if (id.empty()) id = "unknown";
  return ports(q) + " : USERID : UNIX : " + id + "\r\n";
}

std::string error_reply(const Query& q, std::string_view error) {
  return ports(q) + " : ERROR : " + std::string(error) + "\r\n";
}

}  // namespace parley::protocols::ident

#include "protocols/sip/publish_wire.hpp"

#include <algorithm>
#include <charconv>

#include "protocols/common/ascii.hpp"
#include "protocols/sip/text.hpp"

namespace parley::protocols::sip {

namespace {

constexpr bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

// An RFC 3261 §25.1 token.
bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char); }

// 1..max_digits digits, and its value.
std::optional<std::uint64_t> digits(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  for (char c : s)
    if (!is_digit(c)) return std::nullopt;
  std::uint64_t n = 0;
  std::from_chars(s.data(), s.data() + s.size(), n);
  return n;
}

// A plain user part: RFC 3261's unreserved characters without escapes, and none of the
// separators libre would treat otherwise.
bool plain_user(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!is_alnum(c) && std::string_view("-_.!~*'+").find(c) == std::string_view::npos) return false;
  return true;
}

// host [":" port], host a name, an IPv4 address or a bracketed IPv6 reference.
bool host_port(std::string_view s, std::string_view& host, std::uint16_t& port) {
  if (s.empty() || s.size() > 256) return false;
  std::size_t end = 0;
  if (s.front() == '[') {
    end = s.find(']');
    if (end == std::string_view::npos || end < 3) return false;
    for (char c : s.substr(1, end - 1))
      if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
        return false;
    ++end;
  } else {
    while (end < s.size() && (is_alnum(s[end]) || s[end] == '.' || s[end] == '-')) ++end;
    if (end == 0) return false;
  }
  host = s.substr(0, end);
  port = 0;
  if (end == s.size()) return true;
  if (s[end] != ':') return false;
  auto p = digits(s.substr(end + 1), 5);
  if (!p || *p == 0 || *p > 65535) return false;
  port = static_cast<std::uint16_t>(*p);
  return true;
}

// "PUBLISH sip:user@host[:port][;params] SIP/2.0"
bool request_line(std::string_view line, FastPublish& p) {
  constexpr std::string_view kHead = "PUBLISH sip:", kTail = " SIP/2.0";
  if (line.size() <= kHead.size() + kTail.size() || line.substr(0, kHead.size()) != kHead ||
      line.substr(line.size() - kTail.size()) != kTail)
    return false;
  std::string_view uri = line.substr(kHead.size(), line.size() - kHead.size() - kTail.size());
  std::size_t at = uri.find('@');
  if (at == std::string_view::npos || !plain_user(uri.substr(0, at))) return false;
  p.user = uri.substr(0, at);
  std::string_view rest = uri.substr(at + 1);
  std::size_t semi = rest.find(';');
  std::string_view params = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
  for (char c : params)  // uri-parameters only: no headers (?), no blanks
    if (!is_alnum(c) && std::string_view("-.!%*_+`'~=;[]:/&$").find(c) == std::string_view::npos)
      return false;
  std::uint16_t port = 0;
  return host_port(rest.substr(0, semi), p.host, port);
}

// One Via value: "SIP/2.0/UDP sent-by *(;param)"; the top one's fields into `p`.
bool via_value(std::string_view v, bool top, FastPublish& p) {
  if (v.empty() || v.find_first_of(",\"") != std::string_view::npos) return false;
  if (!top) return true;  // copied back as it is
  constexpr std::string_view kProto = "SIP/2.0/UDP";
  if (v.size() <= kProto.size() || !ascii_equal_fold(v.substr(0, kProto.size()), kProto) ||
      !is_blank(v[kProto.size()]))
    return false;
  std::string_view rest = v.substr(kProto.size());
  std::size_t semi = rest.find(';');
  p.sent_by = trim_blanks(rest.substr(0, semi));
  if (!host_port(p.sent_by, p.sent_by_host, p.sent_by_port)) return false;
  bool have_branch = false;
  while (semi != std::string_view::npos) {
    rest.remove_prefix(semi + 1);
    semi = rest.find(';');
    std::string_view param = trim_blanks(rest.substr(0, semi));
    std::size_t eq = param.find('=');
    std::string_view name = trim_blanks(param.substr(0, eq));
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : trim_blanks(param.substr(eq + 1));
    if (!is_token(name) || (eq != std::string_view::npos && value.empty())) return false;
    if (ascii_equal_fold(name, "branch")) {
      if (have_branch || value.size() < 8 || value.size() > 128 || value.substr(0, 7) != "z9hG4bK" ||
          !is_token(value))
        return false;
      p.branch = value;
      have_branch = true;
    } else if (ascii_equal_fold(name, "rport")) {
      if (eq != std::string_view::npos || p.rport_end) return false;  // a request's rport has no value
      p.rport_end = static_cast<std::size_t>(param.data() + param.size() - v.data());
    } else if (ascii_equal_fold(name, "received") || ascii_equal_fold(name, "maddr")) {
      return false;  // not from a UA directly: libre's
    }
  }
  return have_branch;
}

// "[display-name] <sip:...>" then header parameters; `tag`: the tag parameter's value.
bool name_addr(std::string_view v, std::string_view& tag) {
  tag = {};
  if (v.size() > 512) return false;
  std::size_t lt = 0;
  if (!v.empty() && v.front() == '"') {
    std::size_t q = v.find('"', 1);
    if (q == std::string_view::npos || v.substr(1, q - 1).find('\\') != std::string_view::npos) return false;
    lt = v.find('<', q + 1);
  } else {
    lt = v.find('<');
    if (v.substr(0, lt).find('"') != std::string_view::npos) return false;
  }
  if (lt == std::string_view::npos) return false;
  std::size_t gt = v.find('>', lt);
  if (gt == std::string_view::npos) return false;
  std::string_view uri = v.substr(lt + 1, gt - lt - 1);
  if (uri.size() < 5 || uri.substr(0, 4) != "sip:" || uri.find_first_of("<\" \t") != std::string_view::npos)
    return false;
  std::string_view params = v.substr(gt + 1);
  if (params.find_first_of("<>\",") != std::string_view::npos) return false;
  params = trim_blanks(params);
  while (!params.empty()) {
    if (params.front() != ';') return false;
    params.remove_prefix(1);
    std::size_t semi = params.find(';');
    std::string_view param = trim_blanks(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi);
    std::size_t eq = param.find('=');
    std::string_view name = trim_blanks(param.substr(0, eq));
    if (!is_token(name)) return false;
    if (ascii_equal_fold(name, "tag")) {
      std::string_view value =
          eq == std::string_view::npos ? std::string_view() : trim_blanks(param.substr(eq + 1));
      if (!tag.empty() || !is_token(value) || value.size() > 128) return false;
      tag = value;
    }
  }
  return true;
}

enum class Field {
  from,
  to,
  call_id,
  cseq,
  event,
  content_type,
  content_length,
  authorization,
  if_match,
  expires,
  max_forwards,
  count
};

}  // namespace

std::optional<FastPublish> parse_fast_publish(std::string_view d) {
  if (d.size() > kMaxFastPublish || d.size() < 16 || d.substr(0, 8) != "PUBLISH ") return std::nullopt;
  std::size_t eol = d.find("\r\n");
  if (eol == std::string_view::npos) return std::nullopt;
  FastPublish p;
  std::string_view line = d.substr(0, eol);
  if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos || !request_line(line, p))
    return std::nullopt;
  std::size_t pos = eol + 2, lines = 0;
  bool seen[static_cast<std::size_t>(Field::count)] = {};
  bool pidf = false;
  std::uint64_t content_length = 0;
  while (true) {
    eol = d.find("\r\n", pos);
    if (eol == std::string_view::npos) return std::nullopt;  // no blank line
    line = d.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) break;
    if (++lines > kMaxFastHeaders) return std::nullopt;
    if (is_blank(line.front()) || line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
      return std::nullopt;  // folded (RFC 3261 §7.3.1), a bare CR or LF, a NUL
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view name = trim_blanks(line.substr(0, colon)), value = trim_blanks(line.substr(colon + 1));
    if (name.size() < 2 || !is_token(name)) return std::nullopt;  // compact forms are libre's
    auto once = [&](Field f) {
      auto& s = seen[static_cast<std::size_t>(f)];
      if (s) return false;
      s = true;
      return true;
    };
    if (ascii_equal_fold(name, "via")) {
      if (p.via_count == kMaxFastVias || !via_value(value, p.via_count == 0, p)) return std::nullopt;
      p.vias[p.via_count++] = value;
    } else if (ascii_equal_fold(name, "from")) {
      std::string_view tag;
      if (!once(Field::from) || !name_addr(value, tag) || tag.empty()) return std::nullopt;
      p.from = value;
    } else if (ascii_equal_fold(name, "to")) {
      std::string_view tag;
      if (!once(Field::to) || !name_addr(value, tag) || !tag.empty()) return std::nullopt;
      p.to = value;
    } else if (ascii_equal_fold(name, "call-id")) {
      if (!once(Field::call_id) || value.empty() || value.size() > 256 ||
          value.find_first_of(" \t") != std::string_view::npos)
        return std::nullopt;
      p.call_id = value;
    } else if (ascii_equal_fold(name, "cseq")) {
      std::size_t sp = value.find_first_of(" \t");
      if (!once(Field::cseq) || sp == std::string_view::npos || trim_blanks(value.substr(sp)) != "PUBLISH")
        return std::nullopt;
      auto n = digits(value.substr(0, sp), 10);
      if (!n || *n > 0x7fffffffu) return std::nullopt;  // RFC 3261 §8.1.1.5: below 2**31
      p.cseq = static_cast<std::uint32_t>(*n);
    } else if (ascii_equal_fold(name, "event")) {
      if (!once(Field::event) || !ascii_equal_fold(value, "presence")) return std::nullopt;
    } else if (ascii_equal_fold(name, "content-type")) {
      if (!once(Field::content_type) || !ascii_equal_fold(value, "application/pidf+xml")) return std::nullopt;
      pidf = true;
    } else if (ascii_equal_fold(name, "content-length")) {
      auto n = digits(value, 5);
      if (!once(Field::content_length) || !n) return std::nullopt;
      content_length = *n;
    } else if (ascii_equal_fold(name, "authorization")) {
      if (!once(Field::authorization) || value.empty() || value.size() > 2048) return std::nullopt;
      p.authorization = value;
    } else if (ascii_equal_fold(name, "sip-if-match")) {
      if (!once(Field::if_match) || value.size() > kMaxFastIfMatch || !is_token(value)) return std::nullopt;
      p.if_match = value;
    } else if (ascii_equal_fold(name, "expires")) {
      auto n = digits(value, 10);
      if (!once(Field::expires) || !n || *n > 0xffffffffu) return std::nullopt;
      p.expires = static_cast<std::uint32_t>(*n);
    } else if (ascii_equal_fold(name, "max-forwards")) {
      if (!once(Field::max_forwards) || !digits(value, 3)) return std::nullopt;
    } else if (ascii_equal_fold(name, "require")) {
      return std::nullopt;  // an extension: libre's path
    }
  }
  for (Field f : {Field::from, Field::to, Field::call_id, Field::cseq, Field::event, Field::content_length,
                  Field::authorization})
    if (!seen[static_cast<std::size_t>(f)]) return std::nullopt;
  if (p.via_count == 0) return std::nullopt;
  p.body = d.substr(pos);
  if (p.body.size() != content_length) return std::nullopt;  // RFC 3261 §18.3: libre decides
  if (!p.body.empty() && !pidf) return std::nullopt;         // 415 is libre's
  return p;
}

std::string publish_transaction_key(const FastPublish& p) {
  std::string k;
  k.reserve(p.branch.size() + 1 + p.sent_by.size());
  k.append(p.branch).append(1, '\0').append(p.sent_by);
  return k;
}

std::string render_publish_echo(const FastPublish& p, std::string_view to_tag, std::string_view src_ip,
                                std::uint16_t src_port) {
  std::string out;
  out.reserve(256 + p.from.size() + p.to.size() + p.call_id.size() + p.vias[0].size());
  for (std::size_t i = 0; i < p.via_count; ++i) {
    out += "Via: ";
    std::string_view v = p.vias[i];
    if (i == 0) {
      // RFC 3581 §4: rport gets the source port, and received is added with it; RFC 3261
      // §18.2.1: received when the sent-by host is not the source address.
      if (p.rport_end) {
        out.append(v.substr(0, p.rport_end)).append("=").append(std::to_string(src_port));
        out.append(v.substr(p.rport_end));
      } else {
        out.append(v);
      }
      if (p.rport_end || p.sent_by_host != src_ip) {
        out += ";received=";
        out += src_ip;
      }
    } else {
      out.append(v);
    }
    out += "\r\n";
  }
  out.append("From: ").append(p.from).append("\r\nTo: ").append(p.to);
  if (!to_tag.empty()) out.append(";tag=").append(to_tag);
  out.append("\r\nCall-ID: ").append(p.call_id);
  out.append("\r\nCSeq: ").append(std::to_string(p.cseq)).append(" PUBLISH\r\n");
  return out;
}

std::optional<std::string> render_publish_response(std::uint16_t code, std::string_view reason,
                                                   std::string_view echo, std::string_view headers) {
  if (code < 100 || code > 699 ||
      reason.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
    return std::nullopt;
  if (headers.find('\0') != std::string_view::npos || headers.find("\r\n\r\n") != std::string_view::npos ||
      (!headers.empty() && (headers.size() < 2 || headers.substr(headers.size() - 2) != "\r\n")) ||
      headers.substr(0, 2) == "\r\n")
    return std::nullopt;
  std::string out;
  out.reserve(32 + reason.size() + echo.size() + headers.size());
  out.append("SIP/2.0 ").append(std::to_string(code)).append(" ").append(reason).append("\r\n");
  out.append(echo).append(headers).append("Content-Length: 0\r\n\r\n");
  return out;
}

}  // namespace parley::protocols::sip

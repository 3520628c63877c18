#include "protocols/sip/notify_wire.hpp"

#include <charconv>

#include "protocols/common/ascii.hpp"

namespace parley::protocols::sip {

namespace {

// The branch parameter of the first via-parm in a Via header value (RFC 3261 §20.42).
std::optional<std::string_view> branch_of(std::string_view via) {
  via = via.substr(0, via.find(','));  // the first via-parm only
  std::size_t semi = via.find(';');
  while (semi != std::string_view::npos) {
    via.remove_prefix(semi + 1);
    semi = via.find(';');
    std::string_view param = via.substr(0, semi);
    std::size_t eq = param.find('=');
    if (eq != std::string_view::npos && ascii_equal_fold(trim_blanks(param.substr(0, eq)), "branch")) {
      auto v = trim_blanks(param.substr(eq + 1));
      if (v.empty()) return std::nullopt;
      return v;
    }
  }
  return std::nullopt;
}

bool clean(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

std::optional<MinimalResponse> parse_minimal_response(std::string_view d) {
  if (d.size() > kMaxFastResponse || d.size() < 12 || d.substr(0, 8) != "SIP/2.0 ") return std::nullopt;
  MinimalResponse r;
  // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF (RFC 3261 §7.2)
  for (std::size_t i = 8; i < 11; ++i) {
    if (d[i] < '0' || d[i] > '9') return std::nullopt;
    r.status = static_cast<std::uint16_t>(r.status * 10 + (d[i] - '0'));
  }
  if (r.status < 100 || r.status > 699 || (d[11] != ' ' && d[11] != '\r')) return std::nullopt;
  std::size_t eol = d.find("\r\n");
  if (eol == std::string_view::npos) return std::nullopt;
  std::size_t pos = eol + 2;
  bool have_via = false, have_cseq = false;
  while (true) {
    eol = d.find("\r\n", pos);
    if (eol == std::string_view::npos) return std::nullopt;  // no blank line: not a whole header
    std::string_view line = d.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) break;
    if (is_blank(line.front())) return std::nullopt;  // folded: libre's problem
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view name = trim_blanks(line.substr(0, colon)), value = trim_blanks(line.substr(colon + 1));
    if (!have_via && (ascii_equal_fold(name, "via") || ascii_equal_fold(name, "v"))) {
      auto b = branch_of(value);
      if (!b) return std::nullopt;
      r.branch = *b;
      have_via = true;
    } else if (ascii_equal_fold(name, "cseq")) {
      if (have_cseq) return std::nullopt;
      std::size_t i = 0;
      while (i < value.size() && value[i] >= '0' && value[i] <= '9') ++i;
      if (i == 0 || i > 10) return std::nullopt;
      std::uint64_t n = 0;
      std::from_chars(value.data(), value.data() + i, n);
      if (n > 0x7fffffffu) return std::nullopt;  // RFC 3261 §8.1.1.5: below 2**31
      r.cseq = static_cast<std::uint32_t>(n);
      r.cseq_method = trim_blanks(value.substr(i));
      if (r.cseq_method.empty() || i == value.size() || !is_blank(value[i])) return std::nullopt;
      if (r.cseq_method.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
      have_cseq = true;
    }
  }
  if (!have_via || !have_cseq) return std::nullopt;
  return r;
}

std::optional<std::uint64_t> fast_branch_key(std::string_view branch) {
  if (branch.size() != kFastBranchPrefix.size() + 16 ||
      branch.substr(0, kFastBranchPrefix.size()) != kFastBranchPrefix)
    return std::nullopt;
  std::uint64_t k = 0;
  for (char c : branch.substr(kFastBranchPrefix.size())) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return std::nullopt;
    k = k << 4 | static_cast<std::uint64_t>(v);
  }
  return k;
}

std::optional<NotifyHead> render_notify_head(const NotifyDialog& d) {
  for (std::string_view f : {std::string_view(d.request_uri), std::string_view(d.via_host),
                             std::string_view(d.from), std::string_view(d.to), std::string_view(d.call_id),
                             std::string_view(d.contact), std::string_view(d.event)})
    if (f.empty() || !clean(f)) return std::nullopt;
  for (const auto& r : d.route)
    if (r.empty() || !clean(r)) return std::nullopt;
  std::size_t size = 120 + d.request_uri.size() + d.via_host.size() + d.from.size() + d.to.size() +
                     d.call_id.size() + d.contact.size() + d.event.size();
  for (const auto& r : d.route) size += r.size() + 9;
  if (size > kMaxNotifyHead) return std::nullopt;
  NotifyHead h;
  h.before_branch.reserve(48 + d.request_uri.size() + d.via_host.size());
  h.before_branch.append("NOTIFY ").append(d.request_uri).append(" SIP/2.0\r\nVia: SIP/2.0/UDP ");
  h.before_branch.append(d.via_host).append(";branch=").append(kFastBranchPrefix);
  std::string& a = h.after_branch;
  a.reserve(size);
  a.append(";rport\r\nMax-Forwards: 70\r\n");
  for (const auto& r : d.route) a.append("Route: ").append(r).append("\r\n");
  a.append("From: ").append(d.from).append("\r\nTo: ").append(d.to);
  a.append("\r\nCall-ID: ").append(d.call_id).append("\r\nContact: ").append(d.contact);
  a.append("\r\nEvent: ").append(d.event).append("\r\n");
  return h;
}

void render_notify(std::string& out, const NotifyHead& h, std::uint64_t branch_key, std::uint32_t cseq,
                   std::string_view state, std::string_view content_type, std::string_view body) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.clear();
  out.reserve(h.before_branch.size() + h.after_branch.size() + state.size() + content_type.size() +
              body.size() + 120);
  out.append(h.before_branch);
  char hex[16];
  for (int i = 15; i >= 0; --i, branch_key >>= 4) hex[i] = kHex[branch_key & 0xf];
  out.append(hex, sizeof hex);
  out.append(h.after_branch);
  char num[24];
  auto [end, ec] = std::to_chars(num, num + sizeof num, cseq);
  (void)ec;
  out.append("CSeq: ").append(num, end).append(" NOTIFY\r\nSubscription-State: ").append(state);
  if (!body.empty() && !content_type.empty()) out.append("\r\nContent-Type: ").append(content_type);
  auto [end2, ec2] = std::to_chars(num, num + sizeof num, body.size());
  (void)ec2;
  out.append("\r\nContent-Length: ").append(num, end2).append("\r\n\r\n").append(body);
}

}  // namespace parley::protocols::sip

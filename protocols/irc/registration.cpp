#include "protocols/irc/registration.hpp"

#include <algorithm>

#include "protocols/common/ascii.hpp"
#include "protocols/common/sasl.hpp"
#include "protocols/irc/text.hpp"

namespace parley::protocols::irc {

AuthenticateReader::Status AuthenticateReader::feed(std::string_view arg) {
  // A line longer than a chunk is no AUTHENTICATE line at all (sasl-3.1: 905).
  if (arg.size() > kSaslChunk) return Status::too_long;
  if (arg != "+") buf_.append(arg);
  if (buf_.size() > kMaxSaslMessage) return Status::too_long;
  return arg.size() == kSaslChunk ? Status::more : Status::complete;
}

std::string AuthenticateReader::take() {
  std::string s = std::move(buf_);
  buf_.clear();
  return s;
}

void append_authenticate(std::string& out, std::string_view raw) {
  std::string b64 = sasl::base64_encode(raw);
  if (b64.empty()) {
    out += "AUTHENTICATE +\r\n";
    return;
  }
  for (std::size_t i = 0; i < b64.size(); i += kSaslChunk) {
    out += "AUTHENTICATE ";
    out.append(b64, i, kSaslChunk);
    out += "\r\n";
  }
  if (b64.size() % kSaslChunk == 0) out += "AUTHENTICATE +\r\n";
}

bool ready_to_register(const Registration& r, bool has_nick, bool has_user) {
  return has_nick && has_user && !r.cap_negotiating;
}

namespace {

SaslMechanism mechanism_named(std::string_view mech) {
  if (mech == "PLAIN") return SaslMechanism::plain;
  if (mech == "SCRAM-SHA-256") return SaslMechanism::scram_sha_256;
  return SaslMechanism::none;
}

std::uint16_t cap_version_of(std::string_view v) {
  int n = 0;
  for (char ch : v)
    if (ch >= '0' && ch <= '9') n = std::min(n * 10 + (ch - '0'), 65535);
  return static_cast<std::uint16_t>(n);
}

}  // namespace

bool on_cap(Registration& r, const Message& m, bool registered, std::string_view server,
            std::string_view nick, std::string& out) {
  std::string sub = ascii_upper(m.param(0));
  if (sub == "LS") {
    if (!registered) r.cap_negotiating = true;
    std::uint16_t v = cap_version_of(m.param(1));
    r.cap_version = std::max(r.cap_version, v);
    if (v >= 302) r.caps |= cap_cap_notify;  // capability-negotiation: implicit with 302
    append_cap_reply(out, server, nick, "LS", cap_ls_list(r.cap_version), r.cap_version);
    return false;
  }
  if (sub == "REQ") {
    if (!registered) r.cap_negotiating = true;
    // All or nothing: one unknown name, or dropping cap-notify under 302, NAKs the lot.
    std::uint32_t add = 0, del = 0;
    bool ok = m.nparams >= 2;
    std::string_view list = m.param(1);
    while (ok && !list.empty()) {
      auto sp = list.find(' ');
      std::string_view tok = list.substr(0, sp);
      list = sp == std::string_view::npos ? std::string_view{} : list.substr(sp + 1);
      if (tok.empty()) continue;
      bool minus = tok.front() == '-';
      if (minus) tok.remove_prefix(1);
      const CapInfo* found = find_cap(tok);
      if (!found || (minus && found->bit == cap_cap_notify && r.cap_version >= 302)) {
        ok = false;
        break;
      }
      (minus ? del : add) |= found->bit;
    }
    if (ok) r.caps = (r.caps | add) & ~del;
    LineWriter(out)
        .prefix(server)
        .command("CAP")
        .param(nick)
        .param(ok ? "ACK" : "NAK")
        .trailing(m.param(1))
        .end();
    return false;
  }
  if (sub == "LIST") {
    std::string list;
    for (const auto& c : kCaps)
      if (r.has(c.bit)) {
        if (!list.empty()) list += ' ';
        list += c.name;
      }
    append_cap_reply(out, server, nick, "LIST", list, r.cap_version);
    return false;
  }
  if (sub == "END") {
    if (registered) return false;
    r.cap_negotiating = false;
    return true;
  }
  LineWriter(out)
      .prefix(server)
      .numeric(410)
      .param(nick)
      .param(m.param(0))
      .trailing("Invalid CAP command")
      .end();
  return false;
}

Reply on_pass(Registration& r, const Message& m, bool registered) {
  if (registered) return {462, {}, "You may not reregister"};
  r.pass = std::string(m.param(0));
  return {};
}

Reply check_nick(const Message& m, std::size_t max_len) {
  if (m.nparams < 1 || m.param(0).empty()) return {431, {}, "No nickname given"};
  if (!is_valid_nick(m.param(0), max_len)) return {432, m.param(0), "Erroneous nickname"};
  return {};
}

Reply on_user(const Message& m, bool registered, std::string& user, std::string& realname) {
  if (registered) return {462, {}, "You may not reregister"};
  // Modern IRC "USER message": an empty username or realname is refused with 461.
  if (m.param(0).empty() || m.param(3).empty()) return {461, "USER", "Not enough parameters"};
  std::string u(m.param(0).substr(0, 18));
  for (auto& ch : u)
    if (ch == '@' || ch == '!' || ch == ':') ch = '_';
  user = "~" + u;
  realname = std::string(m.param(3));
  return {};
}

SaslStep on_authenticate(Registration& r, std::string_view arg, bool logged_in, bool registered) {
  using K = SaslStep::Kind;
  if (!r.has(cap_sasl)) return {K::reply, {904, {}, kSaslFailedText}, false, {}};
  // ERR_SASLALREADY whenever an account is logged in, before or after registration.
  if (logged_in) return {K::reply, {907, {}, "You have already authenticated using SASL"}, false, {}};
  // sasl-3.2 lets servers refuse authentication after registration: 462 says so (an
  // account cannot change under a live session here).
  if (registered) return {K::reply, {462, {}, "You may not reregister"}, false, {}};
  if (arg == "*") {
    r.end_sasl();
    return {K::abort, {906, {}, "SASL authentication aborted"}, false, {}};
  }
  if (!r.sasl_active()) {
    SaslMechanism mech = mechanism_named(ascii_upper(arg));
    if (mech == SaslMechanism::none) return {K::fail, {904, {}, kSaslFailedText}, true, {}};
    r.sasl_mech = mech;
    r.sasl_in.reset();
    return {K::start, {}, false, {}};
  }
  switch (r.sasl_in.feed(arg)) {
    case AuthenticateReader::Status::too_long:
      r.end_sasl();
      return {K::fail, {905, {}, kSaslTooLongText}, false, {}};
    case AuthenticateReader::Status::more:
      return {K::more, {}, false, {}};
    case AuthenticateReader::Status::complete:
      break;
  }
  return {K::payload, {}, false, r.sasl_in.take()};
}

}  // namespace parley::protocols::irc

#include "protocols/irc/client_registration.hpp"

#include <algorithm>

#include "protocols/common/ascii.hpp"
#include "protocols/irc/text.hpp"

namespace parley::protocols::irc {

namespace {
bool is(const Message& m, std::string_view cmd) { return ascii_equal_fold(m.command, cmd); }
bool is_sasl_numeric(std::string_view c) {
  return c.size() == 3 && c[0] == '9' && c[1] == '0' && c[2] >= '0' && c[2] <= '8';
}
}  // namespace

ClientRegistration::ClientRegistration(ClientIdentity id) : id_(std::move(id)), cap_(id_.caps) {
  if (id_.nicks.empty()) id_.nicks.push_back("parley");
  // No SASL credentials: do not ask for the capability, or CAP END would wait for nothing.
  if (id_.sasl_user.empty()) {
    std::vector<std::string> caps;
    for (auto& c : id_.caps)
      if (c != "sasl") caps.push_back(c);
    cap_ = CapNegotiator(std::move(caps));
  }
}
ClientRegistration::~ClientRegistration() = default;
ClientRegistration::ClientRegistration(ClientRegistration&&) noexcept = default;
ClientRegistration& ClientRegistration::operator=(ClientRegistration&&) noexcept = default;

std::string webirc_line(const ClientIdentity::Webirc& w) {
  if (w.password.empty()) return {};
  auto colon_safe = [](const std::string& v) { return !v.empty() && v.front() == ':' ? "0" + v : v; };
  const std::string host = colon_safe(w.hostname), ip = colon_safe(w.ip);
  for (const std::string* v : {&w.password, &w.gateway, &host, &ip})
    if (v->empty() || v->size() > 255 || v->front() == ':' ||
        v->find_first_of(std::string_view(" \r\n\0", 4)) != std::string::npos)
      return {};
  std::string out;
  LineWriter(out).command("WEBIRC").param(w.password).param(w.gateway).param(host).param(ip).end();
  return out;
}

void ClientRegistration::start(std::string& out) {
  phase_ = Phase::registering;
  out += webirc_line(id_.webirc);  // before anything else, CAP included
  cap_.start(out);
  // The caller's strings come from config and XMPP nicks: never let one carry a line break.
  auto clean = [](std::string_view s) {
    std::string r;
    for (char c : s)
      if (c != '\r' && c != '\n' && c != '\0') r.push_back(c);
    return r;
  };
  if (!id_.password.empty()) LineWriter(out).command("PASS").trailing(clean(id_.password)).end();
  nick_ = clean(id_.nicks.front());
  LineWriter(out).command("NICK").param(nick_).end();
  std::string user = clean(id_.user);
  for (char& c : user)
    if (c == ' ' || c == ':') c = '_';
  LineWriter(out)
      .command("USER")
      .param(user.empty() ? "parley" : user)
      .param("0")
      .param("*")
      .trailing(clean(id_.realname))
      .end();
}

void ClientRegistration::fail(std::string why) {
  phase_ = Phase::failed;
  error_ = std::move(why);
}

void ClientRegistration::next_nick(const Message& refusal, std::string& out) {
  ++attempt_;
  if (attempt_ >= kMaxNickAttempts) return fail("no nick accepted (last tried: " + nick_ + ")");
  tried_.push_back(nick_);
  auto tried = [&](std::string_view n) {
    return std::any_of(tried_.begin(), tried_.end(), [&](const std::string& t) { return equal_fold(t, n); });
  };
  std::string next;
  if (attempt_ < id_.nicks.size()) {
    next = id_.nicks[attempt_];
  } else {
    // The refused nick as the server names it (second parameter): a server that cuts a nick
    // to its NICKLEN (Solanum, ratbox) names the cut one, and would cut a suffix off again.
    // Only ours or a beginning of it (one cut to NICKLEN): "433 * :text" names no nick, and
    // any other nick is not the one refused.
    std::string_view seen = refusal.nparams >= 3 ? refusal.param(1) : std::string_view(nick_);
    if (seen.empty() || seen.size() > nick_.size() ||
        !equal_fold(seen, std::string_view(nick_).substr(0, seen.size())))
      seen = nick_;
    if (seen.size() < nick_.size()) nick_limit_ = seen.size();  // ours was cut: that is its NICKLEN
    // 432 for a long nick (ngircd refuses what passes its NICKLEN): nine characters are what
    // every server takes (RFC 2812 §1.2.1). Before 001 there is no ISUPPORT NICKLEN to read.
    if (is(refusal, "432") && seen.size() > kShortNick && (nick_limit_ == 0 || nick_limit_ > kShortNick))
      nick_limit_ = kShortNick;
    std::string base(seen.substr(0, nick_limit_ ? nick_limit_ : seen.size()));
    if (nick_limit_ == 0 || base.size() < nick_limit_)
      next = base + '_';
    else if (!tried(base))
      next = base;
    // Taken in every form tried: the end of the nick gives way to the attempt's number.
    if (next.empty() || tried(next)) {
      const std::string n = std::to_string(attempt_);
      next = base.substr(0, base.size() > n.size() ? base.size() - n.size() : 1) + n;
    }
  }
  nick_ = std::move(next);
  LineWriter(out).command("NICK").param(nick_).end();
}

ClientRegistration::Event ClientRegistration::on_message(const Message& m, std::string& out) {
  if (phase_ == Phase::failed || phase_ == Phase::idle) return Event::none;
  if (is(m, "PING")) {
    LineWriter(out).command("PONG").trailing(m.param(0)).end();
    return Event::none;
  }
  if (is(m, "ERROR")) {
    fail(std::string(m.param(0)));
    return Event::failed;
  }
  if (is(m, "CAP") || ((is(m, "410") || is(m, "421")) && ascii_equal_fold(m.param(1), "CAP"))) {
    auto ev = cap_.on_message(m, out);
    if (ev == CapNegotiator::Event::sasl_ready) {
      std::string mech = choose_mechanism(cap_.offered("sasl").value_or(""), {"SCRAM-SHA-256", "PLAIN"});
      if (mech.empty()) {
        sasl_error_ = "the server offers no SASL mechanism Parley speaks (" +
                      std::string(cap_.offered("sasl").value_or("")) + ")";
        cap_.end(out);
      } else {
        sasl_ = std::make_unique<SaslClient>(mech, id_.sasl_user, id_.sasl_password);
        sasl_->start(out);
      }
    }
    return Event::none;
  }
  if (sasl_ && sasl_->status() == SaslClient::Status::running &&
      (is(m, "AUTHENTICATE") || is_sasl_numeric(m.command))) {
    const auto status = sasl_->on_message(m, out);
    if (status == SaslClient::Status::running) return Event::none;
    using S = SaslClient::Status;
    // sasl-3.1: a 904 lets the client try another mechanism (Atheme refuses SCRAM for an
    // account whose stored hash cannot do it, and says which it takes in 908): PLAIN after
    // SCRAM-SHA-256, once. Not after a SCRAM server that did not prove itself (903 unproven).
    if (status == S::failure && sasl_->code() == 904 && sasl_->mechanism() == "SCRAM-SHA-256") {
      const std::string offered =
          sasl_->mechanisms().empty() ? std::string(cap_.offered("sasl").value_or("")) : sasl_->mechanisms();
      if (!choose_mechanism(offered, {"PLAIN"}).empty()) {
        sasl_ = std::make_unique<SaslClient>("PLAIN", id_.sasl_user, id_.sasl_password);
        sasl_->start(out);
        return Event::none;
      }
    }
    if (status != S::success && status != S::already) {
      if (!is_sasl_numeric(m.command))  // SaslClient aborted the exchange
        sasl_error_ =
            "the server's SASL exchange failed (a malformed message, or a SCRAM server "
            "that did not prove it knows the password)";
      else if (sasl_->code() == 903)
        sasl_error_ = "the server did not prove that it knows the password (SCRAM)";
      else
        sasl_error_ = std::string(m.command) + " " + std::string(m.nparams ? m.param(m.nparams - 1) : "");
    }
    cap_.end(out);  // sasl-3.1: END either way
    return Event::none;
  }
  if (is(m, "005")) {
    isupport_.apply(m);
    return Event::none;
  }
  if (phase_ == Phase::registering) {
    if (is(m, "001")) {
      if (!m.param(0).empty()) nick_ = std::string(m.param(0));
      // Credentials given and never used: the server offers no SASL (or no CAP at all).
      if (!id_.sasl_user.empty() && sasl_error_.empty()) {
        if (!sasl_)
          sasl_error_ = cap_.offered("sasl") ? "the server refused the sasl capability"
                                             : "the server does not offer SASL";
        else if (sasl_->status() == SaslClient::Status::running)
          sasl_error_ = "the server registered us before SASL ended";
      }
      phase_ = Phase::registered;
      return Event::registered;
    }
    // ERR_ERRONEUSNICKNAME, ERR_NICKNAMEINUSE, ERR_NICKCOLLISION, ERR_UNAVAILRESOURCE
    if (is(m, "432") || is(m, "433") || is(m, "436") || is(m, "437")) {
      next_nick(m, out);
      return phase_ == Phase::failed ? Event::failed : Event::none;
    }
    return Event::none;
  }
  // Registered: our own nick change (":old!u@h NICK new").
  if (is(m, "NICK") && m.nparams >= 1) {
    std::string_view who = m.prefix.substr(0, m.prefix.find('!'));
    if (equal_fold(who, nick_)) {
      nick_ = std::string(m.param(0));
      return Event::nick_changed;
    }
  }
  return Event::none;
}

}  // namespace parley::protocols::irc

#include "protocols/irc/cap_client.hpp"

#include <algorithm>

#include "protocols/common/ascii.hpp"
#include "protocols/common/sasl.hpp"

namespace parley::protocols::irc {

namespace {

// Calls f(token) for each space-separated token.
template <class F>
void for_each_token(std::string_view s, F&& f) {
  while (!s.empty()) {
    auto sp = s.find(' ');
    std::string_view tok = s.substr(0, sp);
    s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp + 1);
    if (!tok.empty()) f(tok);
  }
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void erase(std::vector<std::string>& v, std::string_view s) {
  v.erase(std::remove(v.begin(), v.end(), s), v.end());
}

// A server's capability lists are bounded like its lines; this bounds what many lines of
// CAP LS or NEW can make us keep.
constexpr std::size_t kMaxOffered = 256;

}  // namespace

CapNegotiator::CapNegotiator(std::vector<std::string> wanted) : wanted_(std::move(wanted)) {}

void CapNegotiator::start(std::string& out) {
  out += "CAP LS 302\r\n";
  phase_ = Phase::listing;
}

bool CapNegotiator::enabled(std::string_view cap) const { return contains(enabled_, cap); }

std::optional<std::string_view> CapNegotiator::offered(std::string_view cap) const {
  for (const auto& [name, value] : offered_)
    if (name == cap) return std::string_view(value);
  return std::nullopt;
}

void CapNegotiator::request(std::vector<std::string> names, std::string& out) {
  // Several REQ lines when the names do not fit one (each is ACKed or NAKed as a whole).
  std::string line;
  auto flush = [&] {
    if (line.empty()) return;
    out += "CAP REQ :" + line + "\r\n";
    line.clear();
  };
  for (auto& n : names) {
    if (line.size() + n.size() + 1 > 400) flush();
    if (!line.empty()) line += ' ';
    line += n;
    pending_.push_back(std::move(n));
  }
  flush();
}

CapNegotiator::Event CapNegotiator::after_answer(std::string& out) {
  if (!pending_.empty() || phase_ != Phase::requesting) return Event::none;
  if (enabled("sasl") && contains(wanted_, "sasl")) {
    phase_ = Phase::sasl;
    return Event::sasl_ready;
  }
  end(out);
  return Event::ended;
}

void CapNegotiator::end(std::string& out) {
  if (phase_ == Phase::done) return;
  out += "CAP END\r\n";
  phase_ = Phase::done;
}

CapNegotiator::Event CapNegotiator::on_message(const Message& m, std::string& out) {
  std::string cmd = ascii_upper(m.command);
  if (cmd == "421" || cmd == "410") {
    // 421 CAP: no capability negotiation at all; 410: a subcommand it refuses. Either way
    // there is nothing more to wait for.
    if (ascii_upper(m.param(1)) != "CAP" && cmd == "421") return Event::none;
    if (phase_ == Phase::done) return Event::none;
    if (cmd == "410") {
      end(out);
      return Event::ended;
    }
    phase_ = Phase::done;
    return Event::unsupported;
  }
  if (cmd != "CAP" || m.nparams < 3) return Event::none;
  std::string sub = ascii_upper(m.param(1));
  std::string_view list = m.param(m.nparams - 1);
  if (sub == "LS") {
    if (phase_ != Phase::listing) return Event::none;  // a late or unasked LS: ignore
    for_each_token(list, [&](std::string_view tok) {
      if (offered_.size() >= kMaxOffered) return;
      auto eq = tok.find('=');
      std::string name(tok.substr(0, eq));
      if (offered(name)) return;
      offered_.emplace_back(std::move(name),
                            eq == std::string_view::npos ? "" : std::string(tok.substr(eq + 1)));
    });
    // "CAP * LS * :..." : more lines follow (capability-negotiation, multiline replies).
    if (m.nparams >= 4 && m.param(2) == "*") return Event::none;
    std::vector<std::string> want;
    for (const auto& w : wanted_)
      if (offered(w) && !enabled(w)) want.push_back(w);
    phase_ = Phase::requesting;
    if (want.empty()) return after_answer(out);
    request(std::move(want), out);
    return Event::none;
  }
  if (sub == "ACK" || sub == "NAK") {
    bool ack = sub == "ACK";
    bool changed = false;
    for_each_token(list, [&](std::string_view tok) {
      bool minus = !tok.empty() && tok.front() == '-';
      std::string_view name = minus ? tok.substr(1) : tok;
      if (!contains(pending_, tok) && !contains(pending_, name)) return;  // never asked: ignore
      erase(pending_, tok);
      erase(pending_, name);
      if (!ack) return;
      changed = true;
      if (minus)
        erase(enabled_, name);
      else if (!enabled(name))
        enabled_.emplace_back(name);
    });
    if (phase_ == Phase::requesting) return after_answer(out);
    return changed ? Event::changed : Event::none;
  }
  if (sub == "NEW") {
    // cap-notify: newly offered; ask for the wanted ones (no END: negotiation is over or
    // still ends the usual way).
    std::vector<std::string> want;
    for_each_token(list, [&](std::string_view tok) {
      auto eq = tok.find('=');
      std::string name(tok.substr(0, eq));
      if (!offered(name) && offered_.size() < kMaxOffered)
        offered_.emplace_back(name, eq == std::string_view::npos ? "" : std::string(tok.substr(eq + 1)));
      if (contains(wanted_, name) && !enabled(name) && !contains(pending_, name)) want.push_back(name);
    });
    if (!want.empty()) request(std::move(want), out);
    return Event::none;
  }
  if (sub == "DEL") {
    bool changed = false;
    for_each_token(list, [&](std::string_view name) {
      offered_.erase(
          std::remove_if(offered_.begin(), offered_.end(), [&](const auto& p) { return p.first == name; }),
          offered_.end());
      if (enabled(name)) {
        erase(enabled_, name);
        changed = true;
      }
    });
    return changed ? Event::changed : Event::none;
  }
  return Event::none;  // LIST and anything newer
}

std::string choose_mechanism(std::string_view offered, std::initializer_list<std::string_view> preferred) {
  for (auto p : preferred) {
    if (offered.empty()) return std::string(p);
    std::string_view list = offered;
    while (!list.empty()) {
      auto comma = list.find(',');
      if (ascii_equal_fold(list.substr(0, comma), p)) return std::string(p);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    }
  }
  return {};
}

SaslClient::SaslClient(std::string mechanism, std::string authcid, std::string password, std::string authzid)
    : mech_(ascii_upper(mechanism)),
      authcid_(std::move(authcid)),
      password_(std::move(password)),
      authzid_(std::move(authzid)) {}

SaslClient::~SaslClient() = default;

void SaslClient::start(std::string& out) {
  out += "AUTHENTICATE " + mech_ + "\r\n";
  status_ = Status::running;
}

void SaslClient::abort(std::string& out) {
  out += "AUTHENTICATE *\r\n";
  status_ = Status::failure;
}

void SaslClient::respond(std::string_view data, std::string& out) {
  if (mech_ == "PLAIN") {
    // RFC 4616: one message, sent to the server's empty challenge.
    if (!data.empty()) return abort(out);
    return append_authenticate(out, sasl::plain_message(authzid_, authcid_, password_));
  }
  if (mech_ == "SCRAM-SHA-256") {
    if (!scram_) {
      if (!data.empty()) return abort(out);
      scram_ = std::make_unique<sasl::ScramClient>("SCRAM-SHA-256", authcid_, password_, authzid_);
      auto first = scram_->step("");
      if (first.result != sasl::ScramClient::Result::challenge) return abort(out);
      return append_authenticate(out, first.data);
    }
    if (verified_) return abort(out);  // nothing follows the server-final
    auto step = scram_->step(data);
    if (step.result == sasl::ScramClient::Result::challenge) return append_authenticate(out, step.data);
    if (step.result == sasl::ScramClient::Result::failure) return abort(out);
    verified_ = true;  // server-final verified: acknowledge it with an empty response
    return append_authenticate(out, "");
  }
  abort(out);
}

SaslClient::Status SaslClient::on_message(const Message& m, std::string& out) {
  if (status_ != Status::running) return status_;
  std::string cmd = ascii_upper(m.command);
  if (cmd == "AUTHENTICATE") {
    switch (in_.feed(m.param(0))) {
      case AuthenticateReader::Status::more:
        return status_;
      case AuthenticateReader::Status::too_long:
        abort(out);
        return status_;
      case AuthenticateReader::Status::complete:
        break;
    }
    auto raw = sasl::base64_decode(in_.take());
    if (!raw) {
      abort(out);
      return status_;
    }
    respond(*raw, out);
    return status_;
  }
  if (cmd.size() != 3 || cmd[0] != '9') return status_;
  code_ = (cmd[1] - '0') * 10 + (cmd[2] - '0') + 900;
  switch (code_) {
    case 900:
      account_ = std::string(m.param(2));
      break;  // <nick> <mask> <account> :text
    case 903:
      // SCRAM authenticates the server too: a success it did not prove is refused.
      status_ = (mech_ != "SCRAM-SHA-256" || verified_) ? Status::success : Status::failure;
      break;
    case 902:
    case 904:
    case 905:
      status_ = Status::failure;
      break;
    case 906:
      status_ = Status::aborted;
      break;
    case 907:
      status_ = Status::already;
      break;
    case 908:
      mechanisms_ = std::string(m.param(1));
      break;  // <nick> <mechs> :text
    default:
      break;
  }
  return status_;
}

}  // namespace parley::protocols::irc

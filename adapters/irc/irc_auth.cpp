// IRC authentication: SASL (IRCv3 sasl-3.1/3.2: PLAIN, SCRAM-SHA-256), PASS account
// logins and the connection password (irc_auth.hpp). Core strand, like IrcServer.
//
// Rules kept here (issue 9):
//   - a client's account is the one its mechanism verified, set in one place
//     (sasl_succeed, or the PASS check's own callback), never from a candidate field;
//   - password derivations run on the auth pool (adapters/common/auth.hpp); while one runs,
//     no further line of that client is handled (IrcClient::auth_pending);
//   - an unknown account costs what a known one does (decoy credentials);
//   - failed SASL attempts per connection are bounded (auth.max_failures_per_connection).
#include "adapters/irc/irc_auth.hpp"

#include <spdlog/spdlog.h>

#include "adapters/common/auth.hpp"
#include "adapters/irc/irc_server.hpp"
#include "core/core.hpp"
#include "protocols/common/sasl.hpp"
#include "protocols/irc/registration.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;
namespace sasl = protocols::sasl;

SaslExchange::SaslExchange() = default;
SaslExchange::~SaslExchange() = default;

namespace {

constexpr std::string_view kThrottledText =
    "SASL authentication failed: too many failed attempts, try again later";

}  // namespace

void IrcAuth::paused_check(IrcClient& c, const std::function<void(AuthDone)>& start,
                           std::function<void(IrcClient&, AuthResult)> then) {
  auto it = srv_.clients().find(&c);
  if (it == srv_.clients().end()) return;
  std::shared_ptr<IrcClient> keep = it->second;
  c.auth_pending = true;
  auto self = srv_.shared_from_this();  // keeps the server (and this) alive
  start([self, keep, then = std::move(then)](AuthResult r) {
    IrcClient& cl = *keep;
    if (cl.state == IrcClient::State::closed) return;
    cl.auth_pending = false;
    then(cl, r);
    // The lines that arrived meanwhile, now that the outcome is in place (then() may
    // have started another check: they wait for that one too).
    if (cl.state != IrcClient::State::closed && !cl.auth_pending && cl.conn) cl.conn->redeliver();
  });
}

void IrcAuth::sasl_fail(IrcClient& c, int code, std::string_view text, bool counts) {
  c.sasl.reset();
  c.reg.end_sasl();
  srv_.numeric(c, code, {}, text);
  if (counts) srv_.runtime().core.metrics().auth_failure(core::Protocol::irc);
  if (counts && ++c.auth_failures >= max_auth_failures(srv_.runtime())) {
    spdlog::info("irc: closing {} after {} failed authentications", c.host, c.auth_failures);
    srv_.close_link(c, "Too many failed authentications");
  }
}

void IrcAuth::sasl_succeed(IrcClient& c, const std::string& account) {
  c.sasl.reset();
  c.reg.end_sasl();
  if (account.empty() || !core::is_valid_local_name(account))
    return sasl_fail(c, 904, "SASL authentication failed");
  c.account = account;
  std::string mask = (c.nick.empty() ? "*" : c.nick) + "!" + (c.user.empty() ? "*" : c.user) + "@" + c.host;
  srv_.numeric(c, 900, {mask, account}, "You are now logged in as " + account);
  srv_.numeric(c, 903, {}, "SASL authentication successful");
  spdlog::info("irc: {} authenticated with SASL from {}", account, c.host);
}

void IrcAuth::send_sasl_data(IrcClient& c, std::string_view raw) {
  std::string lines;
  pi::append_authenticate(lines, raw);
  srv_.queue(c, lines);
}

void IrcAuth::authenticate(IrcClient& c, const pi::Message& m) {
  using K = pi::SaslStep::Kind;
  auto step = pi::on_authenticate(c.reg, m.param(0), !c.account.empty(), c.state == IrcClient::State::registered);
  switch (step.kind) {
    case K::reply:
      return srv_.numeric(c, step.reply.code, {}, step.reply.text);
    case K::abort: return sasl_fail(c, step.reply.code, step.reply.text, false);
    case K::fail:
      if (step.list_mechanisms) srv_.numeric(c, 908, {pi::kSaslMechanisms}, pi::kSaslMechsText);
      return sasl_fail(c, step.reply.code, step.reply.text);
    case K::start:
      c.sasl = std::make_unique<SaslExchange>();
      srv_.queue(c, "AUTHENTICATE +\r\n");
      return;
    case K::more: return;
    case K::payload: return sasl_step(c, step.payload);
  }
}

void IrcAuth::sasl_step(IrcClient& c, std::string_view data) {
  SaslExchange& x = *c.sasl;
  if (x.final_ack) {
    // The client acknowledged the server-final-message (RFC 5802 over IRC): x.user is the
    // account whose proof verified.
    std::string user = std::move(x.user);
    return sasl_succeed(c, user);
  }
  auto raw = sasl::base64_decode(data);
  if (!raw) return sasl_fail(c, 904, "SASL authentication failed");
  if (c.reg.sasl_mech == pi::SaslMechanism::plain) {
    auto creds = sasl::parse_plain(*raw);
    if (!creds) return sasl_fail(c, 904, "SASL authentication failed");
    std::string user = pi::casefold(creds->authcid);
    if (!creds->authzid.empty() && pi::casefold(creds->authzid) != user)
      return sasl_fail(c, 904, "SASL authentication failed");
    c.sasl.reset();
    c.reg.end_sasl();
    std::string host = c.host;
    return paused_check(
        c,
        [&](AuthDone done) {
          check_account_password(srv_.runtime(), host, user, std::move(creds->password), srv_.core_strand(),
                                 std::move(done));
        },
        [this, user](IrcClient& cl, AuthResult r) {
          if (r == AuthResult::ok) return sasl_succeed(cl, user);
          sasl_fail(cl, 904, r == AuthResult::throttled ? kThrottledText : "SASL authentication failed");
        });
  }
  // SCRAM-SHA-256 (RFC 5802, RFC 7677).
  if (!x.scram) {
    auto name = sasl::scram_username(*raw);
    auto authzid = sasl::scram_authzid(*raw);
    if (!name || !authzid) return sasl_fail(c, 904, "SASL authentication failed");
    std::string user = pi::casefold(*name);
    if (!authzid->empty() && pi::casefold(*authzid) != user)
      return sasl_fail(c, 904, "SASL authentication failed");
    std::string host = c.host;
    return paused_check(
        c,
        [&](AuthDone done) {
          start_scram(srv_.runtime(), host, user, core::ScramHash::sha256, srv_.core_strand(),
                      [done = std::move(done), &cl = c, first = std::move(*raw), user](
                          AuthResult r, core::Directory::LoginCredentials creds) {
                        // Still on the core strand; the exchange is set up before done()
                        // lets the client's next line in. cl is alive: done() checks the
                        // state first thing, and the client object outlives its state.
                        if (r == AuthResult::ok && cl.state != IrcClient::State::closed && cl.sasl) {
                          cl.sasl->user = user;
                          cl.sasl->known = creds.known;
                          cl.sasl->scram = std::make_unique<sasl::ScramServer>(
                              "SCRAM-SHA-256",
                              sasl::ScramSecrets{creds.creds.salt, creds.creds.iterations,
                                               creds.creds.stored_key, creds.creds.server_key});
                          auto step = cl.sasl->scram->step(first);
                          if (step.result == sasl::ScramServer::Result::challenge)
                            cl.sasl->challenge = std::move(step.data);
                          else
                            r = AuthResult::wrong;
                        }
                        done(r);
                      });
        },
        [this](IrcClient& cl, AuthResult r) {
          if (r == AuthResult::throttled) return sasl_fail(cl, 904, kThrottledText);
          if (r != AuthResult::ok || !cl.sasl || !cl.sasl->scram)
            return sasl_fail(cl, 904, "SASL authentication failed");
          std::string challenge = std::move(cl.sasl->challenge);
          cl.sasl->challenge.clear();
          send_sasl_data(cl, challenge);
        });
  }
  auto step = x.scram->step(*raw);
  if (step.result == sasl::ScramServer::Result::challenge) return send_sasl_data(c, step.data);
  if (step.result == sasl::ScramServer::Result::failure || !x.known) {
    // A wrong proof, or the decoy of an unknown account: the same answer.
    record_auth_failure(srv_.runtime(), c.host, x.user);
    return sasl_fail(c, 904, "SASL authentication failed");
  }
  send_sasl_data(c, step.data);  // server-final-message; the client answers "+"
  x.final_ack = true;
}

void IrcAuth::check_pass(IrcClient& c) {
  // irc.password (Modern IRC "PASS message"): a mismatch gets 464 and ERROR. It is the
  // only use of PASS then.
  if (!srv_.config().password.empty() && !c.connection_password_ok) {
    std::string given = std::move(c.reg.pass);
    c.reg.pass.clear();
    std::string host = c.host;
    return paused_check(
        c,
        [&](AuthDone done) {
          check_config_password(srv_.runtime(), host, "irc:password", srv_.config().password,
                                std::move(given), srv_.core_strand(), std::move(done));
        },
        [this](IrcClient& cl, AuthResult r) {
          if (r != AuthResult::ok) {
            srv_.numeric(cl, 464, {}, "Password incorrect");
            srv_.runtime().core.metrics().auth_failure(core::Protocol::irc);
            srv_.runtime().core.metrics().auth_failure(core::Protocol::irc);
            return srv_.close_link(
                cl, r == AuthResult::throttled ? "Too many failed logins, try again later" : "Bad password");
          }
          cl.connection_password_ok = true;
          srv_.try_register(cl);
        });
  }
  // PASS: "account:password" or "password" for the account named like the nick.
  std::string acct = pi::casefold(c.nick), pw = std::move(c.reg.pass);
  c.reg.pass.clear();
  if (auto colon = pw.find(':'); colon != std::string::npos) {
    acct = pi::casefold(pw.substr(0, colon));
    pw = pw.substr(colon + 1);
  }
  std::string host = c.host;
  paused_check(
      c,
      [&](AuthDone done) {
        check_account_password(srv_.runtime(), host, acct, std::move(pw), srv_.core_strand(),
                               std::move(done));
      },
      [this, acct](IrcClient& cl, AuthResult r) {
        if (r != AuthResult::ok) {
          srv_.numeric(cl, 464, {}, "Password incorrect");
          return srv_.close_link(
              cl, r == AuthResult::throttled ? "Too many failed logins, try again later" : "Bad password");
        }
        cl.account = acct;  // the account whose password was just verified
        spdlog::info("irc: {} authenticated with PASS from {}", acct, cl.host);
        srv_.try_register(cl);
      });
}

}  // namespace parley::adapters::irc

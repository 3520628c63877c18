// IRC authentication: SASL (IRCv3 sasl-3.1/3.2: PLAIN, SCRAM-SHA-256), PASS account
// logins and the connection password. Core strand, like the rest of IrcServer.
//
// Rules kept here (issue 9):
//   - a client's account is the one its mechanism verified, set in one place
//     (sasl_succeed, or the PASS check's own callback), never from a candidate field;
//   - password derivations run on the auth pool (adapters/common/auth.hpp); while one runs,
//     no further line of that client is handled (IrcClient::auth_pending);
//   - an unknown account costs what a known one does (decoy credentials);
//   - failed SASL attempts per connection are bounded (auth.max_failures_per_connection).
#include <spdlog/spdlog.h>

#include "adapters/common/auth.hpp"
#include "adapters/irc/irc_server.hpp"
#include "core/core.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/irc/text.hpp"
// The SCRAM server and SASL helpers are protocol-neutral (RFC 5802 / RFC 4616 on GNU SASL);
// they live with the XMPP codec, which needed them first.
#include "protocols/xmpp/sasl.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;
namespace px = protocols::xmpp;

SaslExchange::SaslExchange() = default;
SaslExchange::~SaslExchange() = default;

namespace {

constexpr std::string_view kThrottledText =
    "SASL authentication failed: too many failed attempts, try again later";

}  // namespace

void IrcServer::paused_check(IrcClient& c, const std::function<void(AuthDone)>& start,
                             std::function<void(IrcClient&, AuthResult)> then) {
  auto it = clients_.find(&c);
  if (it == clients_.end()) return;
  std::shared_ptr<IrcClient> keep = it->second;
  c.auth_pending = true;
  auto self = shared_from_this();
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

void IrcServer::sasl_fail(IrcClient& c, int code, std::string_view text, bool counts) {
  c.sasl.reset();
  numeric(c, code, {}, text);
  if (counts && ++c.auth_failures >= max_auth_failures(rt_)) {
    spdlog::info("irc: closing {} after {} failed authentications", c.host, c.auth_failures);
    close_link(c, "Too many failed authentications");
  }
}

void IrcServer::sasl_succeed(IrcClient& c, const std::string& account) {
  c.sasl.reset();
  if (account.empty() || !core::is_valid_local_name(account))
    return sasl_fail(c, 904, "SASL authentication failed");
  c.account = account;
  std::string mask = (c.nick.empty() ? "*" : c.nick) + "!" + (c.user.empty() ? "*" : c.user) + "@" + c.host;
  numeric(c, 900, {mask, account}, "You are now logged in as " + account);
  numeric(c, 903, {}, "SASL authentication successful");
  spdlog::info("irc: {} authenticated with SASL from {}", account, c.host);
}

void IrcServer::send_sasl_data(IrcClient& c, std::string_view raw) {
  // IRCv3 sasl-3.1: base64 in 400-byte lines; a last line of exactly 400 is followed by "+".
  std::string b64 = px::base64_encode(raw);
  if (b64.empty()) return queue(c, "AUTHENTICATE +\r\n");
  for (std::size_t i = 0; i < b64.size(); i += 400) queue(c, "AUTHENTICATE " + b64.substr(i, 400) + "\r\n");
  if (b64.size() % 400 == 0) queue(c, "AUTHENTICATE +\r\n");
}

void IrcServer::cmd_authenticate(IrcClient& c, const pi::Message& m) {
  std::string_view arg = m.param(0);
  if (!c.has(cap_sasl)) return numeric(c, 904, {}, "SASL authentication failed");
  // ERR_SASLALREADY whenever an account is logged in, before or after registration.
  if (!c.account.empty()) return numeric(c, 907, {}, "You have already authenticated using SASL");
  // IRCv3 sasl-3.2 lets servers refuse authentication after registration: 462 says so
  // (an account cannot change under a live session here).
  if (c.state == IrcClient::State::registered) return numeric(c, 462, {}, "You may not reregister");
  if (arg == "*") return sasl_fail(c, 906, "SASL authentication aborted", false);
  if (!c.sasl) {
    std::string mech = protocols::ascii_upper(arg);
    if (mech != "PLAIN" && mech != "SCRAM-SHA-256") {
      numeric(c, 908, {"PLAIN,SCRAM-SHA-256"}, "are available SASL mechanisms");
      return sasl_fail(c, 904, "SASL authentication failed");
    }
    c.sasl = std::make_unique<SaslExchange>();
    c.sasl->mech = mech;
    queue(c, "AUTHENTICATE +\r\n");
    return;
  }
  if (arg.size() > 400) return sasl_fail(c, 905, "SASL message too long");
  if (arg != "+") c.sasl->buf.append(arg);
  if (c.sasl->buf.size() > 8192) return sasl_fail(c, 905, "SASL message too long");
  if (arg.size() == 400) return;  // more chunks follow
  std::string data = std::move(c.sasl->buf);
  c.sasl->buf.clear();
  sasl_step(c, data);
}

void IrcServer::sasl_step(IrcClient& c, std::string_view data) {
  SaslExchange& x = *c.sasl;
  if (x.final_ack) {
    // The client acknowledged the server-final-message (RFC 5802 over IRC): x.user is the
    // account whose proof verified.
    std::string user = std::move(x.user);
    return sasl_succeed(c, user);
  }
  auto raw = px::base64_decode(data);
  if (!raw) return sasl_fail(c, 904, "SASL authentication failed");
  if (x.mech == "PLAIN") {
    auto creds = px::parse_plain(*raw);
    if (!creds) return sasl_fail(c, 904, "SASL authentication failed");
    std::string user = pi::casefold(creds->authcid);
    if (!creds->authzid.empty() && pi::casefold(creds->authzid) != user)
      return sasl_fail(c, 904, "SASL authentication failed");
    c.sasl.reset();
    std::string host = c.host;
    return paused_check(
        c,
        [&](AuthDone done) {
          check_account_password(rt_, host, user, std::move(creds->password), rt_.core_strand,
                                 std::move(done));
        },
        [this, user](IrcClient& cl, AuthResult r) {
          if (r == AuthResult::ok) return sasl_succeed(cl, user);
          sasl_fail(cl, 904, r == AuthResult::throttled ? kThrottledText : "SASL authentication failed");
        });
  }
  // SCRAM-SHA-256 (RFC 5802, RFC 7677).
  if (!x.scram) {
    auto name = px::scram_username(*raw);
    auto authzid = px::scram_authzid(*raw);
    if (!name || !authzid) return sasl_fail(c, 904, "SASL authentication failed");
    std::string user = pi::casefold(*name);
    if (!authzid->empty() && pi::casefold(*authzid) != user)
      return sasl_fail(c, 904, "SASL authentication failed");
    std::string host = c.host;
    return paused_check(
        c,
        [&](AuthDone done) {
          start_scram(rt_, host, user, core::ScramHash::sha256, rt_.core_strand,
                      [done = std::move(done), &cl = c, first = std::move(*raw), user](
                          AuthResult r, core::Directory::LoginCredentials creds) {
                        // Still on the core strand; the exchange is set up before done()
                        // lets the client's next line in. cl is alive: done() checks the
                        // state first thing, and the client object outlives its state.
                        if (r == AuthResult::ok && cl.state != IrcClient::State::closed && cl.sasl) {
                          cl.sasl->user = user;
                          cl.sasl->known = creds.known;
                          cl.sasl->scram = std::make_unique<px::ScramServer>(
                              "SCRAM-SHA-256",
                              px::ScramSecrets{creds.creds.salt, creds.creds.iterations,
                                               creds.creds.stored_key, creds.creds.server_key});
                          auto step = cl.sasl->scram->step(first);
                          if (step.result == px::ScramServer::Result::challenge)
                            cl.sasl->buf = std::move(step.data);
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
          std::string challenge = std::move(cl.sasl->buf);
          cl.sasl->buf.clear();
          send_sasl_data(cl, challenge);
        });
  }
  auto step = x.scram->step(*raw);
  if (step.result == px::ScramServer::Result::challenge) return send_sasl_data(c, step.data);
  if (step.result == px::ScramServer::Result::failure || !x.known) {
    // A wrong proof, or the decoy of an unknown account: the same answer.
    record_auth_failure(rt_, c.host, x.user);
    return sasl_fail(c, 904, "SASL authentication failed");
  }
  send_sasl_data(c, step.data);  // server-final-message; the client answers "+"
  x.final_ack = true;
}

void IrcServer::check_pass(IrcClient& c) {
  // irc.password (Modern IRC "PASS message"): a mismatch gets 464 and ERROR. It is the
  // only use of PASS then.
  if (!cfg_.password.empty() && !c.connection_password_ok) {
    std::string given = std::move(c.pass);
    c.pass.clear();
    std::string host = c.host;
    return paused_check(
        c,
        [&](AuthDone done) {
          check_config_password(rt_, host, "irc:password", cfg_.password, std::move(given), rt_.core_strand,
                                std::move(done));
        },
        [this](IrcClient& cl, AuthResult r) {
          if (r != AuthResult::ok) {
            numeric(cl, 464, {}, "Password incorrect");
            return close_link(
                cl, r == AuthResult::throttled ? "Too many failed logins, try again later" : "Bad password");
          }
          cl.connection_password_ok = true;
          try_register(cl);
        });
  }
  // PASS: "account:password" or "password" for the account named like the nick.
  std::string acct = pi::casefold(c.nick), pw = std::move(c.pass);
  c.pass.clear();
  if (auto colon = pw.find(':'); colon != std::string::npos) {
    acct = pi::casefold(pw.substr(0, colon));
    pw = pw.substr(colon + 1);
  }
  std::string host = c.host;
  paused_check(
      c,
      [&](AuthDone done) {
        check_account_password(rt_, host, acct, std::move(pw), rt_.core_strand, std::move(done));
      },
      [this, acct](IrcClient& cl, AuthResult r) {
        if (r != AuthResult::ok) {
          numeric(cl, 464, {}, "Password incorrect");
          return close_link(
              cl, r == AuthResult::throttled ? "Too many failed logins, try again later" : "Bad password");
        }
        cl.account = acct;  // the account whose password was just verified
        spdlog::info("irc: {} authenticated with PASS from {}", acct, cl.host);
        try_register(cl);
      });
}

}  // namespace parley::adapters::irc

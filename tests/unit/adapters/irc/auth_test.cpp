// IRC authentication against a real Core (MemoryStore); without an AuthService the
// password checks run inline, so each command's answer is there when send() returns.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <string>

#include "adapters/irc/irc_server.hpp"
#include "core/core.hpp"
#include "core/services/password_hash.hpp"
#include "core/store/memory_store.hpp"
#include "unit/fakes/adapter_runtime.hpp"

using namespace parley;
using adapters::irc::IrcClient;
using adapters::irc::IrcServer;

namespace {

struct AuthWorld : test::AdapterRuntime {
  std::shared_ptr<IrcServer> server;

  AuthWorld() {
    config::IrcConfig cfg;
    cfg.server_name = "irc.test";
    cfg.opers = {{"boss", core::hash_password("bosspw", 1000)}};
    server = std::make_shared<IrcServer>(rt, cfg);
    (void)core.directory().add("alice", "alicepw");
  }
  ~AuthWorld() { server->shutdown("end"); }

  std::shared_ptr<IrcClient> connect_sasl(const std::string& nick) {
    auto c = std::make_shared<IrcClient>(*server, nullptr, "127.0.0.1", false);
    server->attach(c);
    send(*c, "CAP REQ :sasl");
    send(*c, "NICK " + nick);
    send(*c, "USER " + nick + " 0 * :x");
    take(*c);
    return c;
  }
  void send(IrcClient& c, const std::string& line) {
    server->handle_line(c, line);
    server->flush();
  }
  static std::string take(IrcClient& c) {
    std::string s = std::move(c.out);
    c.out.clear();
    return s;
  }
};

bool has(const std::string& out, const std::string& needle) { return out.find(needle) != std::string::npos; }

std::string b64(std::string_view s) { return core::base64_encode(s); }

}  // namespace

TEST_CASE("irc auth: SASL failures are bounded per connection") {
  AuthWorld w;
  auto c = w.connect_sasl("g");
  for (int i = 0; i < 3; ++i) {
    w.send(*c, "AUTHENTICATE PLAIN");
    w.send(*c, "AUTHENTICATE " + b64(std::string("\0alice\0bad", 10)));
    CHECK(has(AuthWorld::take(*c), " 904 "));
    CHECK((c->state == IrcClient::State::closed) == (i == 2));
  }
}

TEST_CASE("irc auth: 906 aborts do not count, 907 once logged in") {
  AuthWorld w;
  auto c = w.connect_sasl("a");
  for (int i = 0; i < 5; ++i) {
    w.send(*c, "AUTHENTICATE PLAIN");
    w.send(*c, "AUTHENTICATE *");
    CHECK(has(AuthWorld::take(*c), " 906 "));
  }
  CHECK(c->state == IrcClient::State::registering);
  w.send(*c, "AUTHENTICATE PLAIN");
  w.send(*c, "AUTHENTICATE " + b64(std::string("\0alice\0alicepw", 14)));
  CHECK(has(AuthWorld::take(*c), " 903 "));
  CHECK(c->account == "alice");
  w.send(*c, "AUTHENTICATE PLAIN");
  CHECK(has(AuthWorld::take(*c), " 907 "));
  w.send(*c, "CAP END");
  CHECK(c->state == IrcClient::State::registered);
  w.send(*c, "AUTHENTICATE PLAIN");
  CHECK(has(AuthWorld::take(*c), " 907 "));
}

TEST_CASE("irc auth: SCRAM for an unknown user gets a challenge and fails at the proof") {
  AuthWorld w;
  auto c = w.connect_sasl("m");
  w.send(*c, "AUTHENTICATE SCRAM-SHA-256");
  CHECK(AuthWorld::take(*c) == "AUTHENTICATE +\r\n");
  w.send(*c, "AUTHENTICATE " + b64("n,,n=mallory,r=abcdefgh"));
  std::string out = AuthWorld::take(*c);
  REQUIRE(out.rfind("AUTHENTICATE ", 0) == 0);
  auto first = core::base64_decode(out.substr(13, out.find('\r') - 13));
  REQUIRE(first);
  CHECK(first->rfind("r=abcdefgh", 0) == 0);
  CHECK(has(*first, ",i=4096"));
  w.send(*c, "AUTHENTICATE " + b64("c=biws,r=" + first->substr(2, first->find(',') - 2) +
                                   ",p=" + b64(std::string(32, 'x'))));
  CHECK(has(AuthWorld::take(*c), " 904 "));
  CHECK(c->account.empty());
  // An authzid other than the user is refused before any lookup.
  w.send(*c, "AUTHENTICATE SCRAM-SHA-256");
  AuthWorld::take(*c);
  w.send(*c, "AUTHENTICATE " + b64("n,a=bob,n=alice,r=abcdefgh"));
  CHECK(has(AuthWorld::take(*c), " 904 "));
}

TEST_CASE("irc auth: OPER with a hashed password") {
  AuthWorld w;
  auto c = std::make_shared<IrcClient>(*w.server, nullptr, "127.0.0.1", false);
  w.server->attach(c);
  w.send(*c, "NICK ann");
  w.send(*c, "USER ann 0 * :Ann");
  AuthWorld::take(*c);
  w.send(*c, "OPER boss bosspW");
  CHECK(has(AuthWorld::take(*c), " 464 ann "));
  CHECK_FALSE(c->oper);
  w.send(*c, "OPER boss bosspw");
  CHECK(has(AuthWorld::take(*c), " 381 ann "));
  CHECK(c->oper);
}

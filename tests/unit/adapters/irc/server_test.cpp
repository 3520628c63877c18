// IRC server behaviour against a real Core with a MemoryStore: clients without sockets
// (their output stays in IrcClient::out) and a FakeSink standing in for another protocol.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <string>

#include "adapters/irc/irc_server.hpp"
#include "core/core.hpp"
#include "core/store/memory_store.hpp"
#include "unit/fakes/adapter_runtime.hpp"
#include "unit/fakes/fake_sink.hpp"

using namespace parley;
using adapters::irc::IrcClient;
using adapters::irc::IrcServer;

namespace {

struct World : test::AdapterRuntime {
  std::shared_ptr<IrcServer> server;

  explicit World(config::IrcConfig cfg = {}) {
    cfg.server_name = "irc.test";
    cfg.opers = {{"boss", "secret"}};
    server = std::make_shared<IrcServer>(rt, cfg);
    (void)core.directory().add("alice", "alicepw");
  }
  ~World() { server->shutdown("end"); }

  std::shared_ptr<IrcClient> connect() {
    auto c = std::make_shared<IrcClient>(*server, nullptr, "127.0.0.1", false);
    server->attach(c);
    return c;
  }
  std::shared_ptr<IrcClient> registered(const std::string& nick) {
    auto c = connect();
    send(*c, "NICK " + nick);
    send(*c, "USER " + nick + " 0 * :Real " + nick);
    REQUIRE(c->state == IrcClient::State::registered);
    c->out.clear();
    return c;
  }
  void send(IrcClient& c, const std::string& line) {
    server->handle_line(c, line);
    server->flush();
  }
  // Output since the last call.
  static std::string take(IrcClient& c) {
    std::string s = std::move(c.out);
    c.out.clear();
    return s;
  }
};

bool has(const std::string& out, const std::string& needle) { return out.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("irc server: registration sends 001-005, lusers and motd") {
  World w;
  auto c = w.connect();
  w.send(*c, "NICK Bob");
  CHECK(c->state == IrcClient::State::registering);
  w.send(*c, "USER bob 0 * :Bob B");
  auto out = World::take(*c);
  CHECK(has(out, ":irc.test 001 Bob :Welcome"));
  CHECK(has(out, " 002 Bob "));
  CHECK(has(out, " 003 Bob "));
  CHECK(has(out, " 004 Bob irc.test "));
  CHECK(has(out, "CASEMAPPING=ascii"));
  CHECK(has(out, "PREFIX=(ohv)@%+"));
  CHECK(has(out, "CHANMODES=b,k,l,imnst"));
  CHECK(has(out, "NICKLEN=30"));
  CHECK(has(out, " 375 Bob "));
  CHECK(has(out, " 376 Bob "));
  w.send(*c, "USER x 0 * :x");
  CHECK(has(World::take(*c), " 462 Bob "));
}

TEST_CASE("irc server: error numerics") {
  World w;
  auto c = w.connect();
  w.send(*c, "JOIN #a");
  CHECK(has(World::take(*c), " 451 * "));
  w.send(*c, "NICK 1bad");
  CHECK(has(World::take(*c), " 432 * 1bad "));
  w.send(*c, "NICK");
  CHECK(has(World::take(*c), " 431 "));
  w.send(*c, "NICK alice");  // an account's name, no PASS: refused when registering
  w.send(*c, "USER x 0 * :x");
  CHECK(has(World::take(*c), " 433 * alice "));
  CHECK(c->state == IrcClient::State::registering);
  auto a = w.registered("ann");
  w.send(*c, "NICK Ann");
  CHECK(has(World::take(*c), " 433 * Ann "));
  w.send(*a, "FOO bar");
  CHECK(has(World::take(*a), " 421 ann FOO "));
  w.send(*a, "JOIN");
  CHECK(has(World::take(*a), " 461 ann JOIN "));
  w.send(*a, "PRIVMSG");
  CHECK(has(World::take(*a), " 411 ann "));
  w.send(*a, "PRIVMSG nobody");
  CHECK(has(World::take(*a), " 412 ann "));
  w.send(*a, "PRIVMSG nobody :hi");
  CHECK(has(World::take(*a), " 401 ann nobody "));
  w.send(*a, "PRIVMSG #nowhere :hi");
  CHECK(has(World::take(*a), " 403 ann #nowhere "));
  w.send(*a, "PART #nowhere");
  CHECK(has(World::take(*a), " 403 ann #nowhere "));
  w.send(*a, "JOIN #bad#name!");  // Modern IRC: an invalid channel name is ERR_NOSUCHCHANNEL
  CHECK(has(World::take(*a), " 403 ann #bad#name! "));
  w.send(*a, "KILL x :y");
  CHECK(has(World::take(*a), " 481 ann "));
  w.send(*a, "OPER boss wrong");
  CHECK(has(World::take(*a), " 464 ann "));
  w.send(*a, "OPER nobody x");
  CHECK(has(World::take(*a), " 491 ann "));
  w.send(*a, "MODE someone");
  CHECK(has(World::take(*a), " 401 ann someone "));
  w.send(*a, "WHOWAS ghost");
  CHECK(has(World::take(*a), " 406 ann ghost "));
  // +n: outside the channel
  auto b = w.registered("bea");
  w.send(*b, "JOIN #dev");
  w.send(*a, "PRIVMSG #dev :hi");
  CHECK(has(World::take(*a), " 404 ann #dev "));
  w.send(*a, "TOPIC #dev :x");
  CHECK(has(World::take(*a), " 442 ann #dev "));
  w.send(*a, "JOIN #dev");
  World::take(*a);
  w.send(*a, "TOPIC #dev :x");
  CHECK(has(World::take(*a), " 482 ann #dev "));
  w.send(*a, "KICK #dev bea");
  CHECK(has(World::take(*a), " 482 ann #dev "));
  w.send(*b, "KICK #dev zed");
  CHECK(has(World::take(*b), " 441 bea zed #dev "));
  w.send(*b, "INVITE ann #dev");
  CHECK(has(World::take(*b), " 443 bea ann #dev "));
  w.send(*b, "MODE #dev +z");
  CHECK(has(World::take(*b), " 472 bea z "));
}

TEST_CASE("irc server: two clients talk in a channel - echo-message, names, topic, part, quit") {
  World w;
  auto a = w.registered("ann");
  auto b = w.registered("bea");
  w.send(*a, "JOIN #Dev");
  auto out = World::take(*a);
  CHECK(has(out, ":ann!~ann@127.0.0.1 JOIN #dev\r\n"));
  CHECK(has(out, " 353 ann = #dev :@ann\r\n"));
  CHECK(has(out, " 366 ann #dev "));
  w.send(*a, "TOPIC #dev :the topic");
  CHECK(has(World::take(*a), " TOPIC #dev :the topic"));
  w.send(*b, "JOIN #dev");
  out = World::take(*b);
  CHECK(has(out, " 332 bea #dev :the topic"));
  CHECK(has(out, " 333 bea #dev ann "));
  CHECK(has(out, "@ann"));
  CHECK(has(World::take(*a), ":bea!~bea@127.0.0.1 JOIN #dev"));
  w.send(*a, "PRIVMSG #dev :hello there");
  CHECK(World::take(*a).empty());  // no echo without echo-message
  CHECK(World::take(*b) == ":ann!~ann@127.0.0.1 PRIVMSG #dev :hello there\r\n");
  w.send(*b, "CAP REQ :echo-message server-time");
  World::take(*b);
  w.send(*b, "PRIVMSG #dev :\x01" "ACTION waves\x01");
  out = World::take(*b);
  CHECK(has(out, "@time="));
  CHECK(has(out, "PRIVMSG #dev :\x01" "ACTION waves\x01"));
  CHECK(has(World::take(*a), ":bea!~bea@127.0.0.1 PRIVMSG #dev :\x01" "ACTION waves\x01"));
  w.send(*a, "NOTICE bea :psst");
  CHECK(has(World::take(*b), ":ann!~ann@127.0.0.1 NOTICE bea :psst"));
  w.send(*a, "NICK anna");
  CHECK(has(World::take(*a), ":ann!~ann@127.0.0.1 NICK :anna"));
  CHECK(has(World::take(*b), ":ann!~ann@127.0.0.1 NICK :anna"));
  w.send(*b, "PART #dev :bye");
  CHECK(has(World::take(*a), ":bea!~bea@127.0.0.1 PART #dev :bye"));
  CHECK(has(World::take(*b), "PART #dev :bye"));
  w.send(*b, "JOIN #dev");
  World::take(*b);
  CHECK(has(World::take(*a), "JOIN"));
  w.send(*b, "QUIT :gone");
  CHECK(has(World::take(*a), ":bea!~bea@127.0.0.1 QUIT :Quit: gone"));
  CHECK(has(World::take(*b), "ERROR :Closing Link"));
  w.send(*a, "WHOWAS bea");
  CHECK(has(World::take(*a), " 314 anna bea ~bea 127.0.0.1 "));
}

TEST_CASE("irc server: channel modes, kick, invite, bans") {
  World w;
  auto a = w.registered("ann");
  auto b = w.registered("bea");
  w.send(*a, "JOIN #dev");
  w.send(*a, "MODE #dev +i");
  w.send(*b, "JOIN #dev");
  CHECK(has(World::take(*b), " 473 bea #dev "));
  w.send(*a, "MODE #dev -i+k key");
  auto out = World::take(*a);
  CHECK(has(out, "MODE #dev -i+k key"));
  w.send(*b, "JOIN #dev");
  CHECK(has(World::take(*b), " 475 bea #dev "));
  w.send(*b, "JOIN #dev key");
  CHECK(has(World::take(*b), "JOIN #dev"));
  w.send(*a, "MODE #dev");
  CHECK(has(World::take(*a), " 324 ann #dev +knt key"));
  w.send(*a, "MODE #dev +v bea");
  CHECK(has(World::take(*b), "MODE #dev +v bea"));
  w.send(*a, "NAMES #dev");
  CHECK(has(World::take(*a), "+bea"));
  w.send(*a, "KICK #dev bea :out");
  CHECK(has(World::take(*b), ":ann!~ann@127.0.0.1 KICK #dev bea :out"));
  w.send(*a, "MODE #dev +b bea!*@*");
  w.send(*a, "MODE #dev b");
  CHECK(has(World::take(*a), " 367 ann #dev bea!*@*"));
  w.send(*b, "JOIN #dev key");
  CHECK(has(World::take(*b), " 474 bea #dev "));
  w.send(*a, "MODE #dev -b+l bea!*@* 1");
  w.send(*b, "JOIN #dev key");
  CHECK(has(World::take(*b), " 471 bea #dev "));
  w.send(*a, "MODE #dev -l+i");
  w.send(*a, "INVITE bea #dev");
  CHECK(has(World::take(*a), " 341 ann bea #dev"));
  CHECK(has(World::take(*b), ":ann!~ann@127.0.0.1 INVITE bea #dev"));
  w.send(*b, "JOIN #dev key");
  CHECK(has(World::take(*b), "JOIN #dev"));
}

TEST_CASE("irc server: CAP negotiation, SASL PLAIN, PASS, guests") {
  World w;
  auto c = w.connect();
  w.send(*c, "CAP LS 302");
  auto out = World::take(*c);
  CHECK(has(out, "CAP * LS :"));
  CHECK(has(out, "sasl=PLAIN,SCRAM-SHA-256"));
  w.send(*c, "NICK alice");
  w.send(*c, "USER alice 0 * :Alice");
  CHECK(c->state == IrcClient::State::registering);  // waits for CAP END
  World::take(*c);
  w.send(*c, "CAP REQ :sasl bogus");
  CHECK(has(World::take(*c), "CAP alice NAK :sasl bogus"));
  w.send(*c, "CAP REQ :sasl account-tag");
  CHECK(has(World::take(*c), "CAP alice ACK :sasl account-tag"));
  w.send(*c, "AUTHENTICATE PLAIN");
  CHECK(World::take(*c) == "AUTHENTICATE +\r\n");
  w.send(*c, "AUTHENTICATE AGFsaWNlAHdyb25n");  // \0alice\0wrong
  CHECK(has(World::take(*c), " 904 "));
  w.send(*c, "AUTHENTICATE PLAIN");
  World::take(*c);
  w.send(*c, "AUTHENTICATE AGFsaWNlAGFsaWNlcHc=");  // \0alice\0alicepw
  out = World::take(*c);
  CHECK(has(out, " 900 alice alice!~alice@127.0.0.1 alice "));
  CHECK(has(out, " 903 "));
  w.send(*c, "CAP END");
  CHECK(c->state == IrcClient::State::registered);
  CHECK(c->account == "alice");
  w.send(*c, "CAP LIST");
  CHECK(has(World::take(*c), "CAP alice LIST :account-tag sasl"));

  // PASS account:password
  auto d = w.connect();
  w.send(*d, "PASS alice:alicepw");
  w.send(*d, "NICK al2");
  w.send(*d, "USER al 0 * :Al");
  CHECK(d->state == IrcClient::State::registered);
  CHECK(d->account == "alice");
  auto e = w.connect();
  w.send(*e, "PASS alice:nope");
  w.send(*e, "NICK al3");
  w.send(*e, "USER al 0 * :Al");
  out = World::take(*e);
  CHECK(has(out, " 464 "));
  CHECK(has(out, "ERROR :Closing Link"));

  // guests off
  config::IrcConfig cfg;
  cfg.guests = false;
  World w2(cfg);
  auto g = w2.connect();
  w2.send(*g, "NICK guest");
  w2.send(*g, "USER g 0 * :G");
  out = World::take(*g);
  CHECK(has(out, " 464 "));
  CHECK(g->state == IrcClient::State::closed);
}

TEST_CASE("irc server: another protocol's user in the room, WHOIS, direct messages, formatting") {
  World w;
  auto a = w.registered("ann");
  w.send(*a, "JOIN #dev");
  World::take(*a);
  test::FakeSink xsink;
  core::SessionOpen o;
  o.user = core::Address::user("xavier");
  o.protocol = core::Protocol::xmpp;
  o.sink = &xsink;
  auto xs = w.core.sessions().open(o);
  REQUIRE(xs.ok());
  REQUIRE(w.core.rooms().join(*xs, core::JoinRequest{"dev", "Xav", "", 0}).ok());
  w.server->flush();
  CHECK(has(World::take(*a), ":Xav!xavier@xmpp.parley JOIN #dev"));
  w.send(*a, "PRIVMSG #dev :\x02" "bold\x02 and \x01" "ACTION x\x01");
  REQUIRE(!xsink.messages.empty());
  CHECK(xsink.messages.back()->body == "bold and \x01" "ACTION x\x01");
  REQUIRE(xsink.messages.back()->rich.size() == 1);
  CHECK(xsink.messages.back()->rich[0].flags == core::StyleSpan::bold);
  xsink.clear();
  w.send(*a, "PRIVMSG #dev :\x01" "ACTION waves\x01");
  REQUIRE(!xsink.messages.empty());
  CHECK(xsink.messages.back()->kind == core::MessageKind::action);
  CHECK(xsink.messages.back()->body == "waves");
  // Xavier speaks with italics: IRC sees the codes.
  core::Message m;
  m.body = "hi there";
  m.rich.push_back(core::StyleSpan{0, 2, core::StyleSpan::italic, std::nullopt, std::nullopt});
  REQUIRE(w.core.rooms().say(*xs, "dev", m).ok());
  w.server->flush();
  CHECK(has(World::take(*a), ":Xav!xavier@xmpp.parley PRIVMSG #dev :\x1Dhi\x1D there"));
  // /msg Xav (room nick) and /msg xavier (user id) reach the XMPP session.
  xsink.clear();
  w.send(*a, "PRIVMSG Xav :private");
  w.send(*a, "PRIVMSG xavier :direct");
  REQUIRE(xsink.messages.size() == 2);
  CHECK(xsink.messages[0]->to == core::Address::user("xavier"));
  CHECK(xsink.messages[1]->body == "direct");
  // A direct message from XMPP to the IRC user.
  core::Message d;
  d.from = core::Address::user("xavier");
  d.to = core::Address::user("ann");
  d.body = "line one\nline two";
  d.origin.protocol = core::Protocol::xmpp;
  d.origin.session = *xs;
  REQUIRE(w.core.router().send(d).ok());
  w.server->flush();
  auto out = World::take(*a);
  CHECK(has(out, ":xavier!xavier@xmpp.parley PRIVMSG ann :line one\r\n"));
  CHECK(has(out, ":xavier!xavier@xmpp.parley PRIVMSG ann :line two\r\n"));
  w.send(*a, "WHOIS Xav");
  out = World::take(*a);
  CHECK(has(out, " 311 ann Xav xavier xmpp.parley "));
  CHECK(has(out, " 319 ann Xav :#dev"));
  CHECK(has(out, " 318 ann Xav "));
  w.send(*a, "ISON Xav xavier nobody");
  CHECK(has(World::take(*a), " 303 ann :xavier"));
  w.send(*a, "WHO #dev");
  out = World::take(*a);
  CHECK(has(out, " 352 ann #dev ~ann 127.0.0.1 irc.test ann H@ :0 Real ann"));
  CHECK(has(out, " Xav H"));
  w.core.sessions().close(*xs, "bye");
  w.server->flush();
  CHECK(has(World::take(*a), ":Xav!xavier@xmpp.parley QUIT :bye"));
}

TEST_CASE("irc server: labeled-response, away, oper kill, ping") {
  World w;
  auto a = w.registered("ann");
  auto b = w.registered("bea");
  w.send(*a, "CAP REQ :labeled-response batch");
  World::take(*a);
  w.send(*a, "@label=abc PING :x");
  CHECK(World::take(*a) == "@label=abc :irc.test PONG irc.test :x\r\n");
  w.send(*a, "@label=q PONG :x");
  CHECK(World::take(*a) == "@label=q :irc.test ACK\r\n");
  w.send(*a, "@label=m WHOIS bea");
  auto out = World::take(*a);
  CHECK(has(out, "@label=m :irc.test BATCH +"));
  CHECK(has(out, "@batch="));
  CHECK(has(out, "BATCH -"));
  w.send(*b, "CAP REQ away-notify");
  w.send(*a, "JOIN #dev");
  w.send(*b, "JOIN #dev");
  World::take(*b);
  w.send(*a, "AWAY :lunch");
  CHECK(has(World::take(*a), " 306 ann "));
  CHECK(has(World::take(*b), ":ann!~ann@127.0.0.1 AWAY :lunch"));
  w.send(*b, "PRIVMSG ann :hi");
  CHECK(has(World::take(*b), " 301 bea ann :lunch"));
  w.send(*a, "AWAY");
  CHECK(has(World::take(*a), " 305 ann "));
  w.send(*a, "OPER boss secret");
  CHECK(has(World::take(*a), " 381 ann "));
  w.send(*a, "KILL bea :spam");
  CHECK(has(World::take(*b), "ERROR :Closing Link"));
  CHECK(b->state == IrcClient::State::closed);
  out = World::take(*a);
  CHECK(has(out, "QUIT :Killed (ann (spam))"));
}

TEST_CASE("irc server: line limits answer 417") {
  World w;
  auto a = w.registered("ann");
  std::vector<adapters::irc::Incoming> lines;
  lines.push_back({{}, protocols::irc::ParseError::line_too_long});
  lines.push_back({"PING :ok", protocols::irc::ParseError::none});
  w.server->handle_lines(*a, lines);
  auto out = World::take(*a);
  CHECK(has(out, " 417 ann "));
  CHECK(has(out, "PONG"));
}

TEST_CASE("irc server: a latin-1 line that doubles when decoded is not too long") {
  World w;
  auto a = w.registered("ann");
  auto b = w.registered("bea");
  w.send(*a, "JOIN #l");
  w.send(*b, "JOIN #l");
  World::take(*a);
  World::take(*b);
  // 494 bytes as sent; 974 once each \xe9 is UTF-8 (LineFramer's latin-1 fallback)
  const std::string raw = "PRIVMSG #l :" + std::string(480, '\xe9');
  protocols::irc::LineFramer framer;
  const auto r = framer.next(raw + "\r\n");
  REQUIRE(r.converted);
  std::vector<adapters::irc::Incoming> lines{{r.line, protocols::irc::ParseError::none, r.converted}};
  w.server->handle_lines(*a, lines);
  CHECK_FALSE(has(World::take(*a), " 417 "));
  // Relayed as one line within 512 bytes with the sender's prefix, cut between characters
  // (fit_text), as any text too long for the relay is.
  const std::string got = World::take(*b);
  const auto at = got.find("PRIVMSG #l :");
  REQUIRE(at != std::string::npos);
  const std::size_t end = got.find("\r\n", at);
  REQUIRE(end != std::string::npos);
  const std::size_t start = got.rfind('\n', at) == std::string::npos ? 0 : got.rfind('\n', at) + 1;
  CHECK(end + 2 - start <= 512);
  const std::string text = got.substr(at + 12, end - at - 12);
  CHECK(text.size() > 400);
  CHECK(text.size() % 2 == 0);  // whole characters only
  CHECK(std::string(r.line).substr(12, text.size()) == text);
}

TEST_CASE("irc server: TAGMSG relays client-only tags between message-tags clients") {
  World w;
  auto a = w.registered("ann");
  auto b = w.registered("bea");
  auto c = w.registered("cid");
  w.send(*a, "CAP REQ message-tags");
  w.send(*b, "CAP REQ message-tags");
  for (auto* x : {a.get(), b.get(), c.get()}) w.send(*x, "JOIN #dev");
  for (auto* x : {a.get(), b.get(), c.get()}) World::take(*x);
  w.send(*a, "@+typing=active;msgid=forged TAGMSG #dev");
  auto relayed = World::take(*b);
  CHECK(relayed.starts_with("@+typing=active;msgid="));  // the server's msgid, never the client's
  CHECK(relayed.ends_with(" :ann!~ann@127.0.0.1 TAGMSG #dev\r\n"));
  CHECK(!has(relayed, "forged"));
  CHECK(World::take(*c).empty());
  CHECK(World::take(*a).empty());
  w.send(*a, "@+typing=paused TAGMSG bea");
  CHECK(has(World::take(*b), "@+typing=paused;msgid="));
}

TEST_CASE("irc server: MONITOR follows registration, nick changes and quits, and forgets a gone watcher") {
  World w;
  auto watcher = w.registered("ann");
  w.send(*watcher, "MONITOR + bea,cid");
  CHECK(has(World::take(*watcher), " 731 ann :bea,cid\r\n"));
  auto b = w.registered("bea");
  CHECK(has(World::take(*watcher), " 730 ann :bea!~bea@127.0.0.1\r\n"));
  w.send(*b, "NICK Bea");  // a change of case: nothing
  CHECK(World::take(*watcher).empty());
  w.send(*b, "NICK cid");  // bea goes offline, cid comes online
  auto out = World::take(*watcher);
  CHECK(has(out, " 731 ann :Bea\r\n"));
  CHECK(has(out, " 730 ann :cid!~bea@127.0.0.1\r\n"));
  w.send(*watcher, "MONITOR L");
  CHECK(has(World::take(*watcher), " 732 ann :bea,cid\r\n"));
  // The watcher's connection goes away: later events must not reach it (ASan watches).
  w.server->detach(*watcher, "gone");
  w.send(*b, "QUIT :bye");
  CHECK(b->state == IrcClient::State::closed);
}

TEST_CASE("irc server: registration timeout closes connections that never registered") {
  World w;
  auto slow = w.connect();
  w.send(*slow, "NICK slow");
  auto done = w.registered("done");
  w.server->sweep_unregistered(std::chrono::seconds(3600));
  CHECK(slow->state == IrcClient::State::registering);
  w.server->sweep_unregistered(std::chrono::seconds(0));
  CHECK(slow->state == IrcClient::State::closed);
  CHECK(has(World::take(*slow), "ERROR :Closing Link: 127.0.0.1 (Registration timeout)"));
  CHECK(done->state == IrcClient::State::registered);
}

TEST_CASE("irc server: MODE checks each argument - keys, limits, o/h/v targets - and multi-prefix") {
  World w;
  auto a = w.registered("ann");
  auto b = w.registered("bea");
  w.send(*a, "CAP REQ multi-prefix");
  w.send(*a, "JOIN #dev");
  w.send(*b, "JOIN #dev");
  World::take(*a);
  World::take(*b);
  w.send(*a, "MODE #dev +k :has space");
  CHECK(has(World::take(*a), " 696 ann #dev k * :"));
  w.send(*a, "MODE #dev +l :-1");
  CHECK(has(World::take(*a), " 696 ann #dev l -1 :"));
  w.send(*a, "MODE #dev +o nobody");
  CHECK(has(World::take(*a), " 401 ann nobody :"));
  auto c = w.registered("cid");
  w.send(*a, "MODE #dev +o cid");
  CHECK(has(World::take(*a), " 441 ann cid #dev :"));
  w.send(*b, "MODE #dev +o bea");
  CHECK(World::take(*b) == ":irc.test 482 bea #dev :You're not channel operator\r\n");
  w.send(*a, "MODE #dev +v ann");
  World::take(*a);
  w.send(*a, "NAMES #dev");
  CHECK(has(World::take(*a), " 353 ann = #dev :@+ann bea\r\n"));
  w.send(*b, "NAMES #dev");  // without multi-prefix: the highest status only
  CHECK(has(World::take(*b), " 353 bea = #dev :@ann bea\r\n"));
  w.send(*a, "MODE #dev +k secret");
  CHECK(has(World::take(*b), "MODE #dev +k secret"));
  for (int i = 0; i < 25; ++i)
    w.send(*a, "MODE #dev +bbbb " + std::to_string(i) + "a!*@* " + std::to_string(i) + "b!*@* " +
                   std::to_string(i) + "c!*@* " + std::to_string(i) + "d!*@*");
  CHECK(w.core.rooms().find("dev")->bans.size() == 100);
  World::take(*a);
  w.send(*a, "MODE #dev +b one!*@*");  // MAXLIST=b:100
  CHECK(has(World::take(*a), " 478 ann #dev one!*@* :"));
}

namespace {
std::size_t count_of(const std::string& s, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("irc server: a message from another protocol takes a bounded number of lines with a marker") {
  config::IrcConfig cfg;
  cfg.max_lines_per_message = 4;
  World w(cfg);
  auto a = w.registered("ann");
  w.send(*a, "CAP REQ message-tags");
  w.send(*a, "JOIN #dev");
  World::take(*a);
  test::FakeSink xsink;
  core::SessionOpen o;
  o.user = core::Address::user("xavier");
  o.protocol = core::Protocol::xmpp;
  o.sink = &xsink;
  auto xs = w.core.sessions().open(o);
  REQUIRE(xs.ok());
  REQUIRE(w.core.rooms().join(*xs, core::JoinRequest{"dev", "Xav", "", 0}).ok());
  w.server->flush();
  World::take(*a);

  core::Message m;
  for (int i = 0; i < 50; ++i) m.body += "line " + std::to_string(i) + "\n";
  m.rich.push_back(core::StyleSpan{0, 20, core::StyleSpan::bold, std::nullopt, std::nullopt});
  m.origin_id = std::string(40000, 'i');  // a client's huge id: not kept, never the msgid
  REQUIRE(w.core.rooms().say(*xs, "dev", m).ok());
  w.server->flush();
  auto out = World::take(*a);
  CHECK(count_of(out, "\r\n") == 5);
  CHECK(count_of(out, " PRIVMSG #dev :") == 5);
  CHECK(has(out, "PRIVMSG #dev :\x02line 0\r\n"));
  CHECK(has(out, "PRIVMSG #dev :line 3\r\n"));
  CHECK(has(out, "PRIVMSG #dev :[... 46 more lines]\r\n"));
  CHECK_FALSE(has(out, "iiii"));
  CHECK(out.size() < 5 * 600);

  // One long line: cut into lines of at most 512 bytes, then the marker.
  core::Message big;
  big.body = std::string(100000, 'x');
  REQUIRE(w.core.rooms().say(*xs, "dev", big).ok());
  w.server->flush();
  out = World::take(*a);
  CHECK(count_of(out, "\r\n") == 5);
  CHECK(has(out, " more lines]\r\n"));
  for (std::size_t p = 0, e; (e = out.find("\r\n", p)) != std::string::npos; p = e + 2) {
    std::string_view line(out.data() + p, e - p);
    auto body = line.substr(line.find(' ') + 1);  // past the tags
    CHECK(body.size() + 2 <= 512);
  }
  CHECK(a->state == IrcClient::State::registered);
  w.core.sessions().close(*xs, "bye");
}

TEST_CASE("irc server: client-only tags that would not fit are dropped, the message is not") {
  config::IrcConfig cfg;
  cfg.sendq = 4096;  // a quarter for one message: no room for 4 KB of client tags
  World w(cfg);
  auto a = w.registered("ann");
  auto b = w.registered("bob");
  w.send(*a, "CAP REQ message-tags");
  w.send(*b, "CAP REQ message-tags");
  w.send(*a, "JOIN #dev");
  w.send(*b, "JOIN #dev");
  World::take(*a);
  World::take(*b);
  w.send(*a, "@+big=" + std::string(4000, 'v') + " PRIVMSG #dev :hello");
  auto out = World::take(*b);
  CHECK(has(out, "PRIVMSG #dev :hello\r\n"));
  CHECK(has(out, "msgid="));
  CHECK_FALSE(has(out, "+big"));
  // With the default sendq the same tags are relayed.
  World w2;
  auto c = w2.registered("cat");
  auto d = w2.registered("dog");
  w2.send(*c, "CAP REQ message-tags");
  w2.send(*d, "CAP REQ message-tags");
  w2.send(*c, "JOIN #dev");
  w2.send(*d, "JOIN #dev");
  World::take(*d);
  w2.send(*c, "@+big=" + std::string(4000, 'v') + " PRIVMSG #dev :hello");
  CHECK(has(World::take(*d), "+big="));
}

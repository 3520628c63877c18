// The outbound registration machine (protocols/irc/client_registration.hpp) fed server
// transcripts: plain registration, nick collisions, CAP + SASL PLAIN, PING, ISUPPORT.
#include "protocols/irc/client_registration.hpp"

#include <doctest/doctest.h>

#include <string>

#include "protocols/common/sasl.hpp"

using namespace parley::protocols::irc;
using Event = ClientRegistration::Event;

namespace {
struct Fed {
  Event event;
  std::string out;
};
Fed feed(ClientRegistration& r, const std::string& line) {
  Message m;
  REQUIRE(parse_line(line, m) == ParseError::none);
  Fed f{Event::none, {}};
  f.event = r.on_message(m, f.out);
  return f;
}
ClientIdentity ident(std::vector<std::string> nicks) {
  ClientIdentity id;
  id.nicks = std::move(nicks);
  id.user = "alice";
  id.realname = "alice@localhost";
  return id;
}
}  // namespace

TEST_CASE("client registration: CAP LS, NICK, USER, then 001 registers") {
  ClientRegistration r(ident({"alice"}));
  std::string out;
  r.start(out);
  CHECK(out == "CAP LS 302\r\nNICK alice\r\nUSER alice 0 * :alice@localhost\r\n");
  auto f = feed(r, ":srv CAP * LS :multi-prefix server-time");
  CHECK(f.out == "CAP REQ :multi-prefix server-time\r\n");
  f = feed(r, ":srv CAP * ACK :multi-prefix server-time");
  CHECK(f.out == "CAP END\r\n");
  CHECK(r.caps().enabled("multi-prefix"));
  f = feed(r, ":srv 001 alice :Welcome");
  CHECK(f.event == Event::registered);
  CHECK(r.registered());
  CHECK(r.nick() == "alice");
}

TEST_CASE("client registration: a server without CAP (421) still registers") {
  ClientRegistration r(ident({"bob"}));
  std::string out;
  r.start(out);
  auto f = feed(r, ":srv 421 * CAP :Unknown command");
  CHECK(f.event == Event::none);
  f = feed(r, ":srv 001 bob :Welcome");
  CHECK(f.event == Event::registered);
}

TEST_CASE("client registration: nick collisions try the next candidate, then give up") {
  ClientRegistration r(ident({"alice", "alice2"}));
  std::string out;
  r.start(out);
  auto f = feed(r, ":srv 433 * alice :Nickname is already in use");
  CHECK(f.out == "NICK alice2\r\n");
  f = feed(r, ":srv 433 * alice2 :Nickname is already in use");
  CHECK(f.out == "NICK alice2_\r\n");
  f = feed(r, ":srv 432 * alice2_ :Erroneous nickname");
  CHECK(f.out == "NICK alice2__\r\n");
  f = feed(r, ":srv 001 alice2__ :Welcome");
  CHECK(f.event == Event::registered);
  CHECK(r.nick() == "alice2__");

  ClientRegistration stuck(ident({"x"}));
  stuck.start(out);
  Event last = Event::none;
  for (std::size_t i = 0; i < kMaxNickAttempts + 2 && last != Event::failed; ++i)
    last = feed(stuck, ":srv 433 * x :in use").event;
  CHECK(last == Event::failed);
  CHECK(stuck.phase() == ClientRegistration::Phase::failed);
  CHECK(stuck.error().find("no nick accepted") != std::string::npos);
}

TEST_CASE(
    "client registration: a server that cuts nicks to its NICKLEN, or refuses long ones, still takes one") {
  // Solanum cuts "alexander_" to its NICKLEN 9 and names the cut nick in its 433: a suffix
  // would be cut off again, so the end of the nick gives way to a number.
  ClientRegistration cut(ident({"alexander"}));
  std::string out;
  cut.start(out);
  auto f = feed(cut, ":srv 433 * alexander :Nickname is already in use");
  CHECK(f.out == "NICK alexander_\r\n");
  f = feed(cut, ":srv 433 * alexander :Nickname is already in use");
  CHECK(f.out == "NICK alexande2\r\n");
  f = feed(cut, ":srv 433 * alexande2 :Nickname is already in use");
  CHECK(f.out == "NICK alexande3\r\n");
  CHECK(feed(cut, ":srv 001 alexande3 :Welcome").event == Event::registered);

  // ngircd refuses a nick longer than its NICKLEN with 432: cut to nine, then as above.
  ClientRegistration longer(ident({"averylongnickname"}));
  longer.start(out);
  f = feed(longer, ":srv 432 * averylongnickname :Nickname too long");
  CHECK(f.out == "NICK averylong\r\n");
  f = feed(longer, ":srv 433 * averylong :Nickname already in use");
  CHECK(f.out == "NICK averylon2\r\n");  // no longer than what it took
  CHECK(feed(longer, ":srv 001 averylon2 :Welcome").event == Event::registered);

  // a refusal that does not name the nick, or names another, is about ours
  ClientRegistration one(ident({"x"}));
  one.start(out);
  CHECK(feed(one, ":srv 433 * x :in use").out == "NICK x_\r\n");
  CHECK(feed(one, ":srv 436 :collision").out == "NICK x__\r\n");
  CHECK(feed(one, ":srv 432 * :Erroneous nickname").out == "NICK x___\r\n");
  CHECK(feed(one, ":srv 433 * y :in use").out == "NICK x____\r\n");
}

TEST_CASE("client registration: PING is answered before and after registration") {
  ClientRegistration r(ident({"a"}));
  std::string out;
  r.start(out);
  CHECK(feed(r, "PING :abc").out == "PONG :abc\r\n");
  feed(r, ":srv 001 a :hi");
  CHECK(feed(r, ":srv PING :tok en").out == "PONG :tok en\r\n");
}

TEST_CASE("client registration: PASS before NICK, and no line break from the caller's strings") {
  auto id = ident({"a\r\nQUIT"});
  id.password = "pw\r\nQUIT :x";
  ClientRegistration r(id);
  std::string out;
  r.start(out);
  CHECK(out == "CAP LS 302\r\nPASS :pwQUIT :x\r\nNICK aQUIT\r\nUSER alice 0 * :alice@localhost\r\n");
}

TEST_CASE("client registration: SASL PLAIN runs before CAP END") {
  auto id = ident({"alice"});
  id.sasl_user = "alice";
  id.sasl_password = "secret";
  ClientRegistration r(id);
  std::string out;
  r.start(out);
  auto f = feed(r, ":srv CAP * LS :sasl=PLAIN multi-prefix");
  CHECK(f.out == "CAP REQ :multi-prefix sasl\r\n");
  f = feed(r, ":srv CAP * ACK :multi-prefix sasl");
  CHECK(f.out == "AUTHENTICATE PLAIN\r\n");
  f = feed(r, "AUTHENTICATE +");
  CHECK(f.out == "AUTHENTICATE " +
                     parley::protocols::sasl::base64_encode(std::string("\0alice\0secret", 13)) + "\r\n");
  f = feed(r, ":srv 900 alice alice!a@h alice :You are now logged in");
  CHECK(f.out.empty());
  f = feed(r, ":srv 903 alice :SASL authentication successful");
  CHECK(f.out == "CAP END\r\n");
  CHECK(r.sasl_status() == SaslClient::Status::success);
  CHECK(feed(r, ":srv 001 alice :hi").event == Event::registered);
}

TEST_CASE("client registration: a SASL failure still ends CAP, no credentials: sasl not requested") {
  auto id = ident({"alice"});
  id.sasl_user = "alice";
  id.sasl_password = "bad";
  ClientRegistration r(id);
  std::string out;
  r.start(out);
  feed(r, ":srv CAP * LS :sasl");
  feed(r, ":srv CAP * ACK :sasl");
  feed(r, "AUTHENTICATE +");
  // SCRAM-SHA-256 refused: PLAIN once (the bare "sasl" names no mechanisms), then CAP END
  CHECK(feed(r, ":srv 904 alice :SASL authentication failed").out == "AUTHENTICATE PLAIN\r\n");
  CHECK(r.sasl_error().empty());
  feed(r, "AUTHENTICATE +");
  CHECK(feed(r, ":srv 904 alice :SASL authentication failed").out == "CAP END\r\n");
  CHECK(r.sasl_status() == SaslClient::Status::failure);
  CHECK(r.sasl_error() == "904 SASL authentication failed");

  ClientRegistration plain(ident({"bob"}));
  plain.start(out);
  CHECK(feed(plain, ":srv CAP * LS :sasl multi-prefix").out == "CAP REQ :multi-prefix\r\n");
}

TEST_CASE("client registration: after a refused SCRAM-SHA-256, PLAIN only where the server takes it") {
  auto id = ident({"alice"});
  id.sasl_user = "alice";
  id.sasl_password = "pw";
  std::string out;
  // Only SCRAM offered: its refusal ends SASL, and says why.
  ClientRegistration scram_only(id);
  scram_only.start(out);
  feed(scram_only, ":srv CAP * LS :sasl=SCRAM-SHA-256");
  CHECK(feed(scram_only, ":srv CAP * ACK :sasl").out == "AUTHENTICATE SCRAM-SHA-256\r\n");
  feed(scram_only, "AUTHENTICATE +");
  CHECK(feed(scram_only, ":srv 904 alice :SASL authentication failed").out == "CAP END\r\n");
  CHECK(scram_only.sasl_error() == "904 SASL authentication failed");
  // 908 names the mechanisms the account takes (Atheme): PLAIN among them is tried.
  ClientRegistration listed(id);
  listed.start(out);
  feed(listed, ":srv CAP * LS :sasl=SCRAM-SHA-256,EXTERNAL");
  feed(listed, ":srv CAP * ACK :sasl");
  feed(listed, "AUTHENTICATE +");
  CHECK(feed(listed, ":srv 908 alice PLAIN,EXTERNAL :are available SASL mechanisms").out.empty());
  CHECK(feed(listed, ":srv 904 alice :SASL authentication failed").out == "AUTHENTICATE PLAIN\r\n");
  feed(listed, "AUTHENTICATE +");
  CHECK(feed(listed, ":srv 903 alice :SASL authentication successful").out == "CAP END\r\n");
  CHECK(listed.sasl_status() == SaslClient::Status::success);
  CHECK(listed.sasl_error().empty());
  // A 902 (nick locked) is not about the mechanism: no other one.
  ClientRegistration locked(id);
  locked.start(out);
  feed(locked, ":srv CAP * LS :sasl");
  feed(locked, ":srv CAP * ACK :sasl");
  feed(locked, "AUTHENTICATE +");
  CHECK(feed(locked, ":srv 902 alice :You must use a nick assigned to you").out == "CAP END\r\n");
  CHECK(locked.sasl_error() == "902 You must use a nick assigned to you");
  // Credentials and no way to use them: said too.
  ClientRegistration external(id);
  external.start(out);
  feed(external, ":srv CAP * LS :sasl=EXTERNAL");
  CHECK(feed(external, ":srv CAP * ACK :sasl").out == "CAP END\r\n");
  CHECK(external.sasl_error() == "the server offers no SASL mechanism Parley speaks (EXTERNAL)");
  ClientRegistration none(id);
  none.start(out);
  feed(none, ":srv CAP * LS :multi-prefix");
  feed(none, ":srv CAP * ACK :multi-prefix");
  CHECK(feed(none, ":srv 001 alice :Welcome").event == Event::registered);
  CHECK(none.sasl_error() == "the server does not offer SASL");
  ClientRegistration naked(id);
  naked.start(out);
  feed(naked, ":srv CAP * LS :sasl");
  CHECK(feed(naked, ":srv CAP * NAK :sasl").out == "CAP END\r\n");
  feed(naked, ":srv 001 alice :Welcome");
  CHECK(naked.sasl_error() == "the server refused the sasl capability");
}

TEST_CASE("client registration: ISUPPORT CHANTYPES and PREFIX, our own NICK change, ERROR") {
  ClientRegistration r(ident({"me"}));
  std::string out;
  r.start(out);
  feed(r, ":srv 001 me :hi");
  CHECK(r.isupport().is_channel("#x"));
  CHECK(r.isupport().is_channel("&x"));
  feed(r, ":srv 005 me CHANTYPES=# PREFIX=(qaohv)~&@%+ NETWORK=x :are supported by this server");
  CHECK_FALSE(r.isupport().is_channel("&x"));
  CHECK(r.isupport().mode_of_prefix('~') == 'q');
  auto e = split_names_entry(r.isupport(), "~@bob!b@host");
  CHECK(e.modes == "qo");
  CHECK(e.nick == "bob");
  feed(r, ":srv 005 me PREFIX=(ov)@+++ :bad lengths are ignored");
  CHECK(r.isupport().prefix_modes == "qaohv");
  CHECK(feed(r, ":me!u@h NICK :me2").event == Event::nick_changed);
  CHECK(r.nick() == "me2");
  CHECK(feed(r, ":other!u@h NICK :x").event == Event::none);
  CHECK(feed(r, "ERROR :Closing link (K-lined)").event == Event::failed);
  CHECK(r.error() == "Closing link (K-lined)");
}

TEST_CASE("client registration: WEBIRC goes first, before CAP, NICK and USER") {
  ClientIdentity id = ident({"alice"});
  id.webirc = {.password = "s3cret", .gateway = "parley", .hostname = "192.0.2.7", .ip = "192.0.2.7"};
  ClientRegistration r(id);
  std::string out;
  r.start(out);
  CHECK(out ==
        "WEBIRC s3cret parley 192.0.2.7 192.0.2.7\r\nCAP LS 302\r\nNICK alice\r\n"
        "USER alice 0 * :alice@localhost\r\n");
}

TEST_CASE("webirc_line: IPv6 with a leading colon, and fields that are not one parameter") {
  ClientIdentity::Webirc w{.password = "pw", .gateway = "gw", .hostname = "::1", .ip = "::1"};
  CHECK(webirc_line(w) == "WEBIRC pw gw 0::1 0::1\r\n");
  w.hostname = w.ip = "2001:db8::1";
  CHECK(webirc_line(w) == "WEBIRC pw gw 2001:db8::1 2001:db8::1\r\n");
  // No field may add a parameter or a line: such a WEBIRC is not sent at all.
  for (std::string_view bad :
       {std::string_view("p w"), std::string_view("p\r\nQUIT"), std::string_view("p\n"),
        std::string_view("p\0w", 3), std::string_view(":pw"), std::string_view("")}) {
    ClientIdentity::Webirc b = w;
    b.gateway = std::string(bad);
    CHECK(webirc_line(b).empty());
    b = w;
    b.ip = std::string(bad);
    if (!bad.empty() && bad.front() == ':') continue;  // an IP-like ':' is made "0:"
    CHECK(webirc_line(b).empty());
  }
  ClientIdentity::Webirc none = w;
  none.password.clear();
  CHECK(webirc_line(none).empty());
  ClientIdentity id = ident({"alice"});
  id.webirc = w;
  id.webirc.hostname = "evil host";
  ClientRegistration r(id);
  std::string out;
  r.start(out);
  CHECK(out.rfind("CAP LS 302\r\n", 0) == 0);  // no WEBIRC line at all
}

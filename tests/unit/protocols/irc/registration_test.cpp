// The server-side registration machine (protocols/irc/registration.hpp), without sockets.
#include "protocols/irc/registration.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <string>
#include <vector>

#include "protocols/common/sasl.hpp"

using namespace parley::protocols::irc;
namespace sasl = parley::protocols::sasl;

namespace {

// Parses one line; the Message's views point into a copy kept for the whole test run.
Message parse(std::string_view line) {
  static std::deque<std::string> keep;
  keep.emplace_back(line);
  Message m;
  REQUIRE(parse_line(keep.back(), m) == ParseError::none);
  return m;
}

// Runs CAP `line` for a client named `nick` and returns the replies.
std::string cap(Registration& r, const std::string& line, bool registered = false, bool* end = nullptr) {
  Message m = parse(line);
  std::string out;
  bool e = on_cap(r, m, registered, "irc.test", "*", out);
  if (end) *end = e;
  return out;
}

std::vector<std::string> lines_of(const std::string& out) {
  std::vector<std::string> v;
  std::size_t p = 0;
  while (p < out.size()) {
    auto e = out.find("\r\n", p);
    REQUIRE(e != std::string::npos);
    v.push_back(out.substr(p, e - p));
    p = e + 2;
  }
  return v;
}

}  // namespace

TEST_CASE("CAP LS 302, REQ, END: registration waits for CAP END") {
  Registration r;
  CHECK(ready_to_register(r, true, true));  // no CAP at all: NICK + USER register at once
  std::string ls = cap(r, "CAP LS 302");
  CHECK(
      ls ==
      ":irc.test CAP * LS :account-notify account-tag away-notify batch cap-notify echo-message "
      "extended-join "
      "invite-notify labeled-response message-tags multi-prefix sasl=PLAIN,SCRAM-SHA-256 server-time setname "
      "userhost-in-names\r\n");
  CHECK(r.cap_negotiating);
  CHECK(r.has(cap_cap_notify));  // implicit with 302
  CHECK(!ready_to_register(r, true, true));
  CHECK(cap(r, "CAP REQ :sasl server-time") == ":irc.test CAP * ACK :sasl server-time\r\n");
  CHECK(r.has(cap_sasl));
  CHECK(r.has(cap_server_time));
  CHECK(!ready_to_register(r, true, true));
  CHECK(cap(r, "CAP LIST") == ":irc.test CAP * LIST :server-time sasl cap-notify\r\n");
  bool end = false;
  CHECK(cap(r, "CAP END", false, &end).empty());
  CHECK(end);
  CHECK(ready_to_register(r, true, true));
  CHECK(!ready_to_register(r, false, true));
  CHECK(!ready_to_register(r, true, false));
}

TEST_CASE("CAP LS without 302 lists no values and no cap-notify") {
  Registration r;
  CHECK(cap(r, "CAP LS") ==
        ":irc.test CAP * LS :account-notify account-tag away-notify batch echo-message extended-join "
        "invite-notify labeled-response message-tags multi-prefix sasl server-time setname "
        "userhost-in-names\r\n");
  CHECK(!r.has(cap_cap_notify));
  // A REQ alone also starts negotiation.
  Registration r2;
  cap(r2, "CAP REQ :batch");
  CHECK(r2.cap_negotiating);
}

TEST_CASE("CAP REQ is atomic") {
  Registration r;
  CHECK(cap(r, "CAP REQ :batch nonsense server-time") ==
        ":irc.test CAP * NAK :batch nonsense server-time\r\n");
  CHECK(r.caps == 0);
  CHECK(cap(r, "CAP REQ :batch server-time") == ":irc.test CAP * ACK :batch server-time\r\n");
  CHECK(cap(r, "CAP REQ :-batch") == ":irc.test CAP * ACK :-batch\r\n");
  CHECK(!r.has(cap_batch));
  CHECK(r.has(cap_server_time));
  // Names are case-sensitive.
  CHECK(cap(r, "CAP REQ :BATCH") == ":irc.test CAP * NAK :BATCH\r\n");
  // cap-notify cannot be dropped under 302...
  Registration r302;
  cap(r302, "CAP LS 302");
  CHECK(cap(r302, "CAP REQ :-cap-notify") == ":irc.test CAP * NAK :-cap-notify\r\n");
  CHECK(r302.has(cap_cap_notify));
  // ...but can before it.
  Registration old;
  cap(old, "CAP REQ :cap-notify");
  CHECK(cap(old, "CAP REQ :-cap-notify") == ":irc.test CAP * ACK :-cap-notify\r\n");
  // REQ without a list NAKs.
  CHECK(cap(old, "CAP REQ") == ":irc.test CAP * NAK :\r\n");
}

TEST_CASE("CAP after registration: no negotiation state, END ignored, unknown subcommand 410") {
  Registration r;
  cap(r, "CAP LS 302", true);
  CHECK(!r.cap_negotiating);
  bool end = true;
  cap(r, "CAP END", true, &end);
  CHECK(!end);
  CHECK(cap(r, "CAP FOO") == ":irc.test 410 * FOO :Invalid CAP command\r\n");
}

TEST_CASE("CAP replies longer than a line are split with '*' for 302 clients") {
  std::string tokens;
  for (int i = 0; i < 60; ++i)
    tokens += (i ? " " : "") + std::string("vendor.example/capability-") + std::to_string(i);
  std::string out;
  append_cap_reply(out, "irc.test", "nick", "LS", tokens, 302);
  auto lines = lines_of(out);
  REQUIRE(lines.size() >= 3);
  std::string joined;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i].size() + 2 <= kMaxBody);
    bool last = i + 1 == lines.size();
    std::string head = last ? ":irc.test CAP nick LS :" : ":irc.test CAP nick LS * :";
    REQUIRE(lines[i].rfind(head, 0) == 0);
    if (!joined.empty()) joined += ' ';
    joined += lines[i].substr(head.size());
  }
  CHECK(joined == tokens);
  // Pre-302 clients get one line, whatever its length.
  std::string one;
  append_cap_reply(one, "irc.test", "nick", "LS", tokens, 0);
  CHECK(lines_of(one).size() == 1);
}

TEST_CASE("PASS, NICK and USER checks") {
  Registration r;
  CHECK(!on_pass(r, parse("PASS secret"), false));
  CHECK(r.pass == "secret");
  auto again = on_pass(r, parse("PASS other"), true);
  CHECK(again.code == 462);
  CHECK(r.pass == "secret");

  CHECK(check_nick(parse("NICK"), 30).code == 431);
  CHECK(check_nick(parse("NICK :"), 30).code == 431);
  auto bad = check_nick(parse("NICK 1abc"), 30);
  CHECK(bad.code == 432);
  CHECK(bad.param == "1abc");
  CHECK(check_nick(parse("NICK abcdefgh"), 4).code == 432);
  CHECK(!check_nick(parse("NICK alice"), 30));

  std::string user, real;
  CHECK(on_user(parse("USER al@i!c:e 0 * :Alice A"), true, user, real).code == 462);
  CHECK(on_user(parse("USER a 0 * :"), false, user, real).code == 461);
  CHECK(!on_user(parse("USER al@i!c:e 0 * :Alice A"), false, user, real));
  CHECK(user == "~al_i_c_e");
  CHECK(real == "Alice A");
  CHECK(!on_user(parse("USER abcdefghijklmnopqrstuvwxyz 0 * :x"), false, user, real));
  CHECK(user == "~abcdefghijklmnopqr");  // 18 bytes of it
}

TEST_CASE("AUTHENTICATE: gating, start, abort, already, after registration") {
  using K = SaslStep::Kind;
  Registration r;
  auto s = on_authenticate(r, "PLAIN", false, false);
  CHECK(s.kind == K::reply);  // sasl not enabled
  CHECK(s.reply.code == 904);
  r.caps |= cap_sasl;
  s = on_authenticate(r, "DIGEST-MD5", false, false);
  CHECK(s.kind == K::fail);
  CHECK(s.list_mechanisms);
  CHECK(s.reply.code == 904);
  CHECK(!r.sasl_active());
  s = on_authenticate(r, "plain", false, false);
  CHECK(s.kind == K::start);
  CHECK(r.sasl_mech == SaslMechanism::plain);
  s = on_authenticate(r, "*", false, false);
  CHECK(s.kind == K::abort);
  CHECK(s.reply.code == 906);
  CHECK(!r.sasl_active());
  CHECK(on_authenticate(r, "PLAIN", true, false).reply.code == 907);  // logged in already
  CHECK(on_authenticate(r, "PLAIN", false, true).reply.code == 462);  // registered
}

TEST_CASE("AUTHENTICATE: 400-byte chunks are joined, '+' ends an exact multiple, bounds give 905") {
  using K = SaslStep::Kind;
  Registration r;
  r.caps |= cap_sasl;
  REQUIRE(on_authenticate(r, "SCRAM-SHA-256", false, false).kind == K::start);
  std::string a(400, 'A'), b(400, 'B');
  CHECK(on_authenticate(r, a, false, false).kind == K::more);
  CHECK(on_authenticate(r, b, false, false).kind == K::more);
  auto s = on_authenticate(r, "+", false, false);
  REQUIRE(s.kind == K::payload);
  CHECK(s.payload == a + b);
  CHECK(r.sasl_active());  // the mechanism decides when the exchange ends
  s = on_authenticate(r, "abc", false, false);
  REQUIRE(s.kind == K::payload);
  CHECK(s.payload == "abc");
  CHECK(on_authenticate(r, "+", false, false).payload.empty());

  // A line over 400 bytes.
  s = on_authenticate(r, std::string(401, 'x'), false, false);
  CHECK(s.kind == K::fail);
  CHECK(s.reply.code == 905);
  CHECK(!r.sasl_active());

  // More than kMaxSaslMessage in 400-byte chunks.
  REQUIRE(on_authenticate(r, "PLAIN", false, false).kind == K::start);
  std::size_t sent = 0;
  for (;;) {
    s = on_authenticate(r, std::string(400, 'x'), false, false);
    sent += 400;
    if (s.kind != K::more) break;
    REQUIRE(sent <= kMaxSaslMessage);
  }
  CHECK(s.kind == K::fail);
  CHECK(s.reply.code == 905);
  CHECK(sent > kMaxSaslMessage);
  CHECK(!r.sasl_active());
}

TEST_CASE("append_authenticate chunks base64 in 400-byte lines") {
  std::string out;
  append_authenticate(out, "");
  CHECK(out == "AUTHENTICATE +\r\n");
  out.clear();
  append_authenticate(out, "hi");
  CHECK(out == "AUTHENTICATE aGk=\r\n");
  // 300 raw bytes are exactly 400 base64 bytes: a "+" follows.
  out.clear();
  append_authenticate(out, std::string(300, 'z'));
  auto lines = lines_of(out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].size() == 13 + 400);
  CHECK(lines[1] == "AUTHENTICATE +");
  // 301 raw bytes: 400 + a short line, no "+".
  out.clear();
  append_authenticate(out, std::string(301, 'z'));
  lines = lines_of(out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] != "AUTHENTICATE +");
  // What one side writes the other reassembles.
  AuthenticateReader rd;
  for (std::size_t raw : {0u, 1u, 299u, 300u, 301u, 600u, 1000u}) {
    CAPTURE(raw);
    std::string payload(raw, 'q');
    out.clear();
    append_authenticate(out, payload);
    std::string got;
    bool complete = false;
    for (const auto& l : lines_of(out)) {
      REQUIRE(!complete);
      auto st = rd.feed(std::string_view(l).substr(13));
      REQUIRE(st != AuthenticateReader::Status::too_long);
      if (st == AuthenticateReader::Status::complete) {
        complete = true;
        got = rd.take();
      }
    }
    REQUIRE(complete);
    CHECK(sasl::base64_decode(got) == std::optional<std::string>(payload));
  }
}

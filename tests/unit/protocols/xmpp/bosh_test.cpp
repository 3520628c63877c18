#include "protocols/xmpp/bosh.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace parley::protocols::xmpp;

namespace {
const std::string kNs = "http://jabber.org/protocol/httpbind";
}

TEST_CASE("bosh body: session creation attributes") {
  auto p = parse_bosh_body("<body xmlns='" + kNs +
                               "' rid='1573741820' to='localhost' wait='60' hold='1' ver='1.6' "
                               "xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0' xml:lang='en'/>",
                           4096);
  REQUIRE(p.body);
  CHECK(*p.body->rid == 1573741820u);
  CHECK(p.body->sid.empty());
  CHECK(p.body->to == "localhost");
  CHECK(p.body->wait == 60);
  CHECK(p.body->has_hold);
  CHECK(p.body->hold == 1);
  CHECK(p.body->xmpp_version == "1.0");
  CHECK(p.body->payload.empty());
}

TEST_CASE("bosh body: payload elements standalone, jabber:client added where missing") {
  auto p = parse_bosh_body(
      "<body xmlns='" + kNs +
          "' rid='2' sid='s1'> <message to='a@b'><body>x &amp; y</body></message>"
          "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGE=</auth></body>",
      4096);
  REQUIRE(p.body);
  REQUIRE(p.body->payload.size() == 2);
  CHECK(p.body->payload[0] == "<message xmlns=\"jabber:client\" to=\"a@b\"><body>x &amp; y</body></message>");
  CHECK(p.body->payload[1].find("xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"") != std::string::npos);
  CHECK(p.body->payload[1].find("jabber:client") == std::string::npos);
}

TEST_CASE("bosh body: restart and terminate") {
  auto p = parse_bosh_body(
      "<body xmlns='" + kNs + "' rid='3' sid='s' xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true'/>", 4096);
  REQUIRE(p.body);
  CHECK(p.body->restart);
  p = parse_bosh_body("<body xmlns='" + kNs + "' rid='4' sid='s' type='terminate'/>", 4096);
  REQUIRE(p.body);
  CHECK(p.body->type == "terminate");
  CHECK_FALSE(p.body->restart);
}

TEST_CASE("bosh body: malformed and hostile input is refused") {
  auto bad = [](const std::string& xml, const char* condition = "bad-request") {
    auto p = parse_bosh_body(xml, 4096);
    CHECK_FALSE(p.body);
    CHECK(p.error.condition == condition);
  };
  bad("");
  bad("<body");
  bad("not xml");
  bad("<body rid='1'/>");                       // no namespace
  bad("<other xmlns='" + kNs + "' rid='1'/>");  // not body
  bad("<body xmlns='" + kNs + "'/>");           // no rid
  bad("<body xmlns='" + kNs + "' rid='-1'/>");
  bad("<body xmlns='" + kNs + "' rid='12x'/>");
  bad("<body xmlns='" + kNs + "' rid='99999999999999999999999'/>");
  bad("<body xmlns='" + kNs + "' rid='9007199254740993'/>");  // above 2^53 (§7)
  bad("<body xmlns='" + kNs + "' rid='1' wait='x'/>");
  bad("<body xmlns='" + kNs + "' rid='1'>text</body>");
  bad("<body xmlns='" + kNs + "' rid='1'>&ent;</body>");
  bad("<!DOCTYPE b [<!ENTITY e 'x'>]><body xmlns='" + kNs + "' rid='1'>&e;</body>");
  bad("<body xmlns='" + kNs + "' rid='1'/><body xmlns='" + kNs + "' rid='2'/>");
  std::string many = "<body xmlns='" + kNs + "' rid='1'>";
  for (std::size_t i = 0; i <= kMaxBoshChildren; ++i) many += "<a/>";
  many += "</body>";
  auto p = parse_bosh_body(many, 1 << 20);
  CHECK_FALSE(p.body);
  CHECK(p.error.condition == "policy-violation");
  p = parse_bosh_body(std::string(5000, ' '), 4096);
  CHECK_FALSE(p.body);
  CHECK(p.error.condition == "policy-violation");
}

TEST_CASE("rid window: in order, out of order within the window, duplicates, outside") {
  RidWindow w(100, 2);
  CHECK(w.check(101) == RidWindow::Verdict::fresh);
  CHECK(w.check(101) == RidWindow::Verdict::duplicate);
  CHECK(w.check(100) == RidWindow::Verdict::duplicate);
  CHECK(w.check(103) == RidWindow::Verdict::fresh);  // 102 still in flight
  CHECK(w.check(102) == RidWindow::Verdict::fresh);  // arrives late: a gap filled
  CHECK(w.check(102) == RidWindow::Verdict::duplicate);
  CHECK(w.check(106) == RidWindow::Verdict::out_of_window);  // more than `window` ahead
  CHECK(w.check(105) == RidWindow::Verdict::fresh);
  CHECK(w.check(104) == RidWindow::Verdict::fresh);
  CHECK(w.check(50) == RidWindow::Verdict::out_of_window);  // long past
  CHECK(w.highest() == 105);
  RidWindow one(1, 1);
  CHECK(one.check(3) == RidWindow::Verdict::out_of_window);
  CHECK(one.check(2) == RidWindow::Verdict::fresh);
}

TEST_CASE("response cache keeps the last answers") {
  ResponseCache c(2);
  c.put(1, "a");
  c.put(2, "b");
  c.put(3, "c");
  CHECK(c.find(1) == nullptr);
  REQUIRE(c.find(2));
  CHECK(*c.find(2) == "b");
  CHECK(*c.find(3) == "c");
}

TEST_CASE("response bodies") {
  CHECK(render_bosh_body({}, {}) ==
        "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' "
        "xmlns:stream='http://etherx.jabber.org/streams'/>");
  auto t = render_bosh_terminate("item-not-found");
  CHECK(t.find("type='terminate' condition='item-not-found'/>") != std::string::npos);
  CHECK(render_bosh_body(" sid='1'", "<a/>").find("sid='1'><a/></body>") != std::string::npos);
  CHECK(escape_bosh_attr("a'<&\"") == "a&apos;&lt;&amp;&quot;");
}

// The SIP federation's client timing (adapters/sip/federation_schedule.*) and the pure
// helpers of adapters/sip/federation.*: PUBLISH refresh/modify/412/backoff, resubscribe
// backoff that stays bounded against a dead or flapping server, SIP AOR parsing and the
// NOTIFY body vetting.
#include "adapters/sip/federation_schedule.hpp"

#include <doctest/doctest.h>

#include <string>

#include "adapters/sip/federation.hpp"
#include "adapters/sip/presence_mapping.hpp"

using namespace parley;
using adapters::sip::FedClock;
using adapters::sip::PublishSchedule;
using adapters::sip::ResubscribeSchedule;
using namespace std::chrono_literals;

namespace {

PublishSchedule pub(std::uint32_t max_seconds = 300) {
  return PublishSchedule(adapters::sip::federation_backoff(max_seconds), 42);
}

}  // namespace

TEST_CASE("federation: refresh comes at 90 percent of the granted time, never under a second") {
  CHECK(adapters::sip::refresh_after(600) == 540s);
  CHECK(adapters::sip::refresh_after(10) == 9s);
  CHECK(adapters::sip::refresh_after(1) == 1s);
  CHECK(adapters::sip::refresh_after(0) == 1s);
}

TEST_CASE("federation: PUBLISH initial, then refresh with the entity tag, then modify on change") {
  auto s = pub();
  auto t0 = FedClock::now();
  CHECK_FALSE(s.due(t0));  // nothing to say yet
  s.set_body("<open/>");
  auto r = s.due(t0);
  REQUIRE(r);
  CHECK(r->kind == PublishSchedule::Kind::initial);
  CHECK(r->etag.empty());
  CHECK(r->body == "<open/>");
  CHECK_FALSE(s.due(t0));  // one in flight at a time
  s.answered(200, "e1", 100, t0);
  CHECK(s.published());
  CHECK_FALSE(s.due(t0 + 89s));
  r = s.due(t0 + 90s);
  REQUIRE(r);
  CHECK(r->kind == PublishSchedule::Kind::refresh);
  CHECK(r->etag == "e1");
  CHECK(r->body.empty());
  s.answered(200, "e2", 100, t0 + 90s);
  s.set_body("<open/>");  // unchanged: nothing
  CHECK_FALSE(s.due(t0 + 91s));
  s.set_body("<away/>");
  r = s.due(t0 + 91s);
  REQUIRE(r);
  CHECK(r->kind == PublishSchedule::Kind::modify);
  CHECK(r->etag == "e2");
  CHECK(r->body == "<away/>");
}

TEST_CASE("federation: a 412 publishes anew at once, a second one waits") {
  auto s = pub();
  auto t0 = FedClock::now();
  s.set_body("<open/>");
  REQUIRE(s.due(t0));
  s.answered(200, "e1", 100, t0);
  auto r = s.due(t0 + 95s);
  REQUIRE(r);
  s.answered(412, "", 0, t0 + 95s);  // RFC 3903 §4.4: the server forgot e1
  r = s.due(t0 + 95s);
  REQUIRE(r);
  CHECK(r->kind == PublishSchedule::Kind::initial);
  CHECK(r->body == "<open/>");
  s.answered(412, "", 0, t0 + 95s);
  CHECK_FALSE(s.due(t0 + 95s));  // not a loop
  CHECK(s.retry_at() > t0 + 95s);
}

TEST_CASE("federation: a dead server gets PUBLISHes at a bounded, growing interval") {
  auto s = pub(30);
  auto t = FedClock::now();
  s.set_body("<open/>");
  int sent = 0;
  auto end = t + 10min;
  FedClock::time_point last{};
  std::chrono::milliseconds longest{0};
  for (; t < end; t += 100ms) {  // a 100 ms tick, as the daemon's is 250 ms
    if (auto r = s.due(t)) {
      if (sent) longest = std::max(longest, std::chrono::duration_cast<std::chrono::milliseconds>(t - last));
      last = t;
      ++sent;
      CHECK(r->kind == PublishSchedule::Kind::initial);
      s.answered(0, "", 0, t);  // no answer (timeout / transport error)
    }
  }
  // At most one attempt a second even at the floor; with the 30 s cap over 10 minutes,
  // far fewer: 1+2+4+8+16 s then at most every 30 s.
  CHECK(sent >= 10);
  CHECK(sent <= 60);
  CHECK(longest <= 30100ms);
  CHECK(s.failures() == static_cast<std::uint32_t>(sent));
  // The server comes back: one success resets the schedule.
  auto r = s.due(t + 31s);
  REQUIRE(r);
  s.answered(200, "e", 600, t + 31s);
  CHECK(s.failures() == 0);
}

TEST_CASE("federation: resubscribe waits out a backoff that grows while subscriptions die at once") {
  ResubscribeSchedule s(adapters::sip::federation_backoff(60), 7);
  auto t = FedClock::now();
  REQUIRE(s.due(t));
  CHECK(s.live());
  CHECK_FALSE(s.due(t));  // one live at a time
  int attempts = 1;
  auto end = t + 10min;
  for (auto now = t; now < end; now += 100ms) {
    if (s.live()) {
      // accepted, then terminated a moment later (a flapping server)
      s.established(now);
      s.ended(now + 10ms);
    }
    if (s.due(now)) ++attempts;
  }
  CHECK(attempts <= 25);  // 1+2+4+8+16+32 s, then every <= 60 s: about 15 in 10 minutes
  CHECK(attempts >= 8);
  CHECK(s.failures() >= 8);
}

TEST_CASE("federation: a subscription that lived a minute resubscribes from the floor") {
  ResubscribeSchedule s(adapters::sip::federation_backoff(300), 9);
  auto t = FedClock::now();
  for (int i = 0; i < 5; ++i) {  // climb the backoff: refused five times
    REQUIRE(s.due(t));
    s.ended(t);
    t = s.retry_at();
  }
  CHECK(s.failures() == 5);
  REQUIRE(s.due(t));
  s.established(t);
  s.ended(t + 2min);  // e.g. the server restarted and answered the refresh 481
  CHECK(s.failures() == 1);
  CHECK(s.retry_at() <= t + 2min + 1s);
}

TEST_CASE("federation: SIP AORs are parsed strictly and bounded") {
  auto a = adapters::sip::parse_sip_aor("sip:juliet@Remote.Example");
  REQUIRE(a);
  CHECK(a->user == "juliet");
  CHECK(a->host == "remote.example");
  CHECK(a->str() == "sip:juliet@remote.example");
  CHECK(adapters::sip::parse_sip_aor("SIP:x@h"));
  CHECK_FALSE(adapters::sip::parse_sip_aor("sips:x@h"));
  CHECK_FALSE(adapters::sip::parse_sip_aor("sip:@h"));
  CHECK_FALSE(adapters::sip::parse_sip_aor("sip:x@"));
  CHECK_FALSE(adapters::sip::parse_sip_aor("sip:h"));
  CHECK_FALSE(adapters::sip::parse_sip_aor("sip:x@h;transport=tcp"));
  CHECK_FALSE(adapters::sip::parse_sip_aor("sip:x@h:5060"));
  CHECK_FALSE(adapters::sip::parse_sip_aor("sip:x y@h"));
  CHECK_FALSE(adapters::sip::parse_sip_aor("sip:x\r\nVia: evil@h"));
  CHECK_FALSE(adapters::sip::parse_sip_aor("sip:" + std::string(200, 'a') + "@h"));
  CHECK_FALSE(adapters::sip::parse_sip_aor("sip:x@" + std::string(300, 'h')));
}

TEST_CASE("federation: NOTIFY bodies are vetted before they reach anyone") {
  const std::string good =
      "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:j@r'><tuple "
      "id='t'><status><basic>open</basic>"
      "</status><note>hi</note></tuple></presence>";
  auto v = adapters::sip::vet_notify_body(true, good);
  CHECK(v.code == 200);
  REQUIRE(v.doc);
  auto t = adapters::sip::tuple_of(*v.doc);
  CHECK(t.basic == core::Basic::open);
  CHECK(t.note == "hi");
  CHECK(adapters::sip::vet_notify_body(true, "").code == 200);  // pending: no state
  CHECK_FALSE(adapters::sip::vet_notify_body(true, "").doc);
  CHECK(adapters::sip::vet_notify_body(false, good).code == 415);
  CHECK(adapters::sip::vet_notify_body(true, "<presence><tuple").code == 400);
  CHECK(adapters::sip::vet_notify_body(true, "<html/>").code == 400);
  std::string huge = good;
  huge.insert(huge.find("hi"), std::string(20000, 'x'));
  CHECK(adapters::sip::vet_notify_body(true, huge).code == 413);
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "<a>";
  CHECK(adapters::sip::vet_notify_body(true, deep).code == 400);
}

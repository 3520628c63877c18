#include "adapters/xmpp/sm_queue.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

using namespace parley::adapters::xmpp;
using parley::core::Message;
using parley::core::MessagePtr;

namespace {

MessagePtr msg(const std::string& id) {
  Message m;
  m.id = id;
  m.body = "hi";
  return std::make_shared<const Message>(std::move(m));
}

// Fills q with n stanzas "<s0/>", "<s1/>", ... and no messages.
void fill(SmQueue& q, int n) {
  for (int i = 0; i < n; ++i) q.push("<s" + std::to_string(i) + "/>", nullptr, false);
}

}  // namespace

TEST_CASE("sm queue: acks drop the acknowledged prefix and keep the rest in order") {
  SmQueue q;
  fill(q, 5);
  CHECK(q.size() == 5);
  CHECK(q.bytes() == 5 * 5);
  std::vector<std::string> stored;
  CHECK(q.ack(2, stored) == SmQueue::AckResult::ok);
  CHECK(q.acked() == 2);
  CHECK(q.copy_xml() == std::vector<std::string>{"<s2/>", "<s3/>", "<s4/>"});
  CHECK(q.bytes() == 3 * 5);
  // Repeating the same h (XEP-0198 §4: an <a/> may repeat) changes nothing.
  CHECK(q.ack(2, stored) == SmQueue::AckResult::ok);
  CHECK(q.size() == 3);
  CHECK(q.ack(5, stored) == SmQueue::AckResult::ok);
  CHECK(q.size() == 0);
  CHECK(q.bytes() == 0);
  CHECK(stored.empty());
}

TEST_CASE("sm queue: an h beyond what was sent is handled-count-too-high and changes nothing") {
  SmQueue q;
  fill(q, 3);
  std::vector<std::string> stored;
  CHECK(q.ack(4, stored) == SmQueue::AckResult::too_high);
  CHECK(q.size() == 3);
  CHECK(q.acked() == 0);
  CHECK(q.ack(1, stored) == SmQueue::AckResult::ok);
  // Going back is "beyond" too in modulo-2^32 arithmetic (h - acked wraps to ~2^32).
  CHECK(q.ack(0, stored) == SmQueue::AckResult::too_high);
  CHECK(q.size() == 2);
  CHECK(q.acked() == 1);
  SmQueue empty;
  CHECK(empty.ack(1, stored) == SmQueue::AckResult::too_high);
  CHECK(empty.ack(0, stored) == SmQueue::AckResult::ok);
}

TEST_CASE("sm queue: h wraps around at 2^32 (XEP-0198 §4)") {
  SmQueue q(0xFFFFFFFEu);  // two stanzas before the counter wraps
  fill(q, 5);              // h of the last one: 0xFFFFFFFE + 5 = 3 (mod 2^32)
  std::vector<std::string> stored;
  CHECK(q.ack(0xFFFFFFFFu, stored) == SmQueue::AckResult::ok);
  CHECK(q.copy_xml().front() == "<s1/>");
  CHECK(q.ack(1, stored) == SmQueue::AckResult::ok);  // past the wrap: 2 more
  CHECK(q.acked() == 1);
  CHECK(q.copy_xml().front() == "<s3/>");
  CHECK(q.ack(4, stored) == SmQueue::AckResult::too_high);            // one more than was sent
  CHECK(q.ack(0xFFFFFFFFu, stored) == SmQueue::AckResult::too_high);  // going back
  CHECK(q.ack(3, stored) == SmQueue::AckResult::ok);
  CHECK(q.size() == 0);
}

TEST_CASE("sm queue: asks for an ack with the 1st, 9th, 17th... stanza in the queue") {
  SmQueue q;
  std::vector<bool> asks;
  for (int i = 0; i < 17; ++i) asks.push_back(q.push("<x/>", nullptr, false));
  CHECK(asks[0]);
  CHECK(asks[8]);
  CHECK(asks[16]);
  CHECK(std::count(asks.begin(), asks.end(), true) == 3);
  std::vector<std::string> stored;
  REQUIRE(q.ack(17, stored) == SmQueue::AckResult::ok);
  CHECK(q.push("<x/>", nullptr, false));  // an emptied queue asks again with its first
}

TEST_CASE("sm queue: the bound by count fires once, when the queue outgrows it") {
  SmQueue q;
  fill(q, 3);
  CHECK_FALSE(q.over_bound(3, 0));
  fill(q, 1);
  CHECK(q.over_bound(3, 0));
  fill(q, 1);
  CHECK_FALSE(q.over_bound(3, 0));  // once: the session is already being ended
}

TEST_CASE("sm queue: the bound by bytes, and 0 switches a bound off") {
  SmQueue q;
  q.push(std::string(100, 'x'), nullptr, false);
  CHECK_FALSE(q.over_bound(0, 0));
  CHECK_FALSE(q.over_bound(0, 100));
  q.push("y", nullptr, false);
  CHECK(q.over_bound(0, 100));
  SmQueue many;
  fill(many, 1000);
  CHECK_FALSE(many.over_bound(0, 0));
}

TEST_CASE("sm queue: stored messages are confirmed when acked, others are redelivered when taken") {
  SmQueue q;
  q.push("<a/>", msg("m1"), true);   // offline message: confirmed by the ack
  q.push("<b/>", msg("m2"), false);  // live message: redelivered at session end
  q.push("<c/>", nullptr, true);     // 'stored' without a message means nothing
  q.push("<d/>", msg("m4"), true);
  q.push("<e/>", msg("m5"), false);
  std::vector<std::string> stored;
  REQUIRE(q.ack(3, stored) == SmQueue::AckResult::ok);
  CHECK(stored == std::vector<std::string>{"m1"});
  auto taken = q.take_messages();
  REQUIRE(taken.size() == 1);  // m4 is still in offline storage: not taken
  CHECK(taken[0]->id == "m5");
  CHECK(q.size() == 0);
  CHECK(q.bytes() == 0);
}

TEST_CASE("sm queue: counts inbound stanzas") {
  SmQueue q;
  CHECK(q.received() == 0);
  q.count_inbound();
  q.count_inbound();
  CHECK(q.received() == 2);
}

TEST_CASE("sm queue: send-count counts what was sent, and the too-high condition carries h and it") {
  SmQueue q;
  std::vector<std::string> stored;
  q.push("<message/>", nullptr, false);
  q.push("<message/>", nullptr, false);
  CHECK(q.sent() == 2);
  CHECK(q.ack(1, stored) == SmQueue::AckResult::ok);
  CHECK(q.sent() == 2);
  CHECK(q.ack(5, stored) == SmQueue::AckResult::too_high);
  CHECK(q.sent() == 2);
  SmQueue wrap(0xFFFFFFFFu);
  wrap.push("<message/>", nullptr, false);
  CHECK(wrap.sent() == 0);  // modulo 2^32, like h
  // XEP-0198 §4's application condition: h as received, send-count as sent.
  CHECK(handled_count_too_high(999, 2) ==
        "<handled-count-too-high xmlns='urn:xmpp:sm:3' h='999' send-count='2'/>");
}

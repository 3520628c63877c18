#include "adapters/sip/publish_transactions.hpp"

#include <doctest/doctest.h>

#include <string>

using parley::adapters::sip::PublishTransactions;
using Seen = PublishTransactions::Seen;

TEST_CASE("publish transactions: held, absorbed, answered, the same answer again until timer J") {
  PublishTransactions t;
  PublishTransactions::Dest dest;
  dest.fd = 3;
  CHECK(t.seen("k1", 1000) == Seen::fresh);
  REQUIRE(t.hold("k1", 7, "echo", dest, 1000));
  CHECK(t.held(7) != nullptr);
  CHECK(t.held(7)->echo == "echo");
  CHECK(t.seen("k1", 1100) == Seen::pending);   // a retransmission while the core decides
  CHECK(!t.hold("k1", 8, "echo", dest, 1100));  // never two transactions on one key
  const PublishTransactions::Entry* e = t.answer(7, "SIP/2.0 200 OK\r\n", 1200);
  REQUIRE(e);
  CHECK(e->dest.fd == 3);
  CHECK(t.held(7) == nullptr);
  CHECK(t.answer(7, "again", 1300) == nullptr);  // answered once
  const PublishTransactions::Entry* again = nullptr;
  CHECK(t.seen("k1", 1200 + PublishTransactions::kTimerJMs - 1, &again) == Seen::answered);
  REQUIRE(again);
  CHECK(again->wire == "SIP/2.0 200 OK\r\n");
  // Timer J: gone after 32 s (behind the older pending item at most kPendingMs).
  CHECK(t.seen("k1", 1000 + PublishTransactions::kPendingMs) == Seen::fresh);
  CHECK(t.size() == 0);
  CHECK(t.queued() == 0);
}

TEST_CASE("publish transactions: a held request the core never answers expires, drop forgets") {
  PublishTransactions t;
  REQUIRE(t.hold("k", 1, "", {}, 0));
  REQUIRE(t.hold("j", 2, "", {}, 0));
  t.drop(2);
  CHECK(t.pending() == 1);
  CHECK(t.seen("j", 1) == Seen::fresh);
  CHECK(t.seen("k", PublishTransactions::kPendingMs - 1) == Seen::pending);
  CHECK(t.seen("k", PublishTransactions::kPendingMs) == Seen::fresh);
  CHECK(t.pending() == 0);
  CHECK(t.answer(1, "late", PublishTransactions::kPendingMs + 1) == nullptr);
}

TEST_CASE("publish transactions: bounded") {
  PublishTransactions t;
  for (std::size_t i = 0; i < PublishTransactions::kMaxEntries; ++i) {
    REQUIRE(t.hold("k" + std::to_string(i), i + 1, "", {}, 0));
    REQUIRE(t.answer(i + 1, "w", 0));
  }
  CHECK(!t.hold("one more", 1u << 30, "", {}, 1));  // full: the caller leaves it to libre
  CHECK(t.queued() == 2 * PublishTransactions::kMaxEntries);
  // After timer J the table and its queue empty as requests come.
  CHECK(t.seen("x", PublishTransactions::kPendingMs) == Seen::fresh);
  CHECK(t.size() == 0);
  CHECK(t.queued() == 0);
  CHECK(t.hold("one more", 1u << 30, "", {}, PublishTransactions::kPendingMs));
}

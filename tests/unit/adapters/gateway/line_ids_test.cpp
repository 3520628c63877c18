// Which archived line a puppet heard (XEP-0359 stanza-ids shared by every occupant).
#include "adapters/gateway/line_ids.hpp"

#include <doctest/doctest.h>

using namespace parley::adapters::gateway;

TEST_CASE("line ids: the first hearer adds, the others match the same key") {
  RecentLines r;
  auto a = r.cursor_now(), b = r.cursor_now();
  CHECK_FALSE(r.match(a, "bob", "hi"));
  r.add(a, 10, "bob", "hi");
  CHECK(r.match(b, "bob", "hi") == 10);
  CHECK_FALSE(r.match(b, "bob", "hi"));  // matched once: the next "hi" is a new line
  CHECK_FALSE(r.match(a, "bob", "hi"));  // a added it: already matched
}

TEST_CASE("line ids: a line said twice is two lines, matched in order by each puppet") {
  RecentLines r;
  auto a = r.cursor_now(), b = r.cursor_now(), c = r.cursor_now();
  r.add(a, 1, "bob", "ok");
  r.add(a, 2, "bob", "ok");
  CHECK(r.match(b, "bob", "ok") == 1);
  CHECK(r.match(c, "bob", "ok") == 1);
  CHECK(r.match(b, "bob", "ok") == 2);
  CHECK(r.match(c, "bob", "ok") == 2);
  CHECK_FALSE(r.match(b, "bob", "ok"));
  // same body, another nick: another line
  CHECK_FALSE(r.match(c, "eve", "ok"));
}

TEST_CASE("line ids: a puppet's own line, added when sent, is matched by the others out of order") {
  RecentLines r;
  auto alice = r.cursor_now(1), dave = r.cursor_now(1);
  r.add(alice, 1, "bob", "one");     // alice's puppet heard bob first
  r.add(alice, 2, "alice", "mine");  // alice said something (not heard from IRC by her puppet)
  // dave's puppet hears alice's line before bob's (the IRC server's order differs from ours)
  CHECK(r.match(dave, "alice", "mine") == 2);
  CHECK(r.match(dave, "bob", "one") == 1);
  CHECK(dave.base == 3);
  CHECK(dave.mask == 0);
}

TEST_CASE("line ids: a puppet joining later does not match lines from before its cursor") {
  RecentLines r;
  auto a = r.cursor_now();
  r.add(a, 5, "bob", "old");
  auto late = r.cursor_now();
  CHECK(late.base == 6);
  CHECK_FALSE(r.match(late, "bob", "old"));  // a new "old" after the join is a new line
}

TEST_CASE("line ids: bounded, a puppet lagging past the window archives again (never loses a line)") {
  RecentLines r;
  auto fast = r.cursor_now(), slow = r.cursor_now();
  for (std::int64_t k = 1; k <= 200; ++k) r.add(fast, k, "bob", "line " + std::to_string(k));
  CHECK_FALSE(r.match(slow, "bob", "line 1"));  // evicted: kRecent lines are kept
  CHECK(r.match(slow, "bob", "line 200") == 200);
  CHECK(r.match(slow, "bob", "line 150") == 150);  // still recent, not yet matched by slow
}

TEST_CASE("line ids: a cursor window slides past lines never heard") {
  RecentLines::Cursor c;
  RecentLines::mark(c, 100);  // keys 0..99 never heard: forgotten
  CHECK(c.base == 37);
  RecentLines::mark(c, 37);
  CHECK(c.base == 38);
  RecentLines::mark(c, 10);  // below the window: nothing
  CHECK(c.base == 38);
  RecentLines::mark(c, 1000000);
  CHECK(c.base == 1000000 - 63);
  CHECK(c.mask == (std::uint64_t{1} << 63));
}

TEST_CASE("line ids: keys re-read lower than the recent ones start the list over") {
  RecentLines r;
  auto a = r.cursor_now(), b = r.cursor_now();
  r.add(a, 7, "bob", "x");
  r.add(a, 7, "bob", "y");  // the store said 7 again (a queued write had failed)
  CHECK_FALSE(r.match(b, "bob", "x"));
  CHECK(r.match(b, "bob", "y") == 7);
}

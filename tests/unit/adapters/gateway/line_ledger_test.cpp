// adapters/gateway/line_ledger.hpp: lines written without echo-message are kept until a
// marker PING's PONG says they arrived; what a lost link never confirmed goes again, in
// order, ahead of what waits; a link that returns no token resends nothing.
#include "adapters/gateway/line_ledger.hpp"

#include <doctest/doctest.h>

#include "adapters/gateway/marker_ping.hpp"

using namespace parley::adapters::gateway;

namespace {
const auto t0 = LineLedger::Clock::time_point{} + std::chrono::hours(1);
}

TEST_CASE("LineLedger: a marker's PONG confirms what was written before it, not after") {
  LineLedger l(100);
  CHECK_FALSE(l.marker_owed());
  l.written("PRIVMSG #a :1\r\n", t0);
  l.written("PRIVMSG #a :2\r\n", t0);
  CHECK(l.marker_owed());
  const std::string m1 = l.take_marker();
  CHECK(m1 == "PING :parley.1\r\n");
  CHECK(marker_line_of(m1) == 1u);
  CHECK_FALSE(l.marker_owed());
  l.written("PRIVMSG #a :3\r\n", t0);
  CHECK(l.marker_owed());
  l.on_pong("parley.1");
  CHECK(l.size() == 1);    // 3 waits for the next marker
  l.on_pong("parley.7x");  // not ours: confirms nothing
  l.on_pong("parley.0");
  CHECK(l.size() == 1);
  std::deque<std::string> q{"PRIVMSG #a :4\r\n"};
  bool tokenless = true;
  std::size_t dropped = 0;
  CHECK(l.requeue_lost(q, 100, tokenless, dropped) == 1);
  CHECK_FALSE(tokenless);
  CHECK(q == std::deque<std::string>{"PRIVMSG #a :3\r\n", "PRIVMSG #a :4\r\n"});
  CHECK(l.size() == 0);
}

TEST_CASE("LineLedger: a lost link's unconfirmed lines go again in order, ahead of the queue") {
  LineLedger l(100);
  for (int i = 1; i <= 3; ++i) l.written("L" + std::to_string(i) + "\r\n", t0);
  l.take_marker();
  l.written("L4\r\n", t0);
  std::deque<std::string> q{"L5\r\n"};
  bool tokenless = false;
  std::size_t dropped = 0;
  CHECK(l.requeue_lost(q, 100, tokenless, dropped) == 4);
  CHECK(q == std::deque<std::string>{"L1\r\n", "L2\r\n", "L3\r\n", "L4\r\n", "L5\r\n"});
  // The next link starts afresh: its markers continue the numbering (an old PONG cannot
  // come on a new link) and confirm only its own lines.
  l.written("L1\r\n", t0);
  CHECK(l.take_marker() == "PING :parley.2\r\n");
  l.on_pong("parley.2");
  CHECK(l.size() == 0);
}

TEST_CASE(
    "LineLedger: a server that returns no token resends nothing, and the keepalive's token is not that") {
  LineLedger l(100);
  l.written("L1\r\n", t0);
  l.on_pong("irc.example.net");  // before any marker: says nothing
  l.take_marker();
  l.on_pong("parley");  // the keepalive's own PING
  std::deque<std::string> q;
  bool tokenless = true;
  std::size_t dropped = 0;
  CHECK(l.requeue_lost(q, 100, tokenless, dropped) == 1);
  CHECK_FALSE(tokenless);
  q.clear();
  l.written("L2\r\n", t0);
  l.take_marker();
  l.on_pong("irc.example.net");  // answered our marker with its own name
  CHECK(l.requeue_lost(q, 100, tokenless, dropped) == 0);
  CHECK(tokenless);
  CHECK(q.empty());
  CHECK(l.size() == 0);
  // One marker's PONG with our token says the link does return them.
  l.written("L3\r\n", t0);
  l.take_marker();
  l.on_pong("irc.example.net");
  l.on_pong("parley.3");
  l.written("L4\r\n", t0);
  CHECK(l.requeue_lost(q, 100, tokenless, dropped) == 1);
  CHECK_FALSE(tokenless);
}

TEST_CASE("LineLedger: a marker is starved after kMarkerLines lines or kMarkerAge, and is bounded in size") {
  LineLedger l(5);
  CHECK_FALSE(l.marker_starved(t0));
  for (std::size_t i = 0; i < 4; ++i) l.written("x\r\n", t0);
  CHECK_FALSE(l.marker_starved(t0));
  CHECK(l.marker_starved(t0 + kMarkerAge));
  l.take_marker();
  CHECK_FALSE(l.marker_starved(t0 + kMarkerAge));
  for (std::size_t i = 0; i < 10; ++i) l.written("y\r\n", t0);
  CHECK(l.size() == 5);  // the oldest went
  LineLedger big(100);
  for (std::size_t i = 0; i < kMarkerLines; ++i) big.written("z\r\n", t0);
  CHECK(big.marker_starved(t0));
}

TEST_CASE("LineLedger: lines sent again keep the queue's bound: the newest queued go") {
  LineLedger l(100);
  l.written("L1\r\n", t0);
  l.written("L2\r\n", t0);
  std::deque<std::string> q{"Q1\r\n", "Q2\r\n", "Q3\r\n"};
  bool tokenless = false;
  std::size_t dropped = 0;
  CHECK(l.requeue_lost(q, 4, tokenless, dropped) == 2);
  CHECK(q == std::deque<std::string>{"L1\r\n", "L2\r\n", "Q1\r\n", "Q2\r\n"});
  CHECK(dropped == 1);
}

TEST_CASE("LineLedger: lines refused after the bot left the channel go again when it is back, PONG or not") {
  LineLedger l(100);
  for (int i = 1; i <= 4; ++i) l.written("L" + std::to_string(i) + "\r\n", t0);
  l.take_marker();
  CHECK_FALSE(l.refused());  // in the channel: a moderated refusal, not counted
  l.left_channel();          // the KICK, read after the server took L1 and L2
  l.left_channel();          // a PART after it changes nothing: nothing was written since
  CHECK(l.refused());        // L3
  l.on_pong("parley.1");     // confirms L1..L4: L3 and L4 were refused all the same
  CHECK(l.size() == 0);
  CHECK(l.refused());  // L4
  std::deque<std::string> q{"L5\r\n"};
  std::size_t dropped = 0;
  const auto r = l.requeue_refused(q, 100, dropped);
  CHECK(r.again == 2);
  CHECK(r.lost == 0);
  CHECK(q == std::deque<std::string>{"L3\r\n", "L4\r\n", "L5\r\n"});
  CHECK(dropped == 0);
  // Back in the channel: a refusal is the channel's again, and nothing is requeued twice.
  CHECK_FALSE(l.refused());
  CHECK(l.requeue_refused(q, 100, dropped).again == 0);
  CHECK(q.size() == 3);
}

TEST_CASE("LineLedger: refused lines not confirmed yet leave the ledger when queued again") {
  LineLedger l(100);
  for (int i = 1; i <= 3; ++i) l.written("L" + std::to_string(i) + "\r\n", t0);
  l.left_channel();
  CHECK(l.refused());  // L3; no PONG yet
  std::deque<std::string> q;
  std::size_t dropped = 0;
  CHECK(l.requeue_refused(q, 100, dropped).again == 1);
  CHECK(q == std::deque<std::string>{"L3\r\n"});
  CHECK(l.size() == 2);  // L1, L2 wait for their marker
  // A link lost now sends L1 and L2 again, and L3 only from the queue.
  bool tokenless = false;
  CHECK(l.requeue_lost(q, 100, tokenless, dropped) == 2);
  CHECK(q == std::deque<std::string>{"L1\r\n", "L2\r\n", "L3\r\n"});
}

TEST_CASE(
    "LineLedger: a link lost while out of the channel sends the refused lines and the unconfirmed ones") {
  LineLedger l(100);
  for (int i = 1; i <= 3; ++i) l.written("L" + std::to_string(i) + "\r\n", t0);
  const std::string marker = l.take_marker();
  l.left_channel();
  CHECK(l.refused());                                                // L2
  CHECK(l.refused());                                                // L3
  l.on_pong(std::string_view(marker).substr(6, marker.size() - 8));  // "parley.1"
  CHECK(l.size() == 0);
  std::deque<std::string> q{"L4\r\n"};
  bool tokenless = true;
  std::size_t dropped = 0;
  CHECK(l.requeue_lost(q, 3, tokenless, dropped) == 2);
  CHECK(q == std::deque<std::string>{"L2\r\n", "L3\r\n", "L4\r\n"});
  // More 404s than lines kept (a server's own, or lines the bound let go): only what is kept.
  for (int i = 1; i <= 2; ++i) l.written("M" + std::to_string(i) + "\r\n", t0);
  l.left_channel();
  for (int i = 0; i < 5; ++i) CHECK(l.refused());
  q.clear();
  const auto r = l.requeue_refused(q, 1, dropped);
  CHECK(q == std::deque<std::string>{"M1\r\n"});  // the queue's bound: the newest went
  CHECK(r.again == 1);
  CHECK(r.lost == 4);  // three refusals of lines not kept, one line past the bound
  CHECK(dropped == 1);
}

TEST_CASE("LineLedger: a link lost while out sends every unconfirmed line, even past the refused ones") {
  LineLedger l(100);
  for (int i = 1; i <= 4; ++i) l.written("L" + std::to_string(i) + "\r\n", t0);
  l.left_channel();
  CHECK(l.refused());  // L4 only: L1..L3 were taken before the KICK, but no PONG says so
  std::deque<std::string> q;
  bool tokenless = true;
  std::size_t dropped = 0;
  CHECK(l.requeue_lost(q, 100, tokenless, dropped) == 4);
  CHECK_FALSE(tokenless);
  CHECK(q == std::deque<std::string>{"L1\r\n", "L2\r\n", "L3\r\n", "L4\r\n"});
}

TEST_CASE("LineLedger: on a link that returns no token, a lost link while out sends only the refused lines") {
  LineLedger l(100);
  for (int i = 1; i <= 3; ++i) l.written("L" + std::to_string(i) + "\r\n", t0);
  l.take_marker();
  l.on_pong("irc.example.org");  // no token: nothing is ever confirmed
  l.left_channel();
  CHECK(l.refused());  // L3: a refusal says what it was, token or not
  std::deque<std::string> q;
  bool tokenless = false;
  std::size_t dropped = 0;
  CHECK(l.requeue_lost(q, 100, tokenless, dropped) == 1);
  CHECK(tokenless);
  CHECK(q == std::deque<std::string>{"L3\r\n"});
}

TEST_CASE("LineLedger: a second KICK after the bot is back counts only what was written since") {
  LineLedger l(100);
  l.written("L1\r\n", t0);
  l.written("L2\r\n", t0);
  l.left_channel();
  CHECK(l.refused());  // L2
  std::deque<std::string> q;
  std::size_t dropped = 0;
  CHECK(l.requeue_refused(q, 100, dropped).again == 1);
  CHECK(l.size() == 1);      // L1 waits for its marker
  l.written(q.front(), t0);  // L2 written again
  q.pop_front();
  l.written("L3\r\n", t0);
  l.left_channel();
  CHECK(l.refused());  // L3
  CHECK(l.refused());  // L2's second writing
  const auto r = l.requeue_refused(q, 100, dropped);
  CHECK(r.again == 2);
  CHECK(q == std::deque<std::string>{"L2\r\n", "L3\r\n"});
  CHECK(l.size() == 1);  // L1, never refused
}

TEST_CASE("LineLedger: refusals of lines the ledger's bound let go are counted lost, not guessed") {
  LineLedger l(2);
  for (int i = 1; i <= 4; ++i) l.written("L" + std::to_string(i) + "\r\n", t0);  // keeps L3, L4
  l.left_channel();
  for (int i = 0; i < 4; ++i) CHECK(l.refused());  // L1..L4 all refused
  std::deque<std::string> q;
  std::size_t dropped = 0;
  const auto r = l.requeue_refused(q, 100, dropped);
  CHECK(q == std::deque<std::string>{"L3\r\n", "L4\r\n"});
  CHECK(r.again == 2);
  CHECK(r.lost == 2);
}

#include "adapters/gateway/shared_reads.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

using namespace parley::adapters::gateway;

namespace {
// A puppet in one channel: what its user was shown, in order, whoever read it.
struct Fake : SharedReader {
  std::string nick;
  SharedChannel st;
  std::vector<std::string> shown;
  int woken = 0;
  int stepped = 0;  // back_in_step calls
  explicit Fake(std::string n) : nick(std::move(n)) { st.context = this; }
  void take_line(void* ctx, std::string_view who, std::string_view text, bool) override {
    CHECK(ctx == this);
    shown.push_back(std::string(who) + ": " + std::string(text));
  }
  void take_own_line(void* ctx, std::string_view who, std::string_view text) override {
    CHECK(ctx == this);
    own.push_back(std::string(who) + ": " + std::string(text));
  }
  void take_failed(std::string_view) override { FAIL("a delivery threw"); }
  void read_now() override { ++woken; }
  void back_in_step() override { ++stepped; }
  // A witness read: the lines its socket holds (`socket`, when `direct`), through `reads`,
  // as a tick reads them: a line to wait for stays, with the rest.
  bool read_direct() override {
    if (!direct) return false;
    ++direct_reads;
    while (!socket.empty()) {
      const auto& [who, text] = socket.front();
      const auto heard = reads->line(this, st, who, text, false, true);
      if (heard == SharedReads::Heard::wait) break;
      if (heard == SharedReads::Heard::deliver) shown.push_back(who + ": " + text);
      socket.pop_front();
    }
    return true;
  }
  std::vector<std::string> own;  // its own lines the leader handed back (its reflections)
  SharedReads* reads = nullptr;
  bool direct = false;
  int direct_reads = 0;
  std::deque<std::pair<std::string, std::string>> socket;
};

// The channel as one server sends it: what each reader reads, through SharedReads.
struct Channel {
  SharedReads reads;
  void join(Fake& f, std::string_view server = "127.0.0.1 6667 latin-1") {
    f.reads = &reads;
    reads.join(server, "#Test", &f, f.st, f.nick);
  }
  // `f` reads a line from its socket; shown unless it was handed already.
  void read(Fake& f, std::string_view who, std::string_view text) {
    if (reads.line(&f, f.st, who, text, false) == SharedReads::Heard::deliver)
      f.shown.push_back(std::string(who) + ": " + std::string(text));
  }
  void event(Fake& f, std::string_view what) { reads.event(&f, f.st, SharedReads::hash(what)); }
  // They join in turn (the first leads) and each reads bob's "a": the followers are in step.
  void start(std::initializer_list<Fake*> all) {
    for (Fake* f : all) join(*f);
    for (Fake* f : all) read(*f, "bob", "a");
    for (Fake* f : all) REQUIRE(f->st.in_step != f->st.leader);
  }
};
}  // namespace

TEST_CASE("shared reads: a follower in step is handed the leader's lines and skips its own copies") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.join(lead);
  ch.join(f);
  CHECK(lead.st.leader);
  CHECK_FALSE(f.st.leader);
  CHECK_FALSE(f.st.in_step);  // nothing compared yet
  ch.read(lead, "bob", "one");
  CHECK(f.shown.empty());  // not in step: not handed
  ch.read(f, "bob", "one");
  CHECK(f.st.in_step);  // it has read what the leader read
  CHECK(f.stepped == 1);
  ch.read(lead, "bob", "two");
  ch.read(lead, "bob", "three");
  CHECK(f.shown == std::vector<std::string>{"bob: one", "bob: two", "bob: three"});
  ch.read(f, "bob", "two");  // its copies, later
  ch.read(f, "bob", "three");
  CHECK(f.shown == std::vector<std::string>{"bob: one", "bob: two", "bob: three"});
  CHECK(f.st.ahead.empty());
  CHECK(f.st.in_step);
  CHECK(lead.shown == std::vector<std::string>{"bob: one", "bob: two", "bob: three"});
}

TEST_CASE("shared reads: an event the leader reads first stops the handing until the follower read it too") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  ch.event(lead, ":eve JOIN #test");
  CHECK_FALSE(f.st.in_step);
  CHECK(f.woken == 1);         // told to read now
  ch.read(lead, "eve", "hi");  // eve's line must not overtake her join at carol
  CHECK(f.shown == std::vector<std::string>{"bob: a"});
  ch.event(f, ":eve JOIN #test");
  ch.read(f, "eve", "hi");
  CHECK(f.st.in_step);
  ch.read(lead, "bob", "b");
  CHECK(f.shown == std::vector<std::string>{"bob: a", "eve: hi", "bob: b"});
}

TEST_CASE("shared reads: a follower that reads a line before its leader is not handed it again") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  ch.read(f, "bob", "early");  // carol's socket was read first
  CHECK_FALSE(f.st.in_step);
  ch.read(lead, "bob", "early");
  CHECK(f.st.in_step);  // same fingerprint again
  ch.read(lead, "bob", "next");
  ch.read(f, "bob", "next");
  CHECK(f.shown == std::vector<std::string>{"bob: a", "bob: early", "bob: next"});
  // An event read first by the follower likewise.
  ch.event(f, ":bob TOPIC #test :t");
  CHECK_FALSE(f.st.in_step);
  ch.event(lead, ":bob TOPIC #test :t");
  CHECK(f.st.in_step);
}

TEST_CASE("shared reads: a follower on the tick may wait for its leader instead of falling out of step") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  using H = SharedReads::Heard;
  CHECK(ch.reads.line(&f, f.st, "bob", "b", false, true) == H::wait);  // the leader has not read it
  CHECK(f.st.in_step);
  CHECK(f.shown.size() == 1);
  ch.read(lead, "bob", "b");  // now it is handed
  CHECK(ch.reads.line(&f, f.st, "bob", "b", false, true) == H::skip);
  CHECK(f.shown == std::vector<std::string>{"bob: a", "bob: b"});
  // Not allowed to wait (the reader's second try, or much behind it): read as before.
  CHECK(ch.reads.line(&f, f.st, "bob", "c", false, false) == H::deliver);
  CHECK_FALSE(f.st.in_step);
  // A leader never waits.
  CHECK(ch.reads.line(&lead, lead.st, "bob", "d", false, true) == H::deliver);
}

TEST_CASE("shared reads: a member's line is not handed to its speaker and not in the fingerprints") {
  Channel ch;
  Fake lead("alice"), f("carol"), g("dave");
  ch.start({&lead, &f, &g});
  REQUIRE((f.st.in_step && g.st.in_step));
  // dave says something; without echo-message dave never reads it.
  ch.read(lead, "Dave", "from dave");
  CHECK(f.shown.back() == "Dave: from dave");
  CHECK(g.shown.back() == "bob: a");
  ch.read(f, "Dave", "from dave");
  CHECK(f.st.in_step);
  CHECK(g.st.in_step);
  ch.read(g, "bob", "b2");  // dave's copy of bob's next line, before alice's
  CHECK_FALSE(g.st.in_step);
  ch.read(lead, "bob", "b2");
  CHECK(g.st.in_step);  // compared without dave's own line, which dave never reads
  ch.read(lead, "bob", "b");
  CHECK(g.shown.back() == "bob: b");
  ch.read(g, "bob", "b");
  CHECK(g.shown == std::vector<std::string>{"bob: a", "bob: b2", "bob: b"});
}

TEST_CASE("shared reads: the leader hands a follower's own lines back to it, in step or not, notices not") {
  Channel ch;
  Fake lead("alice"), f("carol"), g("dave");
  ch.start({&lead, &f, &g});
  ch.read(lead, "DAVE", "one");  // any case of dave's nick
  CHECK(g.own == std::vector<std::string>{"DAVE: one"});
  CHECK(g.shown.back() == "bob: a");  // a reflection, not a line heard
  CHECK(f.own.empty());
  CHECK(f.shown.back() == "DAVE: one");
  ch.event(lead, ":eve JOIN #test");  // the followers fall out of step
  REQUIRE_FALSE(g.st.in_step);
  ch.read(lead, "dave", "two");
  CHECK(g.own == std::vector<std::string>{"DAVE: one", "dave: two"});
  CHECK(lead.own.empty());
  CHECK(ch.reads.line(&lead, lead.st, "dave", "a notice", true) == SharedReads::Heard::deliver);
  CHECK(g.own.size() == 2);
  ch.read(f, "dave", "three");  // a follower's read hands nothing back
  CHECK(g.own.size() == 2);
}

TEST_CASE("shared reads: a follower that reads a member's line before its leader is not handed it again") {
  Channel ch;
  Fake lead("alice"), f("carol"), g("dave");
  ch.start({&lead, &f, &g});
  REQUIRE(f.st.in_step);
  ch.read(f, "dave", "x");  // carol's copy of dave's line first
  CHECK_FALSE(f.st.in_step);
  ch.read(lead, "dave", "x");
  CHECK(f.st.in_step);
  ch.read(lead, "dave", "y");
  ch.read(f, "dave", "y");
  CHECK(f.shown == std::vector<std::string>{"bob: a", "dave: x", "dave: y"});
}

TEST_CASE("shared reads: followers read the leader's own lines first, a refused one not for ever") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  ch.read(f, "bob", "early");  // carol out of step: nobody to take the lead
  REQUIRE_FALSE(f.st.in_step);
  ch.read(lead, "bob", "early");
  REQUIRE(f.st.in_step);
  ch.event(lead, ":bob TOPIC #test :x");  // out of step again
  REQUIRE_FALSE(f.st.in_step);
  ch.event(f, ":bob TOPIC #test :x");
  REQUIRE(f.st.in_step);
  ch.read(f, "bob", "early2");
  ch.reads.saying(lead.st, {SharedReads::line_hash("alice", "mine", false)});
  CHECK(lead.st.leader);
  ch.read(lead, "bob", "early2");
  CHECK_FALSE(f.st.in_step);
  ch.read(lead, "bob", "b");  // said after alice's line: carol must read hers first
  ch.read(f, "alice", "mine");
  CHECK_FALSE(f.st.in_step);  // not yet at the leader's fingerprint
  ch.read(f, "bob", "b");
  CHECK(f.st.in_step);
  CHECK(f.shown == std::vector<std::string>{"bob: a", "bob: early", "bob: early2", "alice: mine", "bob: b"});
  // A line the server refused never comes: after enough others it is not waited for.
  ch.read(f, "bob", "early3");
  ch.reads.saying(lead.st, {SharedReads::line_hash("alice", "refused", false)});
  ch.read(lead, "bob", "early3");
  for (int i = 0; i <= int(SharedReads::kMaxAwaitMisses); ++i) {
    ch.read(lead, "bob", "x" + std::to_string(i));
    CHECK_FALSE(f.st.in_step);
    ch.read(f, "bob", "x" + std::to_string(i));
  }
  CHECK(f.st.in_step);
}

TEST_CASE("shared reads: a leader that leaves hands over and handed lines are shown once") {
  Channel ch;
  Fake lead("alice"), f1("carol"), f2("dave");
  ch.start({&lead, &f1, &f2});
  ch.read(lead, "bob", "b");  // handed to both, not read by them yet
  ch.reads.leave(&lead, lead.st);
  CHECK(lead.st.group == nullptr);
  CHECK(f1.st.leader);
  CHECK_FALSE(f2.st.in_step);
  ch.read(f1, "bob", "b");  // its handed copy: skipped, not handed on again
  ch.read(f2, "bob", "b");
  CHECK(f2.st.in_step);
  ch.read(f1, "bob", "c");
  ch.read(f2, "bob", "c");
  for (Fake* x : {&f1, &f2}) CHECK(x->shown == std::vector<std::string>{"bob: a", "bob: b", "bob: c"});
  ch.reads.leave(&f1, f1.st);
  ch.reads.leave(&f2, f2.st);
  CHECK(ch.reads.groups() == 0);
}

TEST_CASE("shared reads: a follower handed too many unread lines is read at once, out of step") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.join(lead);
  ch.join(f);
  ch.read(lead, "bob", "a");
  ch.read(f, "bob", "a");
  for (std::size_t i = 0; i < SharedReads::kMaxAhead; ++i) ch.read(lead, "bob", std::to_string(i));
  CHECK_FALSE(f.st.in_step);
  CHECK(f.woken == 1);
  CHECK(f.shown.size() == SharedReads::kMaxAhead + 1);
  ch.read(lead, "bob", "not handed");
  CHECK(f.shown.size() == SharedReads::kMaxAhead + 1);
  for (std::size_t i = 0; i < SharedReads::kMaxAhead; ++i) ch.read(f, "bob", std::to_string(i));
  ch.read(f, "bob", "not handed");
  CHECK(f.shown.size() == SharedReads::kMaxAhead + 2);  // every line once
  CHECK(f.st.in_step);
}

TEST_CASE("shared reads: groups are one server's channel, whatever its case") {
  Channel ch;
  Fake a("alice"), b("carol"), c("dave");
  ch.join(a);
  ch.reads.join("127.0.0.1 6667 latin-1", "#TEST", &b, b.st, b.nick);
  ch.join(c, "10.0.0.2 6667 latin-1");  // another server of the network: its own order
  CHECK(a.st.leader);
  CHECK_FALSE(b.st.leader);
  CHECK(c.st.leader);
  CHECK(ch.reads.groups() == 2);
  ch.reads.nick_changed(&b, "carol2");
  ch.read(a, "bob", "x");
  ch.read(b, "bob", "x");
  ch.read(a, "carol2", "mine");  // b's own line under its new nick: not handed to it
  CHECK(b.shown == std::vector<std::string>{"bob: x"});
  for (Fake* x : {&a, &b, &c}) ch.reads.leave(x, x->st);
  CHECK(ch.reads.groups() == 0);
}

TEST_CASE(
    "shared reads: a leader's own line is handed at the PONG of its marker, after what it read before") {
  Channel ch;
  Fake lead("alice"), f("carol"), g("dave");
  ch.join(lead);
  CHECK_FALSE(ch.reads.said(lead.st, 1, "alice", {"alone"}));  // no follower: no marker needed
  ch.reads.leave(&lead, lead.st);
  ch.start({&lead, &f, &g});
  CHECK(ch.reads.said(lead.st, 1, "alice", {"mine"}));
  CHECK_FALSE(ch.reads.said(f.st, 1, "carol", {"no"}));  // a follower's lines: the leader reads them
  for (Fake* x : {&f, &g}) CHECK((x->st.in_step && x->woken == 0));  // nobody is woken for it
  ch.read(lead, "bob", "before");  // the server sent it before it handled alice's line
  CHECK(f.shown.back() == "bob: before");
  ch.reads.placed(lead.st, 1);
  ch.read(lead, "bob", "after");  // waits behind alice's line until a follower's stream shows it
  CHECK(f.woken == 1);            // the witness reads as its copy comes
  CHECK(g.woken == 0);
  for (Fake* x : {&f, &g}) CHECK(x->shown.back() == "bob: before");
  ch.read(f, "bob", "before");
  ch.read(f, "alice", "mine");  // the witness's copy: consumed, the line handed on
  const std::vector<std::string> want{"bob: a", "bob: before", "alice: mine", "bob: after"};
  for (Fake* x : {&f, &g}) {
    CHECK(x->shown == want);
    if (x == &g) {
      ch.read(g, "bob", "before");  // its copies, on the tick: skipped
      ch.read(g, "alice", "mine");
    }
    ch.read(*x, "bob", "after");
    CHECK(x->shown == want);
    CHECK(x->st.in_step);
    CHECK(x->st.own_ahead.empty());
  }
  CHECK(g.woken == 0);
  CHECK(lead.shown ==
        std::vector<std::string>{"bob: a", "bob: before", "bob: after"});  // its own: reflected by the puppet
}

TEST_CASE("shared reads: a follower on the tick waits for its leader's own line, then skips it") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  using H = SharedReads::Heard;
  ch.reads.said(lead.st, 7, "alice", {"one", "two"});  // one marker after a two-line message
  CHECK(ch.reads.line(&f, f.st, "alice", "one", false, true) == H::wait);  // read before the PONG
  ch.reads.placed(lead.st, 7);
  CHECK(ch.reads.line(&f, f.st, "alice", "one", false, true) == H::skip);
  CHECK(ch.reads.line(&f, f.st, "alice", "two", false, true) == H::skip);
  CHECK(f.shown == std::vector<std::string>{"bob: a", "alice: one", "alice: two"});
  CHECK(f.st.in_step);
}

TEST_CASE("shared reads: a leader's line read by a follower before its PONG is not handed to it again") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  ch.reads.said(lead.st, 1, "alice", {"mine"});
  ch.read(f, "alice", "mine");  // read before the leader's PONG, not on the tick
  CHECK(f.st.in_step);          // level with the leader still: fingerprints leave out its lines
  ch.reads.placed(lead.st, 1);
  ch.read(lead, "bob", "b");
  CHECK(f.shown == std::vector<std::string>{"bob: a", "alice: mine", "bob: b"});
}

TEST_CASE("shared reads: a follower out of step at the PONG reads the leader's line before it is in step") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  ch.reads.said(lead.st, 1, "alice", {"mine"});
  ch.event(lead, ":eve JOIN #test");
  CHECK_FALSE(f.st.in_step);
  ch.reads.placed(lead.st, 1);
  ch.event(f, ":eve JOIN #test");
  CHECK_FALSE(f.st.in_step);  // the same fingerprint, but alice's line is still to come
  ch.read(f, "alice", "mine");
  CHECK(f.st.in_step);
  ch.read(lead, "eve", "hi");
  CHECK(f.shown == std::vector<std::string>{"bob: a", "alice: mine", "eve: hi"});
}

TEST_CASE("shared reads: a leader's line refused before its PONG is handed to nobody") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  ch.reads.said(lead.st, 1, "alice", {"muted"});
  ch.reads.refused(lead.st);  // ERR_CANNOTSENDTOCHAN
  ch.reads.placed(lead.st, 1);
  CHECK(f.shown == std::vector<std::string>{"bob: a"});
  CHECK((f.st.in_step && f.woken == 0));
  // One line of two refused, which one is unknown: the follower reads them itself.
  ch.reads.said(lead.st, 2, "alice", {"x", "y"});
  ch.reads.refused(lead.st);
  ch.reads.placed(lead.st, 2);
  CHECK_FALSE(f.st.in_step);
  CHECK(f.woken == 1);
  ch.read(lead, "bob", "b");  // not handed: alice's line comes first at carol
  ch.read(f, "alice", "y");
  ch.read(f, "bob", "b");
  CHECK(f.shown == std::vector<std::string>{"bob: a", "alice: y", "bob: b"});
}

TEST_CASE(
    "shared reads: the leader's line is its copy at a follower though the server stripped its colours") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  ch.reads.said(lead.st, 1, "alice",
                {"\x02"
                 "bold\x02 text"});
  ch.reads.placed(lead.st, 1);
  ch.read(f, "alice", "bold text");  // InspIRCd +S: the witness's copy
  CHECK(f.shown.back() ==
        "alice: \x02"
        "bold\x02 text");
  CHECK(f.shown.size() == 2);
  CHECK(f.st.in_step);
  CHECK(f.st.own_ahead.empty());
}

TEST_CASE("shared reads: a marker never answered has the followers read the leader's lines themselves") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  ch.reads.said(lead.st, 3, "alice", {"lost"});
  for (int i = 0; i < SharedReads::kPlaceTicks + 5; ++i)
    CHECK(ch.reads.said_overdue(lead.st, 3));  // still queued
  CHECK(f.st.in_step);
  for (int i = 0; i < SharedReads::kPlaceTicks; ++i) CHECK(ch.reads.said_overdue(lead.st, 0));
  CHECK(f.st.in_step);
  CHECK_FALSE(ch.reads.said_overdue(lead.st, 0));  // written kPlaceTicks ago: given up
  CHECK_FALSE(f.st.in_step);
  CHECK(f.woken == 1);
  ch.read(lead, "bob", "b");
  ch.read(f, "alice", "lost");
  ch.read(f, "bob", "b");
  CHECK(f.st.in_step);
  ch.reads.placed(lead.st, 3);  // a late PONG: nothing to hand
  CHECK(f.shown == std::vector<std::string>{"bob: a", "alice: lost", "bob: b"});
}

TEST_CASE("shared reads: with echo-message the leader hands its own lines on as any other") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  ch.read(lead, "bob", "b");
  ch.read(lead, "Alice", "my echo");  // the server's echo of the leader's line
  ch.read(lead, "bob", "c");
  CHECK(f.shown == std::vector<std::string>{"bob: a", "bob: b"});  // until the witness shows the echo's line
  for (const char* t : {"b", "my echo", "c"}) ch.read(f, t[0] == 'm' ? "Alice" : "bob", t);
  CHECK(f.shown == std::vector<std::string>{"bob: a", "bob: b", "Alice: my echo", "bob: c"});
  CHECK(f.st.in_step);
  CHECK(f.woken == 1);  // the witness, once
}

TEST_CASE("shared reads: a leader's echo a follower read first is not handed to it again") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  ch.read(f, "alice", "mine");  // its copy came before the leader's echo
  CHECK(f.st.in_step);          // the leader's lines are in no fingerprint
  ch.read(lead, "alice", "mine");
  ch.read(lead, "bob", "b");
  CHECK(f.shown == std::vector<std::string>{"bob: a", "alice: mine", "bob: b"});
  ch.read(f, "bob", "b");  // its copy
  // Out of step when the leader reads its echo: it reads the line itself before it is in step.
  ch.event(lead, ":eve JOIN #test");
  ch.read(lead, "alice", "again");
  ch.event(f, ":eve JOIN #test");
  CHECK_FALSE(f.st.in_step);
  ch.read(f, "alice", "again");
  CHECK(f.st.in_step);
  CHECK(f.shown.back() == "alice: again");
}

TEST_CASE("shared reads: a leader's own line is handed on once a witness's socket shows it") {
  Channel ch;
  Fake lead("alice"), f("carol"), g("dave");
  ch.start({&lead, &f, &g});
  f.direct = g.direct = true;
  ch.reads.said(lead.st, 1, "alice", {"mine", "two"});
  f.socket = {{"alice", "mine"}, {"alice", "two"}, {"bob", "later"}};  // what the server wrote it
  ch.reads.placed(lead.st, 1);
  CHECK(f.direct_reads == 1);  // the first follower in step is the witness
  CHECK(g.direct_reads == 0);
  CHECK(f.socket.size() == 1);  // its copies consumed; bob's line, not read by the leader yet, kept
  const std::vector<std::string> want{"bob: a", "alice: mine", "alice: two"};
  CHECK(f.shown == want);
  CHECK(g.shown == want);
  CHECK(f.st.own_ahead.empty());  // nothing left for the witness to skip
  ch.read(lead, "bob", "later");
  for (Fake* x : {&f, &g}) {
    CHECK(x->shown.back() == "bob: later");
    CHECK((x->st.in_step && x->woken == 0));
  }
  ch.read(f, "bob", "later");  // its copies, on the tick: skipped
  for (const char* t : {"mine", "two"}) ch.read(g, "alice", t);
  ch.read(g, "bob", "later");
  for (Fake* x : {&f, &g}) CHECK(x->shown.size() == 4);
}

TEST_CASE("shared reads: a leader's line the server dropped without a word is shown to no follower") {
  Channel ch;
  Fake lead("alice"), f("carol"), g("dave");
  ch.start({&lead, &f, &g});
  f.direct = g.direct = true;
  ch.reads.said(lead.st, 1, "alice", {"spam"});
  ch.reads.placed(lead.st, 1);  // the PONG came, the line did not (a silent filter, a shun)
  CHECK(f.direct_reads == 1);
  CHECK((f.woken == 1 && g.woken == 0));  // the witness reads as its copy comes
  ch.read(lead, "bob", "b");              // waits behind alice's line
  for (Fake* x : {&f, &g}) CHECK(x->shown == std::vector<std::string>{"bob: a"});
  ch.read(f, "bob", "b");  // the witness read past where alice's line would be
  for (Fake* x : {&f, &g}) {
    CHECK(!x->st.in_step);  // they read for themselves
    if (x == &g) ch.read(g, "bob", "b");
    CHECK(x->shown == std::vector<std::string>{"bob: a", "bob: b"});
  }
  // The awaited line never comes: given up after kMaxAwaitMisses others, then in step again.
  for (std::uint32_t i = 0; i <= SharedReads::kMaxAwaitMisses; ++i) {
    const std::string t = "m" + std::to_string(i);
    ch.read(lead, "bob", t);
    ch.read(f, "bob", t);
  }
  CHECK(f.st.await.empty());
  CHECK(f.st.in_step);
}

TEST_CASE("shared reads: a leader's line a filter rewrote is shown to followers as the server sent it") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  f.direct = true;
  ch.reads.said(lead.st, 1, "alice", {"a bad word"});
  f.socket = {{"alice", "a *** word"}};
  ch.reads.placed(lead.st, 1);
  CHECK(f.socket.empty());  // not the line said: past it, the witness shows its own copy
  CHECK(!f.st.in_step);
  CHECK(f.shown == std::vector<std::string>{"bob: a", "alice: a *** word"});
}

TEST_CASE("shared reads: a witness recognises the leader's line with its colours stripped") {
  Channel ch;
  Fake lead("alice"), f("carol"), g("dave");
  ch.start({&lead, &f, &g});
  f.direct = true;
  const std::string said =
      "\x02"
      "bold\x02 text";
  ch.reads.said(lead.st, 1, "alice", {said});
  f.socket = {{"alice", "bold text"}};  // InspIRCd +S
  ch.reads.placed(lead.st, 1);
  CHECK(f.socket.empty());
  for (Fake* x : {&f, &g}) {
    CHECK(x->shown.back() == "alice: " + said);  // every user sees the same line
    CHECK(x->st.in_step);
  }
  ch.read(g, "alice", "bold text");
  CHECK(g.shown.size() == 2);
  CHECK(g.st.own_ahead.empty());
}

TEST_CASE("shared reads: with echo-message the leader's echo is handed on once a witness shows it") {
  Channel ch;
  Fake lead("alice"), f("carol"), g("dave");
  ch.start({&lead, &f, &g});
  f.direct = g.direct = true;
  f.socket = {{"alice", "mine"}};
  ch.read(lead, "alice", "mine");  // its echo
  CHECK(f.socket.empty());
  for (Fake* x : {&f, &g}) CHECK(x->shown.back() == "alice: mine");
  // An echo of a line the channel never got (InspIRCd echoes a silently filtered line), and
  // no more lines: given up after kWitnessTicks of the gateway's tick.
  ch.read(lead, "alice", "spam");
  for (int i = 0; i < SharedReads::kWitnessTicks; ++i) CHECK(ch.reads.said_overdue(lead.st, 0));
  CHECK(f.st.in_step);
  CHECK_FALSE(ch.reads.said_overdue(lead.st, 0));
  for (Fake* x : {&f, &g}) {
    CHECK(x->shown.back() == "alice: mine");
    CHECK(!x->st.in_step);
  }
}

TEST_CASE("shared reads: a witness that cannot read now is the witness as its copy comes") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});  // f cannot be read directly
  ch.reads.said(lead.st, 1, "alice", {"mine"});
  ch.reads.placed(lead.st, 1);
  CHECK(f.woken == 1);
  CHECK(f.shown.back() == "bob: a");
  ch.read(f, "alice", "mine");
  CHECK(f.shown.back() == "alice: mine");
  CHECK(f.st.in_step);
}

TEST_CASE("shared reads: a witness that shows a later line of the leader's settles the one it passed") {
  Channel ch;
  Fake lead("alice"), f("carol"), g("dave");
  ch.start({&lead, &f, &g});
  f.direct = true;
  ch.reads.said(lead.st, 1, "alice", {"dropme", "fine"});
  f.socket = {{"alice", "fine"}};  // the filter dropped the first
  ch.reads.placed(lead.st, 1);
  CHECK(f.socket.empty());
  CHECK(f.woken == 1);  // no wait for the dropped line: the followers read for themselves
  CHECK(f.shown == std::vector<std::string>{"bob: a", "alice: fine"});
  CHECK(g.shown == std::vector<std::string>{"bob: a"});
  CHECK((!g.st.in_step && g.woken == 1));
  ch.read(g, "alice", "fine");  // its own copy, read for itself: shown once
  CHECK(g.shown == std::vector<std::string>{"bob: a", "alice: fine"});
  ch.read(lead, "bob", "b");
  ch.read(g, "bob", "b");
  ch.read(f, "bob", "b");
  for (Fake* x : {&f, &g}) CHECK(x->shown.back() == "bob: b");
  CHECK(f.shown.size() == 3);
}

TEST_CASE("shared reads: a follower does not step in while lines wait behind the leader's own line") {
  // Seen at 1,000 msgs/s: a follower read the leader's line and the next ones itself while
  // they waited behind that line for its witness; its fingerprint then matched the leader's,
  // and it was handed them again when the witness showed the line.
  Channel ch;
  Fake lead("alice"), f("carol"), g("dave");
  ch.start({&lead, &f, &g});
  f.direct = g.direct = true;
  ch.reads.said(lead.st, 1, "alice", {"mine"});
  ch.reads.placed(lead.st, 1);  // carol, the witness, has no copy yet
  ch.read(g, "alice", "mine");  // dave reads it first: shown, out of step
  ch.read(lead, "bob", "x");    // waits behind alice's line
  ch.read(g, "bob", "x");       // dave reads it too, before it is handed
  CHECK_FALSE(g.st.in_step);    // the leader's "x" is not handed yet: not in step on it
  ch.read(f, "alice", "mine");  // the witness shows alice's line: it and "x" are handed on
  ch.read(f, "bob", "x");       // carol's copy: skipped
  const std::vector<std::string> want{"bob: a", "alice: mine", "bob: x"};
  CHECK(f.shown == want);
  CHECK(g.shown == want);  // once each
  CHECK(g.st.in_step);     // in step once nothing waits
  ch.read(lead, "bob", "y");
  ch.read(g, "bob", "y");
  CHECK(g.shown.back() == "bob: y");
  CHECK(g.shown.size() == 4);
}

TEST_CASE("shared reads: a follower whose delivery throws is told, and the leader and the others go on") {
  struct Throwing : Fake {
    using Fake::Fake;
    std::vector<std::string> failures;
    void take_line(void* ctx, std::string_view who, std::string_view text, bool notice) override {
      if (text == "boom") throw std::runtime_error("a rendering bug");
      Fake::take_line(ctx, who, text, notice);
    }
    void take_own_line(void* ctx, std::string_view who, std::string_view text) override {
      if (text == "boom") throw std::runtime_error("a reflection bug");
      Fake::take_own_line(ctx, who, text);
    }
    void take_failed(std::string_view what) override { failures.emplace_back(what); }
  };
  Channel ch;
  Fake lead("alice"), f2("dave");
  Throwing f1("carol");
  ch.start({&lead, &f1, &f2});
  CHECK_NOTHROW(ch.read(lead, "bob", "boom"));  // inside the leader's read
  CHECK(f1.failures == std::vector<std::string>{"a rendering bug"});
  CHECK(f2.shown == std::vector<std::string>{"bob: a", "bob: boom"});  // handed after the one that threw
  CHECK(lead.shown == std::vector<std::string>{"bob: a", "bob: boom"});
  ch.read(lead, "bob", "next");
  CHECK(f2.shown.back() == "bob: next");
  // carol's own line, read by the leader: its reflection to her throws; dave is handed it.
  CHECK_NOTHROW(ch.read(lead, "carol", "boom"));
  CHECK(f1.failures == std::vector<std::string>{"a rendering bug", "a reflection bug"});
  CHECK(f2.shown.back() == "carol: boom");
}

TEST_CASE("shared reads: a follower's copy known by its bytes is skipped as its parsed copy would be") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  const std::string raw_line = ":bob!b@h PRIVMSG #test :two";
  const std::uint64_t raw = SharedReads::raw_hash(raw_line);
  const std::uint64_t h = SharedReads::line_hash("bob", "two", false);
  REQUIRE(ch.reads.line(&lead, lead.st, h, "bob", "two", false, false, raw_line) ==
          SharedReads::Heard::deliver);
  CHECK(f.shown == std::vector<std::string>{"bob: a", "bob: two"});  // handed
  // Other bytes (another line, or the same with other tags) are parsed as before.
  CHECK_FALSE(SharedReads::take_handed(f.st, SharedReads::raw_hash("@x=1 " + raw_line), 0));
  // Its own line coming back (echo-message) goes its own way.
  CHECK_FALSE(SharedReads::take_handed(f.st, raw, SharedReads::nick_hash("BOB")));
  const auto seen = f.st.seen;
  CHECK(SharedReads::take_handed(f.st, raw, 0));
  CHECK(f.st.ahead.empty());
  // In its fingerprint as line() puts a read line: its hash and its speaker.
  REQUIRE(f.st.seen == seen + 1);
  const auto& last = f.st.recent[seen % SharedChannel::kRecent];
  CHECK(last.hash == h);
  CHECK(last.speaker == SharedReads::nick_hash("bob"));
  CHECK_FALSE(SharedReads::take_handed(f.st, raw, 0));  // once
  // Still in step, with the fingerprint of a parsed read: the next line is handed as ever.
  CHECK(f.st.in_step);
  ch.read(lead, "bob", "three");
  ch.read(f, "bob", "three");
  CHECK(f.shown == std::vector<std::string>{"bob: a", "bob: two", "bob: three"});
  CHECK(f.st.in_step);
  CHECK(f.woken == 0);
}

TEST_CASE("shared reads: a copy is skipped unparsed only as the next handed line of a follower in step") {
  Channel ch;
  Fake lead("alice"), f("carol");
  ch.start({&lead, &f});
  const auto bytes = [](std::string_view text) { return ":bob!b@h PRIVMSG #test :" + std::string(text); };
  const auto raw = [&](std::string_view text) { return SharedReads::raw_hash(bytes(text)); };
  const auto hand = [&](std::string_view text, std::string_view as_read) {
    ch.reads.line(&lead, lead.st, SharedReads::line_hash("bob", text, false), "bob", text, false, false,
                  as_read);
  };
  hand("one", bytes("one"));
  hand("two", bytes("two"));
  CHECK_FALSE(SharedReads::take_handed(f.st, raw("two"), 0));  // not the next one: parsed (line() finds it)
  hand("x", "");  // handed without its bytes: never matched by them
  CHECK(SharedReads::take_handed(f.st, raw("one"), 0));
  CHECK(SharedReads::take_handed(f.st, raw("two"), 0));
  CHECK_FALSE(SharedReads::take_handed(f.st, 0, 0));
  ch.read(f, "bob", "x");  // parsed: skipped by line()
  CHECK(f.st.ahead.empty());
  CHECK(f.st.in_step);
  // Lines awaited (the leader's own, to read before in step): line() counts them; parsed.
  hand("y", bytes("y"));
  f.st.await.push_back(SharedReads::line_hash("alice", "mine", false));
  CHECK_FALSE(SharedReads::take_handed(f.st, raw("y"), 0));
  f.st.await.clear();
  // Out of step (an event the leader read first): every copy is parsed again.
  ch.event(lead, ":eve JOIN #test");
  REQUIRE_FALSE(f.st.ahead.empty());
  CHECK_FALSE(f.st.in_step);
  CHECK_FALSE(SharedReads::take_handed(f.st, raw("y"), 0));
}

TEST_CASE("shared reads: a follower that becomes the leader parses the copies it was handed") {
  Channel ch;
  Fake lead("alice"), f("carol"), g("dave");
  ch.start({&lead, &f, &g});
  const std::string as_read = ":bob!b@h PRIVMSG #test :two";
  const std::uint64_t raw = SharedReads::raw_hash(as_read);
  ch.reads.line(&lead, lead.st, SharedReads::line_hash("bob", "two", false), "bob", "two", false, false,
                as_read);
  ch.reads.leave(&lead, lead.st);
  REQUIRE(f.st.leader);
  REQUIRE_FALSE(f.st.ahead.empty());  // kept: it skips them (line() does, and compares steps)
  CHECK_FALSE(SharedReads::take_handed(f.st, raw, 0));
  ch.read(f, "bob", "two");
  CHECK(f.shown == std::vector<std::string>{"bob: a", "bob: two"});  // once
}

TEST_CASE("shared reads: line hashes tell apart lines that differ in a byte, a length or a seed") {
  // Every line of 0 to 199 bytes, and every copy of the longest with one byte changed: all
  // distinct, and each the same when hashed again.
  std::string line;
  std::vector<std::uint64_t> seen;
  for (std::size_t n = 0; n < 200; ++n) {
    seen.push_back(SharedReads::hash(line));
    CHECK(SharedReads::hash(line) == seen.back());
    line.push_back(static_cast<char>('a' + n % 26));
  }
  for (std::size_t i = 0; i < line.size(); ++i)
    for (const char c : {'\0', '\x80', '\xff', ' '}) {
      std::string changed = line;
      changed[i] = c;
      seen.push_back(SharedReads::hash(changed));
    }
  // The same bytes with another seed: the nick and text of line_hash cannot trade places.
  seen.push_back(SharedReads::hash(line, 1));
  seen.push_back(SharedReads::hash(line, 2));
  std::sort(seen.begin(), seen.end());
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
  CHECK(SharedReads::line_hash("ab", "c", false) != SharedReads::line_hash("a", "bc", false));
  CHECK(SharedReads::line_hash("a", "b", false) != SharedReads::line_hash("b", "a", false));
  CHECK(SharedReads::line_hash("a", "b", false) != SharedReads::line_hash("a", "b", true));
  CHECK(SharedReads::nick_hash("Alice") == SharedReads::nick_hash("aLICE"));
  CHECK(SharedReads::nick_hash("alice") != SharedReads::nick_hash("alice_"));
}

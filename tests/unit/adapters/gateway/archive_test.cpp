// The gateway's channel archive: XEP-0082 dates, history on join (XEP-0045 §7.2.15) and
// MAM paging (XEP-0313 with XEP-0059 RSM) over a store's room history.
#include "adapters/gateway/archive.hpp"

#include <doctest/doctest.h>

#include "core/store/memory_store.hpp"

using namespace parley::adapters::gateway;
using namespace parley::core;

namespace {

const Timestamp kT0 = *parse_datetime("2026-01-01T00:00:00Z");

// n lines, one a minute from kT0; every third one by "Bob", the others by "alice".
void fill(Store& s, const std::string& key, int n, std::size_t keep = 100000) {
  for (int i = 1; i <= n; ++i) {
    Message m;
    m.kind = MessageKind::room;
    m.nick = i % 3 == 0 ? "Bob" : "alice";
    m.body = "line " + std::to_string(i);
    m.timestamp = kT0 + std::chrono::minutes(i);
    REQUIRE(s.append_history(key, m, keep).ok());
  }
}

std::vector<std::int64_t> keys(const std::vector<StoredMessage>& v) {
  std::vector<std::int64_t> out;
  for (const auto& e : v) out.push_back(e.key);
  return out;
}

MamQuery query(const MamRequest& r, std::size_t page_max = 100) {
  auto p = parse_mam(r, "#c%net@irc.localhost", page_max);
  REQUIRE(p.condition.empty());
  return p.query;
}

}  // namespace

TEST_CASE("parse_datetime: XEP-0082 DateTime with zone, fraction, and refusals") {
  auto t = parse_datetime("2026-12-03T21:27:55Z");
  REQUIRE(t);
  CHECK(to_iso8601(*t) == "2026-12-03T21:27:55.000Z");
  CHECK(to_iso8601(*parse_datetime("2026-12-03T21:27:55.25Z")) == "2026-12-03T21:27:55.250Z");
  CHECK(*parse_datetime("2026-12-03T23:27:55+02:00") == *t);
  CHECK(*parse_datetime("2026-12-03T20:57:55-00:30") == *t);
  for (const char* bad : {"", "2026-12-03", "2026-12-03T21:27:55", "2026-13-03T21:27:55Z", "2026-02-30T00:00:00Z",
                          "2026-12-03T24:00:00Z", "2026-12-03T21:27:55.Z", "2026-12-03T21:27:55Zjunk",
                          "2026-12-03T21:27:55+2:00", "x026-12-03T21:27:55Z", "2026-12-03 21:27:55Z"})
    CHECK_MESSAGE(!parse_datetime(bad), bad);
  CHECK(!parse_datetime(std::string("2026-12-03T21:27:55.") + std::string(100, '1') + "Z"));  // too long
  // outside what the clock holds: clamped, never an overflow (found by fuzz_gateway_archive)
  auto far = parse_datetime("8135-11-28T22:15:00Z");
  REQUIRE(far);
  CHECK(*far > *parse_datetime("2262-01-01T00:00:00Z"));
  auto early = parse_datetime("0001-01-01T00:00:00Z");
  REQUIRE(early);
  CHECK(*early < *parse_datetime("1678-01-01T00:00:00Z"));
}

TEST_CASE("archive_key: per domain, network and channel, case-folded, never a room name") {
  CHECK(archive_key("irc.localhost", "Libera", "#Chan") == archive_key("IRC.localhost", "libera", "#chan"));
  CHECK(archive_key("irc.localhost", "libera", "#chan") != archive_key("irc.example.org", "libera", "#chan"));
  CHECK(archive_key("irc.localhost", "libera", "#chan") != archive_key("irc.localhost", "oftc", "#chan"));
  CHECK(archive_key("a", "b", "c").find('\n') != std::string::npos);
}

TEST_CASE("join_history: newest lines, bounded by join_max, maxstanzas, seconds and since") {
  MemoryStore s;
  fill(s, "k", 30);
  const Timestamp now = kT0 + std::chrono::minutes(31);
  auto h = join_history(s, "k", {}, now, 20);  // no <history/>: the gateway's bound
  REQUIRE(h.ok());
  CHECK(h->size() == 20);
  CHECK(h->front().message.body == "line 11");
  CHECK(h->back().message.body == "line 30");
  CHECK(join_history(s, "k", {.maxstanzas = 3}, now, 20)->front().message.body == "line 28");
  CHECK(join_history(s, "k", {.maxstanzas = 500}, now, 20)->size() == 20);  // never above join_max
  CHECK(join_history(s, "k", {.maxstanzas = 0}, now, 20)->empty());
  CHECK(join_history(s, "k", {.maxchars = 0}, now, 20)->empty());
  CHECK(join_history(s, "k", {}, now, 0)->empty());  // irc.gateway_history_join: 0
  // seconds: lines of the last 5 minutes (26..30)
  CHECK(join_history(s, "k", {.seconds = 300}, now, 20)->size() == 5);
  CHECK(join_history(s, "k", {.since = "2026-01-01T00:25:00Z"}, now, 20)->front().message.body == "line 25");
  // the later of seconds and since wins
  CHECK(join_history(s, "k", {.seconds = 3600, .since = "2026-01-01T00:29:00Z"}, now, 20)->size() == 2);
  CHECK(join_history(s, "k", {.since = "garbage"}, now, 20)->size() == 20);  // malformed: ignored
  CHECK(join_history(s, "none", {}, now, 20)->empty());
}

TEST_CASE("first_within_chars: the newest stanzas that fit") {
  const std::vector<std::string> st = {"aaaa", "bb", "ccc"};
  CHECK(first_within_chars(st, 100) == 0);
  CHECK(first_within_chars(st, 5) == 1);
  CHECK(first_within_chars(st, 4) == 2);
  CHECK(first_within_chars(st, 2) == 3);
  CHECK(first_within_chars({}, 10) == 0);
  // characters, not bytes: "é" is one (two bytes of UTF-8)
  const std::vector<std::string> accented = {"\xc3\xa9\xc3\xa9", "\xc3\xa9\xc3\xa9\xc3\xa9"};
  CHECK(first_within_chars(accented, 5) == 0);
  CHECK(first_within_chars(accented, 4) == 1);
}

TEST_CASE("parse_mam: bounds, ids, dates, with, unknown fields") {
  CHECK(query({}).max == 100);
  CHECK(query({.max = 5}).max == 5);
  CHECK(query({.max = 100000}, 50).max == 50);  // never above gateway_mam_page_max
  CHECK(query({.before = ""}).backward);
  CHECK(query({.before = "7"}).before == 7);
  auto both = query({.after = "3", .before = "9"});
  CHECK_FALSE(both.backward);
  CHECK(both.after == 3);
  CHECK(both.before == 9);
  CHECK(parse_mam({.after = "x1"}, "r", 10).condition == "item-not-found");
  CHECK(parse_mam({.before = "-1"}, "r", 10).condition == "item-not-found");
  CHECK(parse_mam({.after = std::string(40, '9')}, "r", 10).condition == "item-not-found");
  CHECK(parse_mam({.start = "yesterday"}, "r", 10).condition == "bad-request");
  CHECK(parse_mam({.unknown_field = true}, "r", 10).condition == "feature-not-implemented");
  auto w = query({.with = "#c%net@irc.localhost/Bob"});
  REQUIRE(w.with_nick);
  CHECK(*w.with_nick == "Bob");
  CHECK_FALSE(query({.with = "#C%net@irc.localhost"}).with_nick);  // the room itself: everything
  CHECK(query({.with = "someone@else.org"}).match_nothing);
  // the queryid is copied into every result: bounded
  CHECK(parse_mam({.queryid = std::string(kMaxQueryId, 'q')}, "r", 10).condition.empty());
  CHECK(parse_mam({.queryid = std::string(kMaxQueryId + 1, 'q')}, "r", 10).condition == "bad-request");
}

TEST_CASE("mam_page: an id that names no line is item-not-found") {
  MemoryStore s;
  fill(s, "k", 50, 20);  // keys 31..50 kept
  auto ok = mam_page(s, "k", query({.after = "40"}));
  REQUIRE(ok.ok());
  CHECK_FALSE(ok->unknown_id);
  CHECK(keys(ok->items).front() == 41);
  for (const char* id : {"30", "51", "5000"}) {  // gone with the retention, not yet, never
    CAPTURE(id);
    auto after = mam_page(s, "k", query({.after = id}));
    REQUIRE(after.ok());
    CHECK(after->unknown_id);
    CHECK(after->items.empty());
    auto before = mam_page(s, "k", query({.before = id}));
    CHECK(before->unknown_id);
  }
  CHECK(mam_page(s, "k", query({.after = "35", .before = "99"}))->unknown_id);
  CHECK_FALSE(mam_page(s, "k", query({.before = ""}))->unknown_id);  // <before/>: the newest page
  auto nobody = mam_page(s, "k", query({.with = "someone@else.org", .after = "35"}));
  CHECK(nobody->items.empty());
  CHECK(nobody->complete);
  CHECK_FALSE(nobody->unknown_id);
  CHECK(mam_page(s, "k", query({.with = "someone@else.org", .after = "5000"}))->unknown_id);
}

TEST_CASE("mam_page: end takes a line whose stamp, as sent in milliseconds, is end") {
  MemoryStore s;
  Message m;
  m.kind = MessageKind::room;
  m.nick = "alice";
  m.body = "x";
  m.timestamp = kT0 + std::chrono::microseconds(12345678);  // 00:00:12.345678, sent as 12.345
  REQUIRE(s.append_history("k", m, 100).ok());
  CHECK(to_iso8601(m.timestamp) == "2026-01-01T00:00:12.345Z");
  CHECK(mam_page(s, "k", query({.end = "2026-01-01T00:00:12.345Z"}))->items.size() == 1);
  CHECK(mam_page(s, "k", query({.start = "2026-01-01T00:00:12.345Z"}))->items.size() == 1);
  CHECK(mam_page(s, "k", query({.end = "2026-01-01T00:00:12.344Z"}))->items.empty());
  CHECK(mam_page(s, "k", query({.start = "2026-01-01T00:00:12.346Z"}))->items.empty());
}

TEST_CASE("mam_page: forward and backward RSM paging covers every line once") {
  MemoryStore s;
  fill(s, "k", 600);  // more than one store batch
  // forward from the start, pages of 250
  std::vector<std::int64_t> seen;
  std::int64_t after = 0;
  for (int guard = 0; guard < 10; ++guard) {
    MamRequest r{.max = 250};
    if (after) r.after = std::to_string(after);
    auto p = mam_page(s, "k", query(r, 250));
    REQUIRE(p.ok());
    for (auto k : keys(p->items)) seen.push_back(k);
    if (p->complete) break;
    after = p->items.back().key;
  }
  REQUIRE(seen.size() == 600);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == static_cast<std::int64_t>(i + 1));
  // backward from the newest (<before/>), pages of 250: 351..600, 101..350, 1..100 complete
  auto last = mam_page(s, "k", query({.max = 250, .before = ""}, 250));
  REQUIRE(last.ok());
  CHECK(last->items.front().key == 351);
  CHECK(last->items.back().key == 600);
  CHECK_FALSE(last->complete);
  auto mid = mam_page(s, "k", query({.max = 250, .before = "351"}, 250));
  CHECK(mid->items.front().key == 101);
  CHECK_FALSE(mid->complete);
  auto first = mam_page(s, "k", query({.max = 250, .before = "101"}, 250));
  CHECK(first->items.size() == 100);
  CHECK(first->complete);
  // exactly a page left: complete
  CHECK(mam_page(s, "k", query({.max = 100, .after = "500"}))->complete);
  CHECK_FALSE(mam_page(s, "k", query({.max = 99, .after = "500"}))->complete);
  // a range
  CHECK(keys(mam_page(s, "k", query({.after = "10", .before = "14"}))->items) ==
        std::vector<std::int64_t>{11, 12, 13});
  // max 0: nothing, but says whether there is something
  auto none = mam_page(s, "k", query({.max = 0}));
  CHECK(none->items.empty());
  CHECK_FALSE(none->complete);
}

TEST_CASE("mam_page: filters by start, end and with, paging over the filtered set") {
  MemoryStore s;
  fill(s, "k", 600);
  // Bob said every third line: 200 of them; with is matched case-insensitively (IRC nicks)
  auto p = mam_page(s, "k", query({.with = "#c%net@irc.localhost/bob", .max = 150}, 200));
  REQUIRE(p.ok());
  CHECK(p->items.size() == 150);
  CHECK(p->items.front().key == 3);
  CHECK_FALSE(p->complete);
  auto rest = mam_page(s, "k", query({.with = "#c%net@irc.localhost/BOB", .max = 150,
                                      .after = std::to_string(p->items.back().key)},
                                     200));
  CHECK(rest->items.size() == 50);
  CHECK(rest->complete);
  // start/end are inclusive, on the line's time
  auto t = mam_page(s, "k", query({.start = "2026-01-01T00:10:00Z", .end = "2026-01-01T00:12:00Z"}));
  CHECK(keys(t->items) == std::vector<std::int64_t>{10, 11, 12});
  CHECK(t->complete);
  // the last page of a filtered set
  auto lastbob = mam_page(s, "k", query({.with = "#c%net@irc.localhost/Bob", .max = 2, .before = ""}));
  CHECK(keys(lastbob->items) == std::vector<std::int64_t>{597, 600});
  CHECK(mam_page(s, "k", query({.with = "x@y"}))->items.empty());
  CHECK(mam_page(s, "nothing", query({}))->complete);
}

TEST_CASE("mam_page: retention bounds what is there") {
  MemoryStore s;
  fill(s, "k", 50, 10);
  auto p = mam_page(s, "k", query({}));
  CHECK(keys(p->items).front() == 41);
  CHECK(p->items.size() == 10);
}

// history_page: room history read by key ranges, oldest or newest first (the IRC gateway's
// MAM paging), the same in every store, with retention keeping keys growing.
#include <doctest/doctest.h>

#include "core/store/memory_store.hpp"
#include "core/store/sqlite_store.hpp"
#include "core/store/write_behind_store.hpp"
#include "unit/fakes/temp_dir.hpp"

using namespace parley::core;
using parley::test::TempDir;

namespace {

Message line(int i) {
  Message m;
  m.kind = MessageKind::room;
  m.nick = "n" + std::to_string(i);
  m.body = "line " + std::to_string(i);
  m.timestamp = Clock::now();
  return m;
}

std::vector<std::string> bodies(const std::vector<StoredMessage>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.message.body);
  return out;
}

void exercise(Store& store) {
  for (int i = 1; i <= 8; ++i) REQUIRE(store.append_history("r", line(i), 5).ok());  // keeps 4..8
  REQUIRE(store.append_history("other", line(100), 5).ok());
  auto all = store.history_page("r", 0, 0, 100, false);
  REQUIRE(all.ok());
  CHECK(bodies(*all) == std::vector<std::string>{"line 4", "line 5", "line 6", "line 7", "line 8"});
  CHECK(all->front().key == 4);
  CHECK(all->back().key == 8);
  CHECK((*all)[2].message.kind == MessageKind::room);
  CHECK((*all)[2].message.nick == "n6");

  CHECK(bodies(*store.history_page("r", 0, 0, 2, false)) == std::vector<std::string>{"line 4", "line 5"});
  // newest first chosen, oldest first returned
  CHECK(bodies(*store.history_page("r", 0, 0, 2, true)) == std::vector<std::string>{"line 7", "line 8"});
  // bounds are exclusive
  CHECK(bodies(*store.history_page("r", 5, 8, 10, false)) == std::vector<std::string>{"line 6", "line 7"});
  CHECK(bodies(*store.history_page("r", 0, 7, 2, true)) == std::vector<std::string>{"line 5", "line 6"});
  CHECK(store.history_page("r", 8, 0, 10, false)->empty());
  CHECK(store.history_page("r", 0, 0, 0, false)->empty());
  CHECK(store.history_page("nobody", 0, 0, 10, true)->empty());
  // keys keep growing past the retention window
  REQUIRE(store.append_history("r", line(9), 5).ok());
  CHECK(store.history_page("r", 0, 0, 1, true)->front().key == 9);
  auto tail = store.history("r", 2);
  REQUIRE(tail.ok());
  REQUIRE(tail->size() == 2);
  CHECK((*tail)[0].body == "line 8");
  CHECK((*tail)[1].body == "line 9");
}

}  // namespace

TEST_CASE("history_page: memory store") {
  MemoryStore store;
  exercise(store);
}

TEST_CASE("history_page: sqlite store, and through the write-behind decorator") {
  TempDir dir;
  REQUIRE(dir.ok());
  {
    auto store = SqliteStore::open(dir.file("a.db"));
    REQUIRE(store.ok());
    exercise(**store);
  }
  auto inner = SqliteStore::open(dir.file("b.db"));
  REQUIRE(inner.ok());
  WriteBehindStore wb(**inner, {});
  exercise(wb);  // reads wait for the queued appends: read-your-writes
}

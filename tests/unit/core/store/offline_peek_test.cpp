// peek_offline / delete_offline: offline messages are read without deleting and deleted by
// key once delivered (Router::flush_offline), in both stores, across a reopen.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include "core/store/memory_store.hpp"
#include "core/store/sqlite_store.hpp"
#include "unit/fakes/temp_dir.hpp"

using namespace parley::core;
using parley::test::TempDir;

namespace {

Message msg(const std::string& id) {
  Message m;
  m.id = id;
  m.from = Address::user("carol");
  m.to = Address::user("alice");
  m.body = "body " + id;
  m.timestamp = Clock::now();
  return m;
}

std::vector<std::string> ids(const std::vector<StoredMessage>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.message.id);
  return out;
}

void exercise(Store& store) {
  const Address alice = Address::user("alice"), bob = Address::user("bob");
  for (int i = 0; i < 5; ++i) REQUIRE(store.push_offline(alice, msg("a" + std::to_string(i))).ok());
  REQUIRE(store.push_offline(bob, msg("b0")).ok());

  auto first = store.peek_offline(alice, 0, 3);
  REQUIRE(first.ok());
  CHECK(ids(*first) == std::vector<std::string>{"a0", "a1", "a2"});
  CHECK((*first)[0].key < (*first)[1].key);
  CHECK(*store.count_offline(alice) == 5);  // peeking deletes nothing

  auto rest = store.peek_offline(Address::user("alice", "phone"), first->back().key, 10);
  REQUIRE(rest.ok());
  CHECK(ids(*rest) == std::vector<std::string>{"a3", "a4"});

  // Deleting by key: only those, only the user's own.
  REQUIRE(store.delete_offline(alice, {(*first)[0].key, (*first)[2].key}).ok());
  auto b = store.peek_offline(bob, 0, 10);
  REQUIRE(store.delete_offline(alice, {b->at(0).key}).ok());
  CHECK(*store.count_offline(bob) == 1);
  CHECK(ids(*store.peek_offline(alice, 0, 10)) == std::vector<std::string>{"a1", "a3", "a4"});
  REQUIRE(store.delete_offline(alice, {}).ok());
  REQUIRE(store.delete_offline(alice, {12345}).ok());
  CHECK(*store.count_offline(alice) == 3);
}

}  // namespace

TEST_CASE("offline peek and delete by key: memory store") {
  MemoryStore store;
  exercise(store);
}

TEST_CASE("offline peek and delete by key: sqlite store, durable across a reopen") {
  TempDir dir;
  auto path = dir.file("parley.db");
  {
    auto store = SqliteStore::open(path);
    REQUIRE(store.ok());
    exercise(**store);
  }
  auto again = SqliteStore::open(path);
  REQUIRE(again.ok());
  CHECK(ids(*(*again)->peek_offline(Address::user("alice"), 0, 10)) ==
        std::vector<std::string>{"a1", "a3", "a4"});
}

TEST_CASE("offline peek drops an undecodable row instead of blocking the queue") {
  TempDir dir;
  auto path = dir.file("parley.db");
  auto store = SqliteStore::open(path);
  REQUIRE(store.ok());
  REQUIRE((*store)->push_offline(Address::user("alice"), msg("1")).ok());
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "INSERT INTO offline (user, message) VALUES ('local:alice', X'504D01FFFFFF')",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  REQUIRE((*store)->push_offline(Address::user("alice"), msg("3")).ok());
  auto got = (*store)->peek_offline(Address::user("alice"), 0, 10);
  REQUIRE(got.ok());
  CHECK(ids(*got) == std::vector<std::string>{"1", "3"});
  CHECK(*(*store)->count_offline(Address::user("alice")) == 2);
}

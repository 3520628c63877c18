#include "core/store/sqlite_store.hpp"

#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/store/message_codec.hpp"
#include "unit/fakes/temp_dir.hpp"

using namespace parley::core;
using parley::test::TempDir;

namespace {

std::unique_ptr<SqliteStore> open_ok(const std::string& path) {
  auto s = SqliteStore::open(path);
  if (!s) FAIL_CHECK("open failed: " << s.error().text);
  REQUIRE(s.ok());
  return std::move(s).value();
}

// Side-channel access to the file, as an operator with the sqlite3 shell would have.
void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) FAIL_CHECK("raw sql failed: " << (err ? err : "?"));
  sqlite3_free(err);
  sqlite3_close(db);
}

std::string raw_query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    auto* p = sqlite3_column_text(st, 0);
    out = p ? reinterpret_cast<const char*>(p) : "";
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

AccountRecord account(const std::string& user) {
  AccountRecord a;
  a.user = user;
  a.sha1 = {std::string("salt\0\x01\xff", 7), 4096, std::string(20, '\x11'), std::string(20, '\0')};
  a.sha256 = {"salt256", 8192, std::string(32, '\x22'), std::string(32, '\x33')};
  a.created = Clock::now();
  a.digest_realm = "localhost";  // schema v3
  a.ha1_md5 = std::string(32, 'a');
  a.ha1_sha256 = std::string(64, 'b');
  return a;
}

Message message(const std::string& id, const std::string& body) {
  Message m;
  m.id = id;
  m.from = Address::user("bob", "laptop");
  m.to = Address::user("alice");
  m.body = body;
  m.rich = {StyleSpan{0, 3, StyleSpan::bold, 0x123456, std::nullopt}};
  m.subject = "s-" + id;
  m.timestamp = Clock::now();
  m.origin = Origin{Protocol::xmpp, 42, ""};
  return m;
}

StoredRoom room(const std::string& name) {
  StoredRoom r;
  r.name = name;
  r.topic = {"Parley development", "alice", Clock::now()};
  r.modes.invite_only = true;
  r.modes.no_external = false;
  r.modes.key = "sekrit";
  r.modes.limit = 42;
  r.bans = {"*!*@spam.example", "mallory"};
  r.affiliations = {{Address::user("alice"), Affiliation::owner},
                    {*Address::foreign("xmpp:carol@example.org"), Affiliation::member},
                    {Address::user("mallory"), Affiliation::outcast}};
  return r;
}

const Address alice = Address::user("alice");
const Address bob = Address::user("bob");

}  // namespace

TEST_CASE("a new database gets the current schema in WAL mode") {
  TempDir dir;
  REQUIRE(dir.ok());
  auto path = dir.file("parley.db");
  {
    auto store = open_ok(path);
    CHECK(store->schema_version() == static_cast<int>(SqliteStore::migrations().size()));
    CHECK(store->schema_version() >= 1);
  }
  CHECK(raw_query(path, "PRAGMA journal_mode") == "wal");
  // SCRAM keys live here: owner-only, whatever the umask.
  auto perms = std::filesystem::status(path).permissions();
  CHECK((perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
        std::filesystem::perms::none);
  CHECK(raw_query(path,
                  "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                  "('accounts', 'roster', 'roster_groups', 'offline', 'rooms', 'room_bans', "
                  "'room_affiliations', 'room_history')") == "8");
}

TEST_CASE("accounts round-trip, replace, list and delete") {
  TempDir dir;
  auto store = open_ok(dir.file("parley.db"));
  CHECK(store->get_account("alice")->has_value() == false);

  auto a = account("alice");
  REQUIRE(store->put_account(a).ok());
  auto back = store->get_account("alice");
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK(**back == a);

  AccountRecord empty_keys;  // empty blobs must come back empty, not fail as NULL
  empty_keys.user = "zed";
  REQUIRE(store->put_account(empty_keys).ok());
  CHECK(**store->get_account("zed") == empty_keys);

  a.sha256.iterations = 0xffffffffu;
  a.sha1.salt = "new salt";
  REQUIRE(store->put_account(a).ok());
  CHECK(**store->get_account("alice") == a);

  REQUIRE(store->put_account(account("bob")).ok());
  CHECK(*store->list_accounts() == std::vector<std::string>{"alice", "bob", "zed"});
  REQUIRE(store->delete_account("zed").ok());
  CHECK(*store->list_accounts() == std::vector<std::string>{"alice", "bob"});
  auto missing = store->delete_account("nobody");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().condition == Condition::item_not_found);
}

TEST_CASE("roster items round-trip with groups in order") {
  TempDir dir;
  auto store = open_ok(dir.file("parley.db"));
  RosterItem b{
      alice, bob, "Bob", {"Work", "Friends", ""}, SubscriptionState::active, SubscriptionState::pending,
      false};
  RosterItem c{alice,
               *Address::foreign("xmpp:carol@example.org"),
               "",
               {},
               SubscriptionState::none,
               SubscriptionState::terminated,
               true};
  RosterItem other{bob,  alice, "Alice", {"Family"}, SubscriptionState::active, SubscriptionState::active,
                   false};
  REQUIRE(store->put_roster_item(b).ok());
  REQUIRE(store->put_roster_item(c).ok());
  REQUIRE(store->put_roster_item(other).ok());

  auto items = store->roster(alice);
  REQUIRE(items.ok());
  REQUIRE(items->size() == 2);
  CHECK((*items)[0] == b);  // ordered by contact text: "local:bob" < "xmpp:..."
  CHECK((*items)[1] == c);
  CHECK(*store->roster(bob) == std::vector<RosterItem>{other});

  b.groups = {"Friends"};
  b.name = "Bobby";
  b.from = SubscriptionState::active;
  REQUIRE(store->put_roster_item(b).ok());
  CHECK((*store->roster(alice))[0] == b);

  // Rosters are keyed by bare addresses.
  CHECK((*store->roster(Address::user("alice", "phone")))[0] == b);
  REQUIRE(store->delete_roster_item(alice, Address::user("bob", "laptop")).ok());
  CHECK(*store->roster(alice) == std::vector<RosterItem>{c});
  CHECK(raw_query(dir.file("parley.db"), "SELECT count(*) FROM roster_groups WHERE owner = 'local:alice'") ==
        "0");
}

TEST_CASE("offline messages come back in arrival order, once") {
  TempDir dir;
  auto store = open_ok(dir.file("parley.db"));
  std::vector<Message> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back(message("m" + std::to_string(i), "hello " + std::to_string(i)));
    REQUIRE(store->push_offline(i % 2 ? alice : Address::user("alice", "phone"), sent.back()).ok());
  }
  REQUIRE(store->push_offline(bob, message("b0", "for bob")).ok());
  CHECK(*store->count_offline(alice) == 20);
  CHECK(*store->count_offline(Address::user("alice", "laptop")) == 20);  // queues are per bare user
  CHECK(*store->count_offline(bob) == 1);

  auto got = store->take_offline(alice);
  REQUIRE(got.ok());
  CHECK(*got == sent);
  CHECK(*store->count_offline(alice) == 0);
  CHECK(store->take_offline(alice)->empty());
  CHECK(*store->count_offline(bob) == 1);

  // Later messages still queue after earlier ones were taken.
  REQUIRE(store->push_offline(alice, sent[3]).ok());
  REQUIRE(store->push_offline(alice, sent[1]).ok());
  CHECK(*store->take_offline(alice) == std::vector<Message>{sent[3], sent[1]});
}

TEST_CASE("an undecodable offline row is dropped, the rest delivered") {
  TempDir dir;
  auto path = dir.file("parley.db");
  auto store = open_ok(path);
  REQUIRE(store->push_offline(alice, message("1", "one")).ok());
  raw_exec(path, "INSERT INTO offline (user, message) VALUES ('local:alice', X'504D01FFFFFF')");
  REQUIRE(store->push_offline(alice, message("3", "three")).ok());
  auto got = store->take_offline(alice);
  REQUIRE(got.ok());
  REQUIRE(got->size() == 2);
  CHECK((*got)[0].id == "1");
  CHECK((*got)[1].id == "3");
  CHECK(*store->count_offline(alice) == 0);
}

TEST_CASE("delete_account removes roster, offline messages, entries naming it and affiliations") {
  TempDir dir;
  auto store = open_ok(dir.file("parley.db"));
  REQUIRE(store->put_account(account("alice")).ok());
  REQUIRE(store->put_account(account("bob")).ok());
  REQUIRE(store
              ->put_roster_item(
                  {alice, bob, "Bob", {"g"}, SubscriptionState::active, SubscriptionState::active, false})
              .ok());
  REQUIRE(store
              ->put_roster_item(
                  {bob, alice, "Alice", {}, SubscriptionState::active, SubscriptionState::active, false})
              .ok());
  REQUIRE(store->push_offline(alice, message("1", "x")).ok());
  REQUIRE(store->push_offline(bob, message("2", "y")).ok());
  const Address carol = Address::user("carol");
  REQUIRE(
      store
          ->put_roster_item(
              {bob, carol, "Carol", {"friends"}, SubscriptionState::active, SubscriptionState::none, false})
          .ok());
  auto dev = room("dev");
  dev.affiliations = {{bob, Affiliation::admin}, {alice, Affiliation::owner}, {carol, Affiliation::member}};
  REQUIRE(store->put_room(dev).ok());

  REQUIRE(store->delete_account("alice").ok());
  CHECK_FALSE(store->get_account("alice")->has_value());
  CHECK(store->roster(alice)->empty());
  CHECK(*store->count_offline(alice) == 0);
  // Bob keeps his own data, less his entry for alice: a new "alice" is a stranger to him.
  CHECK(store->get_account("bob")->has_value());
  REQUIRE(store->roster(bob)->size() == 1);
  CHECK(store->roster(bob)->front().contact == carol);
  CHECK(raw_query(dir.file("parley.db"), "SELECT count(*) FROM roster_groups") == "1");
  CHECK(*store->count_offline(bob) == 1);
  // The room keeps everyone's affiliation but alice's.
  REQUIRE(store->rooms()->size() == 1);
  CHECK(store->rooms()->front().affiliations == std::vector<std::pair<Address, Affiliation>>{
                                                    {bob, Affiliation::admin}, {carol, Affiliation::member}});
}

TEST_CASE("persistent rooms round-trip with bans and affiliations") {
  TempDir dir;
  auto store = open_ok(dir.file("parley.db"));
  auto dev = room("dev");
  StoredRoom bare;
  bare.name = "empty";
  REQUIRE(store->put_room(dev).ok());
  REQUIRE(store->put_room(bare).ok());
  CHECK(*store->rooms() == std::vector<StoredRoom>{dev, bare});

  dev.bans = {"only-this"};
  dev.affiliations = {{Address::user("bob"), Affiliation::admin}};
  dev.topic.text = "new topic";
  dev.modes = RoomModes{};
  REQUIRE(store->put_room(dev).ok());
  CHECK(*store->rooms() == std::vector<StoredRoom>{dev, bare});

  REQUIRE(store->append_history("dev", message("h", "hi"), 10).ok());
  REQUIRE(store->delete_room("dev").ok());
  CHECK(*store->rooms() == std::vector<StoredRoom>{bare});
  CHECK(store->history("dev", 10)->empty());
  auto path = dir.file("parley.db");
  CHECK(raw_query(path, "SELECT count(*) FROM room_bans") == "0");
  CHECK(raw_query(path, "SELECT count(*) FROM room_affiliations") == "0");
}

TEST_CASE("room history is trimmed to keep and read newest-last") {
  TempDir dir;
  auto store = open_ok(dir.file("parley.db"));
  std::vector<Message> sent;
  for (int i = 0; i < 10; ++i) {
    sent.push_back(message("h" + std::to_string(i), "line " + std::to_string(i)));
    REQUIRE(store->append_history("dev", sent.back(), 4).ok());
  }
  REQUIRE(store->append_history("ops", message("o", "other room"), 4).ok());

  CHECK(*store->history("dev", 100) == std::vector<Message>(sent.end() - 4, sent.end()));
  CHECK(*store->history("dev", 2) == std::vector<Message>(sent.end() - 2, sent.end()));
  CHECK(store->history("dev", 0)->empty());
  CHECK(store->history("nowhere", 5)->empty());
  CHECK(store->history("ops", 5)->size() == 1);
  CHECK(raw_query(dir.file("parley.db"), "SELECT count(*) FROM room_history WHERE room = 'dev'") == "4");

  // A larger keep lets history grow again; keep 0 keeps nothing.
  REQUIRE(store->append_history("dev", message("x", "x"), 1000).ok());
  CHECK(store->history("dev", 100)->size() == 5);
  REQUIRE(store->append_history("dev", message("y", "y"), 0).ok());
  CHECK(store->history("dev", 100)->empty());
}

TEST_CASE("reopening after close keeps every entity") {
  TempDir dir;
  auto path = dir.file("parley.db");
  auto a = account("alice");
  RosterItem item{alice, bob, "Bob", {"Work"}, SubscriptionState::active, SubscriptionState::none, true};
  auto dev = room("dev");
  auto m = message("1", "kept");
  {
    auto store = open_ok(path);
    REQUIRE(store->put_account(a).ok());
    REQUIRE(store->put_roster_item(item).ok());
    REQUIRE(store->put_room(dev).ok());
    REQUIRE(store->append_history("dev", m, 10).ok());
    REQUIRE(store->push_offline(alice, m).ok());
  }
  auto store = open_ok(path);
  CHECK(**store->get_account("alice") == a);
  CHECK(*store->roster(alice) == std::vector<RosterItem>{item});
  CHECK(*store->rooms() == std::vector<StoredRoom>{dev});
  CHECK(*store->history("dev", 10) == std::vector<Message>{m});
  CHECK(*store->take_offline(alice) == std::vector<Message>{m});
}

TEST_CASE("store survives restart: offline messages reach a fresh SqliteStore") {
  TempDir dir;
  auto path = dir.file("parley.db");
  std::vector<Message> sent;
  {
    auto first = open_ok(path);
    for (int i = 0; i < 5; ++i) {
      sent.push_back(message(std::to_string(i), "while you were away " + std::to_string(i)));
      REQUIRE(first->push_offline(alice, sent.back()).ok());
    }
  }
  {
    auto second = open_ok(path);
    CHECK(*second->count_offline(alice) == 5);
    CHECK(*second->take_offline(alice) == sent);
  }
  auto third = open_ok(path);  // what was taken stays taken
  CHECK(*third->count_offline(alice) == 0);
}

TEST_CASE("migrations") {
  TempDir dir;
  auto path = dir.file("parley.db");
  auto current = SqliteStore::migrations();
  std::vector<SqliteStore::Migration> with_v2(current.begin(), current.end());
  with_v2.push_back({static_cast<int>(current.size()) + 1,
                     "ALTER TABLE accounts ADD COLUMN note TEXT NOT NULL DEFAULT 'migrated';"
                     "CREATE TABLE extra (x INTEGER) STRICT;"});

  SUBCASE("an older database is migrated and keeps its data") {
    {
      auto store = open_ok(path);
      REQUIRE(store->put_account(account("alice")).ok());
    }
    auto store = SqliteStore::open(path, with_v2);
    REQUIRE(store.ok());
    CHECK((*store)->schema_version() == static_cast<int>(with_v2.size()));
    CHECK((*store)->get_account("alice")->has_value());
    store = SqliteStore::open(path, with_v2);  // already current: nothing to do
    REQUIRE(store.ok());
    store.value().reset();  // close before looking from outside
    CHECK(raw_query(path, "SELECT note FROM accounts WHERE user = 'alice'") == "migrated");
    CHECK(raw_query(path, "SELECT count(*) FROM extra") == "0");
  }
  SUBCASE("an existing version-0 file is brought up from scratch") {
    raw_exec(path, "PRAGMA user_version = 0;");
    auto store = open_ok(path);
    CHECK(store->schema_version() == static_cast<int>(current.size()));
  }
  SUBCASE("a database from a newer version is refused and left alone") {
    { auto store = open_ok(path); }
    raw_exec(path, "PRAGMA user_version = 99;");
    auto store = SqliteStore::open(path);
    REQUIRE_FALSE(store.ok());
    CHECK(store.error().text.find("99") != std::string::npos);
    CHECK(store.error().text.find("newer") != std::string::npos);
    CHECK(raw_query(path, "PRAGMA user_version") == "99");
  }
  SUBCASE("a failing migration is rolled back whole") {
    { auto store = open_ok(path); }
    std::vector<SqliteStore::Migration> broken(current.begin(), current.end());
    broken.push_back(
        {static_cast<int>(current.size()) + 1, "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;"});
    auto store = SqliteStore::open(path, broken);
    REQUIRE_FALSE(store.ok());
    CHECK(store.error().text.find("migration") != std::string::npos);
    CHECK(raw_query(path, "PRAGMA user_version") == std::to_string(current.size()));
    CHECK(raw_query(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'half'") == "0");
  }
  SUBCASE("a migration list with a gap is a programming error") {
    std::vector<SqliteStore::Migration> gap(current.begin(), current.end());
    gap.push_back({static_cast<int>(current.size()) + 2, "SELECT 1;"});
    CHECK_FALSE(SqliteStore::open(path, gap).ok());
  }
}

TEST_CASE("a file that is not a database is an error, not a crash") {
  TempDir dir;
  auto path = dir.file("parley.db");
  std::ofstream(path) << std::string(8192, 'x');
  auto store = SqliteStore::open(path);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().text.find(path) != std::string::npos);
  CHECK_FALSE(SqliteStore::open(dir.file("no/such/dir/parley.db")).ok());
}

TEST_CASE("kill -9 loses no acknowledged offline message") {
  TempDir dir;
  REQUIRE(dir.ok());
  auto path = dir.file("parley.db");
  constexpr int kTotal = 1000000;  // the child never gets to finish
  constexpr int kKillAfter = 200;

  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: never return into doctest; _exit skips every destructor (the TempDir's too).
    ::close(fds[0]);
    auto store = SqliteStore::open(path);
    if (!store) ::_exit(2);
    for (int i = 0; i < kTotal; ++i) {
      Message m;
      m.id = std::to_string(i);
      m.to = alice;
      m.body = "message number " + std::to_string(i);
      if (!(*store)->push_offline(alice, m)) ::_exit(3);
      char ack = 1;  // push_offline returned: this message is acknowledged
      if (::write(fds[1], &ack, 1) != 1) ::_exit(4);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  long acked = 0;
  char buf[4096];
  while (acked < kKillAfter) {
    auto n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    acked += n;
  }
  ::kill(pid, SIGKILL);
  // Acknowledgements already in the pipe when the child died count too.
  for (;;) {
    auto n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    acked += n;
  }
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  REQUIRE(acked >= kKillAfter);
  MESSAGE("acknowledged before the kill: " << acked);

  auto store = open_ok(path);
  auto got = store->take_offline(alice);
  REQUIRE(got.ok());
  // Everything acknowledged is there, in order; at most one more (committed, not yet acked).
  REQUIRE(static_cast<long>(got->size()) >= acked);
  CHECK(static_cast<long>(got->size()) <= acked + 1);
  for (std::size_t i = 0; i < got->size(); ++i) {
    CHECK((*got)[i].id == std::to_string(i));
    CHECK((*got)[i].body == "message number " + std::to_string(i));
  }
}

TEST_CASE("offline usage: count, bytes, and one sender's part") {
  TempDir dir;
  auto store = open_ok(dir.file("parley.db"));
  CHECK(*store->offline_usage(alice, "local:mallory") == OfflineUsage{});
  const Message m1 = message("1", "one"), m2 = message("2", "two two"), m3 = message("3", "three");
  REQUIRE(store->push_offline(alice, m1, "local:mallory").ok());
  REQUIRE(store->push_offline(alice, m2, "local:mallory").ok());
  REQUIRE(store->push_offline(alice, m3, "local:carol").ok());
  REQUIRE(store->push_offline(bob, m3, "local:mallory").ok());
  const std::size_t b1 = encode_message(m1).size(), b2 = encode_message(m2).size(),
                    b3 = encode_message(m3).size();
  CHECK(*store->offline_usage(alice, "local:mallory") == OfflineUsage{3, b1 + b2 + b3, 2, b1 + b2});
  CHECK(*store->offline_usage(Address::user("alice", "phone"), "local:carol") ==
        OfflineUsage{3, b1 + b2 + b3, 1, b3});
  CHECK(*store->offline_usage(alice, "nobody") == OfflineUsage{3, b1 + b2 + b3, 0, 0});
  CHECK(store->take_offline(alice)->size() == 3);
  CHECK(*store->offline_usage(alice, "local:mallory") == OfflineUsage{});
  CHECK(store->offline_usage(bob, "local:mallory")->sender_messages == 1);
}

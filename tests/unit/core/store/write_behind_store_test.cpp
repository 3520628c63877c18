// WriteBehindStore: commits off the caller's thread, in order, grouped, bounded, drained at
// destruction, failures reported; and SqliteStore's batch (group commit) hook under it.
#include "core/store/write_behind_store.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/store/memory_store.hpp"
#include "core/store/sqlite_store.hpp"
#include "unit/fakes/temp_dir.hpp"

using namespace parley::core;
using parley::test::TempDir;

namespace {

Message msg(int i) {
  Message m;
  m.id = std::to_string(i);
  m.from = Address::user("carol");
  m.to = Address::user("alice");
  m.body = "body " + std::to_string(i);
  return m;
}

std::vector<std::string> ids(const std::vector<Message>& v) {
  std::vector<std::string> out;
  for (const auto& m : v) out.push_back(m.id);
  return out;
}

std::vector<std::string> numbers(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(std::to_string(i));
  return out;
}

// A MemoryStore behind a gate: end_batch blocks while the gate is closed, so a test can
// hold the writer in the middle of a commit. Counts batches; fails put_room("bad").
class GatedStore final : public Store {
 public:
  void close_gate() {
    std::lock_guard l(mu_);
    open_ = false;
  }
  void open_gate() {
    {
      std::lock_guard l(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool writer_waiting() {
    std::lock_guard l(mu_);
    return waiting_;
  }
  int batches() const { return batches_.load(); }
  bool fail_commit = false;

  Status begin_batch() override { return {}; }
  Status end_batch() override {
    std::unique_lock l(mu_);
    waiting_ = true;
    cv_.wait(l, [&] { return open_; });
    waiting_ = false;
    ++batches_;
    if (fail_commit) return make_error(Condition::internal_server_error, "disk full");
    return {};
  }

  Status put_account(const AccountRecord& a) override { return m_.put_account(a); }
  Result<std::optional<AccountRecord>> get_account(const std::string& u) override {
    return m_.get_account(u);
  }
  Status delete_account(const std::string& u) override { return m_.delete_account(u); }
  Result<std::vector<std::string>> list_accounts() override { return m_.list_accounts(); }
  Status put_roster_item(const RosterItem& i) override { return m_.put_roster_item(i); }
  Status delete_roster_item(const Address& o, const Address& c) override {
    return m_.delete_roster_item(o, c);
  }
  Result<std::vector<RosterItem>> roster(const Address& o) override { return m_.roster(o); }
  using Store::push_offline;
  Status push_offline(const Address& u, const Message& m, const std::string& s) override {
    return m_.push_offline(u, m, s);
  }
  Result<OfflineUsage> offline_usage(const Address& u, const std::string& s) override {
    return m_.offline_usage(u, s);
  }
  Result<std::vector<Message>> take_offline(const Address& u) override { return m_.take_offline(u); }
  Result<std::size_t> count_offline(const Address& u) override { return m_.count_offline(u); }
  Result<std::vector<StoredMessage>> peek_offline(const Address& u, std::int64_t a, std::size_t l) override {
    return m_.peek_offline(u, a, l);
  }
  Status delete_offline(const Address& u, const std::vector<std::int64_t>& k) override {
    return m_.delete_offline(u, k);
  }
  Status put_room(const StoredRoom& r) override {
    if (r.name == "bad") return make_error(Condition::internal_server_error, "cannot write bad");
    return m_.put_room(r);
  }
  Status delete_room(const std::string& n) override { return m_.delete_room(n); }
  Result<std::vector<StoredRoom>> rooms() override { return m_.rooms(); }
  Status append_history(const std::string& r, const Message& m, std::size_t k) override {
    return m_.append_history(r, m, k);
  }
  Result<std::vector<Message>> history(const std::string& r, std::size_t l) override {
    return m_.history(r, l);
  }
  int schema_version() override { return 1; }

 private:
  MemoryStore m_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true, waiting_ = false;
  std::atomic<int> batches_{0};
};

// Polls `pred` for up to 5 s: for states another thread reaches.
template <class P>
bool eventually(P pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

}  // namespace

TEST_CASE("write-behind: writes apply in order and a read sees every write made before it") {
  MemoryStore inner;
  WriteBehindStore store(inner, {});
  const Address alice = Address::user("alice");
  for (int i = 0; i < 200; ++i) {
    REQUIRE(store.push_offline(alice, msg(i)).ok());
    // The quota read before each offline message (Router::store_offline) sees them all.
    auto usage = store.offline_usage(alice, "carol@localhost");
    REQUIRE(usage.ok());
    CHECK(usage->messages == static_cast<std::size_t>(i + 1));
  }
  auto taken = store.take_offline(alice);
  REQUIRE(taken.ok());
  CHECK(ids(*taken) == numbers(200));
  CHECK(store.count_offline(alice).value() == 0);
}

TEST_CASE("write-behind: a read waits for the commit of the writes before it") {
  GatedStore inner;
  WriteBehindStore store(inner, {});
  inner.close_gate();
  AccountRecord a;
  a.user = "alice";
  REQUIRE(store.put_account(a).ok());  // returns at once: the writer is held at its commit
  REQUIRE(eventually([&] { return inner.writer_waiting(); }));
  std::atomic<bool> read_done{false};
  std::thread reader([&] {
    auto r = store.get_account("alice");
    CHECK((r.ok() && r->has_value()));
    read_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(read_done.load());  // still waiting for the commit
  inner.open_gate();
  reader.join();
  CHECK(read_done.load());
  CHECK(store.stats().read_waits == 1);
  // Nothing pending: the next read does not wait.
  CHECK(store.get_account("alice").ok());
  CHECK(store.stats().read_waits == 1);
}

TEST_CASE("write-behind: writes queued during a commit go into the next one (group commit)") {
  GatedStore inner;
  WriteBehindStore store(inner, {});
  inner.close_gate();
  REQUIRE(store.append_history("room", msg(0), 1000).ok());
  REQUIRE(eventually([&] { return inner.writer_waiting(); }));
  for (int i = 1; i < 100; ++i) REQUIRE(store.append_history("room", msg(i), 1000).ok());
  inner.open_gate();
  REQUIRE(store.sync().ok());
  CHECK(inner.batches() == 2);  // the first write alone, then the 99 that queued behind it
  CHECK(store.stats().commits == 2);
  CHECK(store.stats().writes == 100);
  CHECK(ids(store.history("room", 1000).value()) == numbers(100));
}

TEST_CASE("write-behind: a full queue makes the writer's caller wait, and drops nothing") {
  GatedStore inner;
  WriteBehindStore::Options o;
  o.queue_limit = 4;
  WriteBehindStore store(inner, o);
  inner.close_gate();
  std::atomic<int> returned{0};
  std::thread producer([&] {
    for (int i = 0; i < 10; ++i) {
      CHECK(store.append_history("room", msg(i), 1000).ok());
      ++returned;
    }
  });
  REQUIRE(eventually([&] { return store.stats().full_waits == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(returned.load() == 4);  // the bound: four writes not yet durable, the fifth waits
  inner.open_gate();
  producer.join();
  REQUIRE(store.sync().ok());
  CHECK(ids(store.history("room", 1000).value()) == numbers(10));
}

TEST_CASE("write-behind: destruction drains the queue") {
  GatedStore inner;
  std::thread opener;
  {
    WriteBehindStore store(inner, {});
    inner.close_gate();
    for (int i = 0; i < 50; ++i) REQUIRE(store.append_history("room", msg(i), 1000).ok());
    opener = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      inner.open_gate();
    });
  }  // the destructor waits for the held commit and then commits the rest
  opener.join();
  CHECK(ids(inner.history("room", 1000).value()) == numbers(50));
}

TEST_CASE("write-behind: sync_for gives up at its bound while a commit is held, then succeeds") {
  GatedStore inner;
  WriteBehindStore store(inner, {});
  inner.close_gate();
  for (int i = 0; i < 20; ++i) REQUIRE(store.append_history("room", msg(i), 1000).ok());
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(store.sync_for(std::chrono::milliseconds(100)));
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(100));
  inner.open_gate();
  CHECK(store.sync_for(std::chrono::seconds(10)));
  CHECK(ids(inner.history("room", 1000).value()) == numbers(20));
}

TEST_CASE("write-behind: a write that fails after its call returned is reported") {
  GatedStore inner;
  std::vector<std::string> reported;
  std::mutex mu;
  WriteBehindStore::Options o;
  o.on_error = [&](std::string_view what, const Error& e) {
    std::lock_guard l(mu);
    reported.push_back(std::string(what) + ": " + e.text);
  };
  WriteBehindStore store(inner, o);
  StoredRoom good, bad;
  good.name = "good";
  bad.name = "bad";
  CHECK(store.put_room(bad).ok());  // queued: the failure comes later
  CHECK(store.put_room(good).ok());
  auto st = store.sync();
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().text == "cannot write bad");
  CHECK(store.sync().ok());  // reported once
  CHECK(store.stats().errors == 1);
  CHECK(store.rooms().value().size() == 1);  // the other write of the batch stays
  std::lock_guard l(mu);
  CHECK(reported == std::vector<std::string>{"put_room: cannot write bad"});
}

TEST_CASE("write-behind: a failed group commit reports every write it lost") {
  GatedStore inner;
  inner.fail_commit = true;
  std::atomic<int> reports{0};
  WriteBehindStore::Options o;
  o.on_error = [&](std::string_view what, const Error&) {
    if (what == "commit") ++reports;
  };
  WriteBehindStore store(inner, o);
  inner.close_gate();
  REQUIRE(store.append_history("room", msg(0), 10).ok());
  REQUIRE(eventually([&] { return inner.writer_waiting(); }));
  for (int i = 1; i < 4; ++i) REQUIRE(store.append_history("room", msg(i), 10).ok());
  inner.open_gate();
  CHECK_FALSE(store.sync().ok());
  CHECK(store.stats().errors == 4);
  CHECK(reports.load() == 2);  // one per failed commit
}

TEST_CASE("write-behind over SQLite: group commit, order and a drained, durable queue") {
  TempDir dir;
  REQUIRE(dir.ok());
  const auto path = dir.file("parley.db");
  const Address alice = Address::user("alice");
  constexpr int kWrites = 2000;
  {
    auto sqlite = SqliteStore::open(path);
    REQUIRE(sqlite.ok());
    WriteBehindStore store(**sqlite, {});
    for (int i = 0; i < kWrites; ++i) REQUIRE(store.append_history("room", msg(i), kWrites).ok());
    for (int i = 0; i < 10; ++i) REQUIRE(store.push_offline(alice, msg(i)).ok());
    INFO("commits: " << store.stats().commits);
    // Each commit syncs the WAL; the burst queues up behind them.
    CHECK(store.stats().commits < static_cast<std::uint64_t>(kWrites) / 2);
  }  // the decorator drains, then the database closes
  auto reopened = SqliteStore::open(path);
  REQUIRE(reopened.ok());
  CHECK(ids((*reopened)->history("room", kWrites).value()) == numbers(kWrites));
  CHECK(ids((*reopened)->take_offline(alice).value()) == numbers(10));
}

TEST_CASE("sqlite batch: calls share one transaction that end_batch commits") {
  TempDir dir;
  REQUIRE(dir.ok());
  auto store = SqliteStore::open(dir.file("parley.db"));
  REQUIRE(store.ok());
  SqliteStore& s = **store;
  REQUIRE(s.begin_batch().ok());
  CHECK_FALSE(s.begin_batch().ok());  // no nesting
  REQUIRE(s.append_history("room", msg(0), 10).ok());
  REQUIRE(s.append_history("room", msg(1), 10).ok());
  REQUIRE(s.end_batch().ok());
  CHECK(ids(s.history("room", 10).value()) == numbers(2));
  // Outside a batch, calls commit on their own again.
  REQUIRE(s.append_history("room", msg(2), 10).ok());
  CHECK(ids(s.history("room", 10).value()) == numbers(3));
}

namespace {

RosterItem item(const char* owner, const char* contact, SubscriptionState from) {
  RosterItem i;
  i.owner = Address::user(owner);
  i.contact = Address::user(contact);
  i.from = from;
  return i;
}

std::vector<std::string> contacts(const Result<std::vector<RosterItem>>& r) {
  std::vector<std::string> out;
  if (r.ok())
    for (const auto& i : *r)
      out.push_back(i.contact.to_string() + "/" + std::to_string(static_cast<int>(i.from)));
  return out;
}

}  // namespace

TEST_CASE("write-behind: rosters are cached until a write that may change them") {
  MemoryStore inner;
  WriteBehindStore store(inner, {});
  const Address alice = Address::user("alice");
  REQUIRE(store.put_account(AccountRecord{.user = "alice"}).ok());
  REQUIRE(store.put_account(AccountRecord{.user = "bob"}).ok());
  REQUIRE(store.put_roster_item(item("alice", "bob", SubscriptionState::none)).ok());
  const auto first = contacts(store.roster(alice));
  CHECK(first.size() == 1);
  CHECK(contacts(store.roster(alice)) == first);
  CHECK(store.stats().roster_hits == 1);

  // A write the cache did not see (straight to the inner store) is not read: the decorator
  // must be the store's only writer, as in the daemon.
  REQUIRE(inner.put_roster_item(item("alice", "carol", SubscriptionState::none)).ok());
  CHECK(contacts(store.roster(alice)) == first);

  // Its own writes drop the owner's roster: the next read sees them, and every later one.
  REQUIRE(store.put_roster_item(item("alice", "bob", SubscriptionState::active)).ok());
  const auto changed = contacts(store.roster(alice));
  CHECK(changed.size() == 2);
  CHECK(changed != first);
  CHECK(contacts(store.roster(alice)) == changed);
  REQUIRE(store.delete_roster_item(alice, Address::user("carol")).ok());
  CHECK(contacts(store.roster(alice)).size() == 1);

  // Another owner's write leaves alice's cached; deleting bob's account takes alice's entry
  // naming bob (the store's rule), so it drops every cached roster.
  const auto hits = store.stats().roster_hits;
  REQUIRE(store.put_roster_item(item("bob", "alice", SubscriptionState::pending)).ok());
  CHECK(contacts(store.roster(alice)).size() == 1);
  CHECK(store.stats().roster_hits == hits + 1);
  REQUIRE(store.delete_account("bob").ok());
  CHECK(contacts(store.roster(alice)).empty());
  CHECK(contacts(store.roster(Address::user("bob"))).empty());
}

TEST_CASE("write-behind: the roster cache is bounded, and off with roster_cache 0") {
  MemoryStore inner;
  WriteBehindStore::Options opts;
  opts.roster_cache = 2;
  WriteBehindStore store(inner, opts);
  for (const char* u : {"a", "b", "c"}) {
    REQUIRE(store.put_account(AccountRecord{.user = u}).ok());
    REQUIRE(store.put_roster_item(item(u, "z", SubscriptionState::none)).ok());
  }
  for (const char* u : {"a", "b", "c"}) CHECK(contacts(store.roster(Address::user(u))).size() == 1);
  CHECK(store.stats().roster_hits == 0);
  // Two of the three are kept.
  int hits = 0;
  for (const char* u : {"a", "b", "c"}) {
    const auto before = store.stats().roster_hits;
    (void)store.roster(Address::user(u));
    hits += static_cast<int>(store.stats().roster_hits - before);
  }
  CHECK(hits >= 1);
  CHECK(hits <= 2);

  MemoryStore inner2;
  WriteBehindStore::Options off;
  off.roster_cache = 0;
  WriteBehindStore uncached(inner2, off);
  REQUIRE(uncached.put_roster_item(item("a", "z", SubscriptionState::none)).ok());
  (void)uncached.roster(Address::user("a"));
  REQUIRE(inner2.put_roster_item(item("a", "y", SubscriptionState::none)).ok());
  CHECK(contacts(uncached.roster(Address::user("a"))).size() == 2);
  CHECK(uncached.stats().roster_hits == 0);
}

TEST_CASE("write-behind over SQLite: a roster changed by another connection (process) is read again") {
  TempDir dir;
  REQUIRE(dir.ok());
  const auto path = dir.file("parley.db");
  auto sqlite = SqliteStore::open(path);
  REQUIRE(sqlite.ok());
  // data_version read at every call here; the reuse window has its own test below.
  WriteBehindStore store(**sqlite, {.version_reuse = std::chrono::microseconds{0}});
  const Address alice = Address::user("alice");
  REQUIRE(store.put_account(AccountRecord{.user = "alice"}).ok());
  REQUIRE(store.put_account(AccountRecord{.user = "bob"}).ok());
  REQUIRE(store.put_roster_item(item("alice", "bob", SubscriptionState::active)).ok());
  REQUIRE(contacts(store.roster(alice)).size() == 1);
  REQUIRE(contacts(store.roster(alice)).size() == 1);
  const auto hits = store.stats().roster_hits;
  CHECK(hits >= 1);
  // Our own commits do not count as another connection's: still cached.
  REQUIRE(store.put_roster_item(item("bob", "alice", SubscriptionState::active)).ok());
  REQUIRE(store.sync().ok());
  (void)store.roster(alice);
  CHECK(store.stats().roster_hits == hits + 1);
  {
    // The offline `parleyd account remove` while the daemon runs: its own connection.
    auto other = SqliteStore::open(path);
    REQUIRE(other.ok());
    REQUIRE((*other)->delete_account("bob").ok());
  }
  CHECK(contacts(store.roster(alice)).empty());
  CHECK(store.stats().roster_hits == hits + 1);  // read again, not from the cache
}

TEST_CASE("write-behind over SQLite: data_version is read again only after version_reuse") {
  TempDir dir;
  REQUIRE(dir.ok());
  const auto path = dir.file("parley.db");
  auto sqlite = SqliteStore::open(path);
  REQUIRE(sqlite.ok());
  const Address alice = Address::user("alice");
  auto other_removes = [&](const std::string& user) {
    auto other = SqliteStore::open(path);
    REQUIRE(other.ok());
    REQUIRE((*other)->delete_account(user).ok());
  };
  {
    // A long window: another connection's commit is not seen within it (the memory
    // answers; this is what saves a PUBLISH its second read transaction).
    WriteBehindStore store(**sqlite, {.version_reuse = std::chrono::seconds{60}});
    REQUIRE(store.put_account(AccountRecord{.user = "alice"}).ok());
    REQUIRE(store.put_account(AccountRecord{.user = "bob"}).ok());
    REQUIRE(store.put_roster_item(item("alice", "bob", SubscriptionState::active)).ok());
    REQUIRE(contacts(store.roster(alice)).size() == 1);
    const auto v = store.data_version();
    REQUIRE(v.ok());
    other_removes("bob");
    CHECK(store.data_version().value() == *v);
    CHECK(contacts(store.roster(alice)).size() == 1);  // still the cached roster
  }
  {
    // A short one: seen once it has passed.
    WriteBehindStore store(**sqlite, {.version_reuse = std::chrono::milliseconds{20}});
    REQUIRE(store.put_account(AccountRecord{.user = "carol"}).ok());
    REQUIRE(store.put_roster_item(item("alice", "carol", SubscriptionState::active)).ok());
    REQUIRE(store.sync().ok());
    const auto before = contacts(store.roster(alice)).size();
    REQUIRE(before >= 1);
    other_removes("carol");
    CHECK(eventually([&] { return contacts(store.roster(alice)).size() == before - 1; }));
  }
}

// Issue 9, "no lost message": offline messages leave storage only once delivered, and room
// saves/history report store failures.
#include <doctest/doctest.h>

#include "unit/core/fixture.hpp"

using namespace parley::core;
using namespace parley::test;

namespace {

// A sink that confirms offline messages itself, as the XMPP and IRC adapters do.
class ConfirmingSink : public FakeSink {
 public:
  bool on_stored_message(const MessagePtr& m) override {
    on_message(m);
    stored.push_back(m);
    return true;
  }
  std::vector<MessagePtr> stored;
};

// A Store whose writes can be made to fail (disk full), over a MemoryStore.
class FailingStore final : public Store {
 public:
  bool fail_writes = false;
  MemoryStore inner;

  Status full() const { return make_error(Condition::resource_constraint, "disk full"); }

  Status put_account(const AccountRecord& a) override { return fail_writes ? full() : inner.put_account(a); }
  Result<std::optional<AccountRecord>> get_account(const std::string& u) override {
    return inner.get_account(u);
  }
  Status delete_account(const std::string& u) override {
    return fail_writes ? full() : inner.delete_account(u);
  }
  Result<std::vector<std::string>> list_accounts() override { return inner.list_accounts(); }
  Status put_roster_item(const RosterItem& i) override {
    return fail_writes ? full() : inner.put_roster_item(i);
  }
  Status delete_roster_item(const Address& o, const Address& c) override {
    return fail_writes ? full() : inner.delete_roster_item(o, c);
  }
  Result<std::vector<RosterItem>> roster(const Address& o) override { return inner.roster(o); }
  using Store::push_offline;
  Status push_offline(const Address& u, const Message& m, const std::string& sender) override {
    return fail_writes ? full() : inner.push_offline(u, m, sender);
  }
  Result<OfflineUsage> offline_usage(const Address& u, const std::string& sender) override {
    return inner.offline_usage(u, sender);
  }
  Result<std::vector<Message>> take_offline(const Address& u) override {
    if (fail_writes) return make_error(Condition::resource_constraint, "disk full");
    return inner.take_offline(u);
  }
  Result<std::size_t> count_offline(const Address& u) override { return inner.count_offline(u); }
  Result<std::vector<StoredMessage>> peek_offline(const Address& u, std::int64_t after,
                                                  std::size_t limit) override {
    return inner.peek_offline(u, after, limit);
  }
  Status delete_offline(const Address& u, const std::vector<std::int64_t>& keys) override {
    return fail_writes ? full() : inner.delete_offline(u, keys);
  }
  Status put_room(const StoredRoom& r) override { return fail_writes ? full() : inner.put_room(r); }
  Status delete_room(const std::string& n) override { return fail_writes ? full() : inner.delete_room(n); }
  Result<std::vector<StoredRoom>> rooms() override { return inner.rooms(); }
  Status append_history(const std::string& r, const Message& m, std::size_t keep) override {
    return fail_writes ? full() : inner.append_history(r, m, keep);
  }
  Result<std::vector<Message>> history(const std::string& r, std::size_t limit) override {
    return inner.history(r, limit);
  }
  int schema_version() override { return 1; }
};

struct DeliveryFixture {
  explicit DeliveryFixture(CoreOptions o = options()) : core(store, std::move(o)) {}
  static CoreOptions options() {
    CoreOptions o;
    o.scram_iterations = 16;
    o.offline_limit = 100;
    o.offline_batch = 4;
    return o;
  }
  SessionId login(const std::string& user, const std::string& resource) {
    sinks.push_back(std::make_unique<ConfirmingSink>());
    SessionOpen o;
    o.user = Address::user(user);
    o.resource = resource;
    o.protocol = Protocol::xmpp;
    o.sink = sinks.back().get();
    o.replace_on_conflict = true;
    auto id = core.sessions().open(o);
    REQUIRE(id.ok());
    by_id[*id] = sinks.back().get();
    return *id;
  }
  std::vector<std::string> ids(SessionId s) {
    std::vector<std::string> out;
    for (const auto& m : by_id.at(s)->stored) out.push_back(m->id);
    return out;
  }
  std::size_t stored_count() { return *store.count_offline(Address::user("bob")); }

  FailingStore store;
  Core core;
  std::vector<std::unique_ptr<ConfirmingSink>> sinks;
  std::map<SessionId, ConfirmingSink*> by_id;
};

Message to_bob(int i) {
  Message m;
  m.to = Address::user("bob");
  m.body = "m" + std::to_string(i);
  return m;
}

}  // namespace

TEST_CASE("offline messages stay stored until the adapter confirms them, a batch at a time") {
  DeliveryFixture f;
  REQUIRE(f.core.directory().add("bob", "pw").ok());
  for (int i = 0; i < 10; ++i) REQUIRE(f.core.router().send(to_bob(i)).ok());
  CHECK(f.stored_count() == 10);

  auto b = f.login("bob", "phone");
  REQUIRE(f.core.router().flush_offline(b).ok());
  // One batch (offline_batch 4), nothing deleted yet.
  REQUIRE(f.by_id[b]->stored.size() == 4);
  CHECK(f.by_id[b]->stored[0]->body == "m0");
  CHECK(f.stored_count() == 10);

  SUBCASE("confirming a batch deletes it and sends the next") {
    REQUIRE(f.core.router().delivered(b, f.ids(b)).ok());
    CHECK(f.stored_count() == 6);
    REQUIRE(f.by_id[b]->stored.size() == 8);
    CHECK(f.by_id[b]->stored[4]->body == "m4");
    // A partial confirmation deletes that much and waits for the rest.
    REQUIRE(f.core.router().delivered(b, {f.by_id[b]->stored[4]->id}).ok());
    CHECK(f.stored_count() == 5);
    CHECK(f.by_id[b]->stored.size() == 8);
    std::vector<std::string> rest;
    for (std::size_t i = 5; i < 8; ++i) rest.push_back(f.by_id[b]->stored[i]->id);
    REQUIRE(f.core.router().delivered(b, rest).ok());
    REQUIRE(f.by_id[b]->stored.size() == 10);
    REQUIRE(f.core.router().delivered(b, {f.by_id[b]->stored[8]->id, f.by_id[b]->stored[9]->id}).ok());
    CHECK(f.stored_count() == 0);
    // Unknown or repeated ids change nothing.
    CHECK(f.core.router().delivered(b, {"nope", f.by_id[b]->stored[0]->id}).ok());
  }

  SUBCASE("a session that ends unconfirmed leaves them for the next login") {
    f.core.sessions().close(b, "connection lost");
    CHECK(f.stored_count() == 10);
    auto b2 = f.login("bob", "phone");
    REQUIRE(f.core.router().flush_offline(b2).ok());
    REQUIRE(f.by_id[b2]->stored.size() == 4);
    CHECK(f.by_id[b2]->stored[0]->body == "m0");
  }

  SUBCASE("one session receives at a time; the next that asked takes over") {
    auto desk = f.login("bob", "desk");
    REQUIRE(f.core.router().flush_offline(desk).ok());
    CHECK(f.by_id[desk]->stored.empty());  // no duplicates while the phone receives them
    f.core.sessions().close(b, "connection lost");
    REQUIRE(f.by_id[desk]->stored.size() == 4);
    CHECK(f.by_id[desk]->stored[0]->body == "m0");
    // A confirmation from the session that left is ignored.
    CHECK(f.core.router().delivered(b, f.ids(b)).ok());
    CHECK(f.stored_count() == 10);
  }

  SUBCASE("a failed delete is reported and stops the flush") {
    f.store.fail_writes = true;
    auto st = f.core.router().delivered(b, f.ids(b));
    CHECK(st.error().condition == Condition::resource_constraint);
    CHECK(f.by_id[b]->stored.size() == 4);
    f.store.fail_writes = false;
    CHECK(f.stored_count() == 10);
  }
}

TEST_CASE("a sink that cannot confirm gets everything at once, deleted at once") {
  CoreFixture f(std::make_shared<MemoryStore>(), [] {
    auto o = CoreFixture::small();
    o.offline_limit = 20;
    o.offline_batch = 3;
    return o;
  }());
  f.account("bob");
  for (int i = 0; i < 10; ++i)
    REQUIRE(f.core->router().send(text("local:bob", "m" + std::to_string(i))).ok());
  auto b = f.login("bob");
  REQUIRE(f.core->router().flush_offline(b).ok());
  REQUIRE(f.sink(b).messages.size() == 10);
  CHECK(f.sink(b).messages[9]->body == "m9");
  CHECK(*f.store->count_offline(Address::user("bob")) == 0);
}

TEST_CASE("room saves and history report store failures") {
  DeliveryFixture f;
  REQUIRE(f.core.directory().add("alice", "pw").ok());
  REQUIRE(f.core.directory().add("carol", "pw").ok());
  auto a = f.login("alice", "home");
  auto& rooms = f.core.rooms();
  REQUIRE(rooms.join(a, JoinRequest{"dev", "alice", {}, 0}).ok());

  // Making a room persistent fails as a whole: it stays non-persistent.
  f.store.fail_writes = true;
  auto st = rooms.set_persistent(a, "dev", true);
  CHECK(st.error().condition == Condition::resource_constraint);
  CHECK_FALSE(rooms.find("dev")->persistent);
  f.store.fail_writes = false;
  REQUIRE(rooms.set_persistent(a, "dev", true).ok());
  CHECK(rooms.find("dev")->persistent);

  f.store.fail_writes = true;
  // A change that cannot be saved is reported to whoever made it (and still applies).
  CHECK(rooms.set_topic(a, "dev", "new topic").error().condition == Condition::resource_constraint);
  CHECK(rooms.find("dev")->topic.text == "new topic");
  CHECK(rooms.apply_change(a, "dev", RoomChange{{RoomChangeItem::make_flag(RoomFlag::moderated, true)}}).error().condition ==
        Condition::resource_constraint);
  CHECK(rooms.set_affiliation(a, "dev", Address::user("carol"), Affiliation::member).error().condition ==
        Condition::resource_constraint);
  CHECK(rooms.set_persistent(a, "dev", false).error().condition == Condition::resource_constraint);
  CHECK(rooms.find("dev")->persistent);
  // A message is delivered even if its history entry could not be written (that is logged).
  Message m;
  m.body = "hello";
  CHECK(rooms.say(a, "dev", m).ok());
  CHECK(f.by_id[a]->messages.size() == 1);

  f.store.fail_writes = false;
  CHECK(rooms.set_topic(a, "dev", "saved").ok());
  CHECK(f.store.inner.rooms()->at(0).topic.text == "saved");
}

#pragma once
// A Core on a MemoryStore with helpers to log fake sessions in.
#include <doctest/doctest.h>

#include <deque>
#include <memory>

#include "core/core.hpp"
#include "core/store/memory_store.hpp"
#include "unit/fakes/fake_sink.hpp"

namespace parley::test {

struct CoreFixture {
  explicit CoreFixture(std::shared_ptr<MemoryStore> s = std::make_shared<MemoryStore>(), CoreOptions o = small())
      : store(std::move(s)), core(std::make_unique<Core>(*store, std::move(o))) {}

  static CoreOptions small() {
    CoreOptions o;
    o.scram_iterations = 16;  // tests do not need slow hashing
    o.room_history = 5;
    o.offline_limit = 3;
    o.offline_sender_share = 100;  // offline_quota tests set their own
    return o;
  }

  void account(const std::string& user) { REQUIRE(core->directory().add(user, user + "pw").ok()); }

  // Opens a session with its own recording sink; returns its id.
  SessionId login(const std::string& user, std::string resource = {}, bool guest = false,
                  Protocol p = Protocol::xmpp) {
    sinks.emplace_back(std::make_unique<FakeSink>());
    SessionOpen o;
    o.user = Address::user(user);
    o.resource = std::move(resource);
    o.protocol = p;
    o.guest = guest;
    o.host = "host.example";
    o.sink = sinks.back().get();
    auto id = core->sessions().open(o);
    REQUIRE(id.ok());
    by_id[*id] = sinks.back().get();
    return *id;
  }

  FakeSink& sink(SessionId id) { return *by_id.at(id); }

  void online(SessionId id, std::int8_t priority = 0) {
    Tuple t;
    t.priority = priority;
    core->presence().publish(id, t);
  }

  std::shared_ptr<MemoryStore> store;
  std::unique_ptr<Core> core;
  std::vector<std::unique_ptr<FakeSink>> sinks;
  std::map<SessionId, FakeSink*> by_id;
};

inline Message text(const std::string& to, const std::string& body) {
  Message m;
  m.to = *Address::parse(to);
  m.body = body;
  return m;
}

}  // namespace parley::test

#include <doctest/doctest.h>

#include <stdexcept>

#include "core/plugin/hooks.hpp"
#include "unit/core/fixture.hpp"

using namespace parley::core;
using namespace parley::test;

TEST_CASE("hooks run in priority order and the first decisive verdict wins") {
  Hooks hooks;
  std::vector<std::string> order;
  auto low = hooks.add("message", 1, "low", [&](HookContext&) { order.push_back("low"); return Verdict::pass; });
  auto high = hooks.add("message/room", 10, "high", [&](HookContext&) {
    order.push_back("high");
    return Verdict::pass;
  });
  auto mid = hooks.add("message/room", 5, "mid", [&](HookContext& c) {
    order.push_back("mid");
    c.deny_error = make_error(Condition::policy_violation, "no");
    return Verdict::deny;
  });
  auto other = hooks.add("presence", 100, "other", [&](HookContext&) { order.push_back("other"); return Verdict::deny; });
  HookContext ctx;
  CHECK(hooks.fire("message/room", ctx) == Verdict::deny);
  CHECK(order == std::vector<std::string>{"high", "mid"});
  CHECK(ctx.deny_error.condition == Condition::policy_violation);

  order.clear();
  mid.reset();  // RAII removal
  CHECK(hooks.fire("message/room", ctx) == Verdict::pass);
  CHECK(order == std::vector<std::string>{"high", "low"});
  CHECK(hooks.size() == 3);
  {
    auto scoped = hooks.add("message", 0, "scoped", [](HookContext&) { return Verdict::allow; });
    CHECK(hooks.size() == 4);
  }
  CHECK(hooks.size() == 3);
}

TEST_CASE("a throwing handler is firewalled and counts as pass") {
  Hooks hooks;
  std::string faulty;
  hooks.set_fault_reporter([&](const std::string& owner, const std::string&) { faulty = owner; });
  auto bad = hooks.add("message", 10, "bad", [](HookContext&) -> Verdict { throw std::runtime_error("boom"); });
  bool ran = false;
  auto good = hooks.add("message", 1, "good", [&](HookContext&) { ran = true; return Verdict::pass; });
  HookContext ctx;
  CHECK(hooks.fire("message/direct", ctx) == Verdict::pass);
  CHECK(faulty == "bad");
  CHECK(ran);
}

TEST_CASE("message hooks veto direct and room messages through the core") {
  CoreFixture f;
  f.account("alice");
  f.account("bob");
  auto a = f.login("alice");
  auto b = f.login("bob");
  auto h = f.core->hooks().add("message/direct", 0, "filter", [](HookContext& c) {
    auto* m = static_cast<const Message*>(c.payload);
    if (m->body.find("spam") == std::string::npos) return Verdict::pass;
    c.deny_error = make_error(Condition::not_acceptable, "spam");
    return Verdict::deny;
  });
  auto m = text("local:bob", "buy spam");
  m.from = Address::user("alice");
  CHECK(f.core->router().send(m).error().condition == Condition::not_acceptable);
  CHECK(f.sink(b).messages.empty());
  m.body = "hello";
  CHECK(f.core->router().send(m).ok());
  CHECK(f.sink(b).messages.size() == 1);

  REQUIRE(f.core->rooms().join(a, {"dev", "alice"}).ok());
  auto r = f.core->hooks().add("message/room", 0, "mute", [](HookContext&) { return Verdict::deny; });
  CHECK(f.core->rooms().say(a, "dev", text("room:dev", "hi")).error().condition == Condition::forbidden);
  r.reset();
  CHECK(f.core->rooms().say(a, "dev", text("room:dev", "hi")).ok());
}

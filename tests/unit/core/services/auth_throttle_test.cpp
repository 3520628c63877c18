#include "core/services/auth_throttle.hpp"

#include <doctest/doctest.h>

using namespace parley::core;
using namespace std::chrono_literals;

namespace {
AuthThrottle::Options opts() {
  AuthThrottle::Options o;
  o.window = 60s;
  o.address_failures = 3;
  o.account_failures = 5;
  o.account_delay = 700ms;
  o.max_tracked = 100;
  return o;
}
}  // namespace

TEST_CASE("auth throttle: an address is refused after its failures, until the window passes") {
  AuthThrottle t(opts());
  auto t0 = AuthThrottle::Clock::time_point{} + 1000s;
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(t.check("10.0.0.1", "alice", t0).refused);
    t.failure("10.0.0.1", "alice", t0 + std::chrono::seconds(i));
  }
  auto v = t.check("10.0.0.1", "bob", t0 + 5s);
  CHECK(v.refused);
  CHECK(v.retry_after == 55s);  // the oldest failure (t0) leaves the window at t0 + 60 s
  CHECK_FALSE(t.check("10.0.0.2", "alice", t0 + 5s).refused);  // other addresses are not affected
  CHECK_FALSE(t.check("10.0.0.1", "bob", t0 + 60s).refused);   // one failure left the window
  CHECK(t.check("10.0.0.1", "bob", t0 + 60s).delay == AuthThrottle::Clock::duration::zero());
}

TEST_CASE("auth throttle: an account is slowed down, never locked") {
  AuthThrottle t(opts());
  auto t0 = AuthThrottle::Clock::time_point{} + 1000s;
  // Failures for alice from five addresses (none reaches its own limit).
  for (int i = 0; i < 5; ++i) t.failure("10.0.0." + std::to_string(i), "alice", t0);
  auto v = t.check("10.0.1.1", "alice", t0 + 1s);
  CHECK_FALSE(v.refused);
  CHECK(v.delay == 700ms);
  CHECK(t.check("10.0.1.1", "bob", t0 + 1s).delay == AuthThrottle::Clock::duration::zero());
  CHECK(t.check("10.0.1.1", "alice", t0 + 61s).delay == AuthThrottle::Clock::duration::zero());
}

TEST_CASE("auth throttle: limits of 0 switch a rule off and memory stays bounded") {
  auto o = opts();
  o.address_failures = 0;
  o.account_failures = 0;
  AuthThrottle off(o);
  auto t0 = AuthThrottle::Clock::time_point{} + 1000s;
  for (int i = 0; i < 50; ++i) off.failure("10.0.0.1", "alice", t0);
  CHECK_FALSE(off.check("10.0.0.1", "alice", t0).refused);
  CHECK(off.tracked() == 0);

  AuthThrottle t(opts());  // max_tracked 100
  for (int i = 0; i < 1000; ++i)
    t.failure("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256), "user" + std::to_string(i),
              t0 + std::chrono::milliseconds(i));
  CHECK(t.tracked() <= 100);
  // The newest are still remembered.
  for (int k = 0; k < 3; ++k) t.failure("10.1.3.231", "x", t0 + 2s);
  CHECK(t.check("10.1.3.231", "", t0 + 2s).refused);
}

#include "protocols/common/backoff.hpp"

#include <doctest/doctest.h>

#include <set>
#include <vector>

using namespace parley::protocols;
using namespace std::chrono_literals;

namespace {

BackoffPolicy policy(std::chrono::milliseconds min, std::chrono::milliseconds max, double factor) {
  BackoffPolicy p;
  p.min = min;
  p.max = max;
  p.factor = factor;
  p.reset_after = 60s;
  return p;
}

}  // namespace

TEST_CASE("backoff: every delay lies in [min, ceiling] and the ceiling grows by factor up to max") {
  for (std::uint64_t seed : {1u, 2u, 3u, 12345u}) {
    Backoff b(policy(100ms, 5000ms, 2.0), seed);
    const std::vector<std::int64_t> ceilings = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000};
    for (auto c : ceilings) {
      CHECK(b.ceiling().count() == c);
      auto d = b.next();
      CHECK(d >= 100ms);
      CHECK(d.count() <= c);
    }
    CHECK(b.failures() == ceilings.size());
  }
}

TEST_CASE("backoff: the same seed gives the same schedule, and there is jitter") {
  Backoff a(policy(100ms, 10'000ms, 2.0), 99);
  Backoff b(policy(100ms, 10'000ms, 2.0), 99);
  std::set<std::int64_t> at_cap;
  for (int i = 0; i < 20; ++i) {
    auto da = a.next();
    CHECK(da == b.next());
    if (i >= 7) at_cap.insert(da.count());  // ceiling 10 s from here on
  }
  CHECK(at_cap.size() > 5);  // full jitter: not one fixed delay
}

TEST_CASE("backoff: reset, and connection_ended resets only after reset_after") {
  Backoff b(policy(50ms, 1000ms, 3.0), 5);
  b.next();
  b.next();
  CHECK(b.ceiling() == 450ms);
  b.connection_ended(59s);  // too short: the schedule goes on
  CHECK(b.ceiling() == 450ms);
  CHECK(b.failures() == 2);
  b.connection_ended(60s);
  CHECK(b.ceiling() == 50ms);
  CHECK(b.failures() == 0);
}

TEST_CASE("backoff: nonsense policies are clamped, never a zero or shrinking delay") {
  Backoff b(policy(0ms, 0ms, 0.5), 1);
  CHECK(b.policy().min == 1ms);
  CHECK(b.policy().max == 1ms);
  CHECK(b.policy().factor == 1.0);
  for (int i = 0; i < 5; ++i) CHECK(b.next() == 1ms);

  Backoff huge(policy(1000ms, 3'600'000ms, 1e9), 1);
  CHECK(huge.policy().factor == 16.0);
  for (int i = 0; i < 100; ++i) CHECK(huge.next() <= 3'600'000ms);

  BackoffPolicy limited = policy(10ms, 20ms, 2.0);
  limited.max_failures = 2;
  Backoff l(limited, 1);
  CHECK_FALSE(l.exhausted());
  l.next();
  l.next();
  CHECK(l.exhausted());
}

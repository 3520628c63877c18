#include "protocols/common/token_bucket.hpp"

#include <doctest/doctest.h>

using parley::protocols::TokenBucket;
using namespace std::chrono_literals;

namespace {
const TokenBucket::Clock::time_point t0 = TokenBucket::Clock::time_point{} + 1000s;
}

TEST_CASE("token bucket: a burst passes at once, then input waits for the rate") {
  TokenBucket b(100, 500);  // 100/s, burst 500
  for (int i = 0; i < 5; ++i) {
    CHECK(b.wait(t0) == 0s);
    b.take(100, t0);
  }
  // 500 taken: empty, the next unit waits ~1/100 s
  auto w = b.wait(t0);
  CHECK(w > 0s);
  CHECK(w <= 11ms);
  CHECK(b.wait(t0 + w) == 0s);
}

TEST_CASE("token bucket: an item larger than the burst passes and leaves a debt") {
  TokenBucket b(1000, 100);
  CHECK(b.wait(t0) == 0s);
  b.take(5000, t0);  // never refused
  CHECK(b.level(t0) == doctest::Approx(-4900));
  auto w = b.wait(t0);
  CHECK(w >= 4900ms);
  CHECK(w <= 4902ms);
  CHECK(b.wait(t0 + 4s) > 0s);
  CHECK(b.wait(t0 + 5s) == 0s);
}

TEST_CASE("token bucket: the average over time never exceeds the rate") {
  TokenBucket b(50, 10);
  auto now = t0;
  std::uint64_t taken = 0;
  // A greedy reader takes one unit whenever it may, for 10 simulated seconds.
  while (now < t0 + 10s) {
    if (auto w = b.wait(now); w > 0s) {
      now += w;
      continue;
    }
    b.take(1, now);
    ++taken;
  }
  CHECK(taken <= 10 + 50 * 10 + 1);  // burst + rate * time
  CHECK(taken >= 50 * 10 - 1);
}

TEST_CASE("token bucket: idle time refills only up to the burst") {
  TokenBucket b(10, 20);
  b.take(20, t0);
  CHECK(b.level(t0 + 1h) == doctest::Approx(20));
}

TEST_CASE("token bucket: rate 0 is off") {
  TokenBucket b(0, 0);
  CHECK_FALSE(b.enabled());
  b.take(1'000'000, t0);
  CHECK(b.wait(t0) == 0s);
}

#pragma once
// Reconnect delays: exponential backoff with full jitter above a floor. The n-th delay is
// drawn uniformly from [min, ceiling_n], ceiling_0 = min, ceiling_{n+1} = min(max,
// ceiling_n * factor). Jitter keeps a gateway's many links (one IRC connection per puppeted
// user) from reconnecting in step after a network outage ("thundering herd"); the floor keeps
// a dead server from being hammered by near-zero draws. A connection that lived at least
// reset_after starts the schedule again from min. Pure and deterministic for a given seed.
#include <chrono>
#include <cstdint>
#include <random>

namespace parley::protocols {

struct BackoffPolicy {
  std::chrono::milliseconds min{1'000};
  std::chrono::milliseconds max{300'000};
  double factor = 2.0;
  std::chrono::milliseconds reset_after{60'000};
  // Failed attempts in a row before giving up; 0: never give up (always with backoff).
  std::uint32_t max_failures = 0;
};

class Backoff {
 public:
  // Out-of-range values are clamped: min >= 1 ms, max >= min, factor in [1, 16].
  Backoff(BackoffPolicy policy, std::uint64_t seed);

  // The delay before the next attempt; counts one failure and raises the ceiling.
  std::chrono::milliseconds next();
  // The upper bound of the delay next() will draw.
  std::chrono::milliseconds ceiling() const {
    return std::chrono::milliseconds(static_cast<std::int64_t>(ceiling_));
  }
  std::uint32_t failures() const { return failures_; }
  bool exhausted() const { return policy_.max_failures != 0 && failures_ >= policy_.max_failures; }
  void reset();
  // A connection ended after living `lived`: long enough resets the schedule.
  void connection_ended(std::chrono::milliseconds lived) {
    if (lived >= policy_.reset_after) reset();
  }
  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  std::mt19937_64 rng_;
  double ceiling_;
  std::uint32_t failures_ = 0;
};

}  // namespace parley::protocols

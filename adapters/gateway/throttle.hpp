#pragma once
// Lines to an IRC network through its flood limit (irc.networks[].throttle), shared by the
// gateway's puppets and the bridges' bots. Pure: the caller sends the batch and, when a
// delay comes back, arms its own timer.
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "protocols/common/token_bucket.hpp"

namespace parley::adapters::gateway {

// Moves whole lines from `queue` to `batch` while `bucket` allows them. Tokens are
// milliseconds (1000/s): a line needs a whole interval's worth in the bucket, so `burst`
// lines go at once and then one per interval_ms, never into debt. A disabled bucket lets
// everything go. Returns how long until the next line may go (0: the queue is empty).
inline std::chrono::milliseconds drain_throttled(std::deque<std::string>& queue,
                                                 protocols::TokenBucket& bucket, std::size_t interval_ms,
                                                 std::string& batch) {
  const auto now = protocols::TokenBucket::Clock::now();
  const auto cost = static_cast<double>(interval_ms);
  while (!queue.empty()) {
    if (bucket.enabled()) {
      const double level = bucket.level(now);
      if (level < cost) return std::chrono::milliseconds(static_cast<std::int64_t>(cost - level) + 1);
      bucket.take(interval_ms, now);
    }
    batch += queue.front();
    queue.pop_front();
  }
  return std::chrono::milliseconds{0};
}

// One line more through `bucket` now (0: taken, or no throttle), else how long until it may.
inline std::chrono::milliseconds take_one(protocols::TokenBucket& bucket, std::size_t interval_ms) {
  if (!bucket.enabled()) return std::chrono::milliseconds{0};
  const auto now = protocols::TokenBucket::Clock::now();
  const auto cost = static_cast<double>(interval_ms);
  const double level = bucket.level(now);
  if (level < cost) return std::chrono::milliseconds(static_cast<std::int64_t>(cost - level) + 1);
  bucket.take(interval_ms, now);
  return std::chrono::milliseconds{0};
}

}  // namespace parley::adapters::gateway

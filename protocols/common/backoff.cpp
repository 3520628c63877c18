#include "protocols/common/backoff.hpp"

#include <algorithm>

namespace parley::protocols {

Backoff::Backoff(BackoffPolicy policy, std::uint64_t seed) : policy_(policy), rng_(seed) {
  policy_.min = std::max(policy_.min, std::chrono::milliseconds(1));
  policy_.max = std::max(policy_.max, policy_.min);
  policy_.factor = std::clamp(policy_.factor, 1.0, 16.0);
  ceiling_ = static_cast<double>(policy_.min.count());
}

std::chrono::milliseconds Backoff::next() {
  const auto lo = policy_.min.count();
  const auto hi = std::max<std::int64_t>(lo, static_cast<std::int64_t>(ceiling_));
  // uniform_int_distribution's output differs between standard libraries; the bounds do not.
  std::uniform_int_distribution<std::int64_t> pick(lo, hi);
  const auto delay = std::chrono::milliseconds(pick(rng_));
  ceiling_ = std::min(ceiling_ * policy_.factor, static_cast<double>(policy_.max.count()));
  if (failures_ < UINT32_MAX) ++failures_;
  return delay;
}

void Backoff::reset() {
  ceiling_ = static_cast<double>(policy_.min.count());
  failures_ = 0;
}

}  // namespace parley::protocols

#include "protocols/common/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace parley::protocols {

void TokenBucket::refill(Clock::time_point now) {
  if (last_ == Clock::time_point{}) {  // first use: the bucket starts full
    last_ = now;
    return;
  }
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(static_cast<double>(burst_), tokens_ + seconds * static_cast<double>(rate_));
  last_ = now;
}

void TokenBucket::take(std::uint64_t n, Clock::time_point now) {
  if (!enabled()) return;
  refill(now);
  tokens_ -= static_cast<double>(n);
}

TokenBucket::Clock::duration TokenBucket::wait(Clock::time_point now) {
  if (!enabled()) return Clock::duration::zero();
  refill(now);
  if (tokens_ > 0) return Clock::duration::zero();
  // Until the level is just above zero again (one token's worth more, so a wait never
  // ends a hair short of it and has to be repeated).
  const double seconds = (1.0 - tokens_) / static_cast<double>(rate_);
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

double TokenBucket::level(Clock::time_point now) {
  refill(now);
  return tokens_;
}

}  // namespace parley::protocols

#pragma once
// A token bucket shaper (ejabberd's `shaper`, Prosody's mod_limits): tokens flow in at
// `rate` per second up to `burst`; each unit of input (a byte, a stanza) takes one. Input
// is taken whole and may leave the bucket in debt (a 200 KB stanza passes a 64 KB burst),
// and then the reader waits until the debt is paid back: the average over time never
// exceeds `rate` and a single large item is never refused, only delayed.
// A rate of 0 turns the bucket off (everything passes, no wait). Pure value type: the
// caller brings the clock, so it is tested without sleeping.
#include <chrono>
#include <cstdint>

namespace parley::protocols {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket() = default;
  TokenBucket(std::uint64_t rate, std::uint64_t burst)
      : rate_(rate), burst_(burst < 1 ? 1 : burst), tokens_(static_cast<double>(burst_)) {}

  bool enabled() const { return rate_ != 0; }
  // Takes `n` tokens at time `now` (whatever the level; the level may go negative).
  void take(std::uint64_t n, Clock::time_point now);
  // How long from `now` until the level is back to positive: zero when it is already
  // (the next take may proceed).
  Clock::duration wait(Clock::time_point now);
  // The level at `now` (for tests and logs).
  double level(Clock::time_point now);

 private:
  void refill(Clock::time_point now);

  std::uint64_t rate_ = 0;  // tokens per second; 0: off
  std::uint64_t burst_ = 1;
  double tokens_ = 0;
  Clock::time_point last_{};
};

}  // namespace parley::protocols

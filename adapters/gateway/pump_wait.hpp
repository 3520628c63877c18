#pragma once
// The wait before a throttled queue's next write (throttle.hpp), for the gateway's puppets
// and the bridges' bots: one timer, brought forward when a sooner wait is asked for (a
// line's token while a marker's quiet interval is armed), never pushed back. Lazy: no timer
// until the first wait. The strand's; the callback never runs after the PumpWait is gone.
#include <chrono>
#include <memory>
#include <utility>

#include "protocols/common/net.hpp"

namespace parley::adapters::gateway {

class PumpWait {
 public:
  explicit PumpWait(const protocols::Strand& strand) : strand_(strand) {}
  ~PumpWait() { cancel(); }
  PumpWait(const PumpWait&) = delete;
  PumpWait& operator=(const PumpWait&) = delete;

  // f() runs after `delay`, unless a wait that ends no later is armed already (then that
  // one's callback runs, and it is the same pump).
  template <class F>
  void arm(std::chrono::milliseconds delay, F f) {
    const auto at = std::chrono::steady_clock::now() + delay;
    if (armed_ && at >= at_) return;
    if (!timer_) timer_ = std::make_unique<protocols::StrandTimer>(strand_);
    armed_ = true;
    at_ = at;
    timer_->expires_after(delay);  // a later wait's handler sees operation_aborted
    timer_->async_wait([this, alive = std::weak_ptr<int>(alive_),
                        f = std::move(f)](const boost::system::error_code& ec) mutable {
      if (ec || alive.expired()) return;  // brought forward or cancelled, or the owner is gone
      armed_ = false;
      f();
    });
  }
  void cancel() {
    armed_ = false;
    if (timer_) timer_->cancel();
  }

 private:
  protocols::Strand strand_;
  std::unique_ptr<protocols::StrandTimer> timer_;
  bool armed_ = false;
  std::chrono::steady_clock::time_point at_{};  // when the armed wait ends
  std::shared_ptr<int> alive_ = std::make_shared<int>(1);
};

}  // namespace parley::adapters::gateway

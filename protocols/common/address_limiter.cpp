#include "protocols/common/address_limiter.hpp"

#include <algorithm>

namespace parley::protocols {

std::string AddressLimiter::key_of(const boost::asio::ip::address& address) {
  if (address.is_v4()) {
    auto b = address.to_v4().to_bytes();
    return std::string(1, '4') + std::string(b.begin(), b.end());
  }
  auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return key_of(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6));
  auto b = v6.to_bytes();
  return std::string(1, '6') + std::string(b.begin(), b.begin() + 8);  // the /64
}

void AddressLimiter::refill(Entry& e, Clock::time_point now) const {
  if (policy_.rate <= 0) return;
  const double cap = static_cast<double>(std::max<std::uint32_t>(policy_.burst, 1));
  if (now > e.refilled) {
    e.tokens =
        std::min(cap, e.tokens + std::chrono::duration<double>(now - e.refilled).count() * policy_.rate);
    e.refilled = now;
  }
  e.tokens = std::min(e.tokens, cap);  // the policy may have shrunk
}

AddressLimiter::Admission AddressLimiter::admit(const boost::asio::ip::address& address,
                                                Clock::time_point now) {
  Admission a;
  std::lock_guard lock(mu_);
  // Counted even with no limits: a reload that sets them then applies to who is connected.
  if (table_.size() >= prune_at_) prune(now);
  auto [it, fresh] = table_.try_emplace(key_of(address));
  Entry& e = it->second;
  if (fresh) {
    e.owner = this;
    e.tokens = static_cast<double>(std::max<std::uint32_t>(policy_.burst, 1));
    e.refilled = now;
  }
  if (policy_.per_address && e.count >= policy_.per_address) {
    a.verdict_ = Verdict::too_many;
    return a;
  }
  if (policy_.rate > 0) {
    refill(e, now);
    if (e.tokens < 1) {
      a.verdict_ = Verdict::too_fast;
      return a;
    }
    e.tokens -= 1;
  }
  ++e.count;
  // Shares the limiter's lifetime: a connection may outlive the listener and its plugin.
  a.entry_ = std::shared_ptr<Entry>(shared_from_this(), &e);
  return a;
}

void AddressLimiter::release(Entry& e) {
  std::lock_guard lock(mu_);
  if (e.count) --e.count;
}

void AddressLimiter::prune(Clock::time_point now) {
  // An entry with no connection whose bucket is full again says nothing the next admit()
  // would not rebuild: drop it. Entries with live connections stay (Admissions point at them).
  for (auto it = table_.begin(); it != table_.end();) {
    Entry& e = it->second;
    refill(e, now);
    const bool full =
        policy_.rate <= 0 || e.tokens >= static_cast<double>(std::max<std::uint32_t>(policy_.burst, 1));
    if (e.count == 0 && full)
      it = table_.erase(it);
    else
      ++it;
  }
  // Amortised: the next sweep waits until the table has doubled.
  prune_at_ = std::max<std::size_t>(1024, 2 * table_.size());
}

void AddressLimiter::set_policy(Policy p) {
  std::lock_guard lock(mu_);
  policy_ = p;
}

AddressLimiter::Policy AddressLimiter::policy() const {
  std::lock_guard lock(mu_);
  return policy_;
}

std::size_t AddressLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return table_.size();
}

std::uint32_t AddressLimiter::count(const boost::asio::ip::address& address) const {
  std::lock_guard lock(mu_);
  auto it = table_.find(key_of(address));
  return it == table_.end() ? 0 : it->second.count;
}

}  // namespace parley::protocols

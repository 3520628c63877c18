#include "core/services/auth_throttle.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

namespace parley::core {

void AuthThrottle::set_options(Options o) {
  std::lock_guard lock(mu_);
  options_ = o;
}

AuthThrottle::Options AuthThrottle::options() const {
  std::lock_guard lock(mu_);
  return options_;
}

void AuthThrottle::prune(Record& r, Clock::time_point now) const {
  while (!r.failures.empty() && now - r.failures.front() >= options_.window) r.failures.pop_front();
}

AuthThrottle::Verdict AuthThrottle::check(const std::string& address, const std::string& account,
                                          Clock::time_point now) {
  std::lock_guard lock(mu_);
  Verdict v;
  if (options_.address_failures && !address.empty()) {
    if (auto it = addresses_.find(address); it != addresses_.end()) {
      prune(it->second, now);
      if (it->second.failures.size() >= options_.address_failures) {
        v.refused = true;
        v.retry_after = it->second.failures.front() + options_.window - now;
        return v;
      }
    }
  }
  if (options_.account_failures && !account.empty()) {
    if (auto it = accounts_.find(account); it != accounts_.end()) {
      prune(it->second, now);
      if (it->second.failures.size() >= options_.account_failures) v.delay = options_.account_delay;
    }
  }
  return v;
}

void AuthThrottle::record(Map& map, const std::string& key, std::uint32_t limit, Clock::time_point now) {
  if (!limit || key.empty()) return;
  if (map.find(key) == map.end() && addresses_.size() + accounts_.size() >= options_.max_tracked) evict(now);
  if (map.find(key) == map.end() && addresses_.size() + accounts_.size() >= options_.max_tracked) return;
  Record& r = map[key];
  prune(r, now);
  r.failures.push_back(now);
  // Only the newest `limit` failures matter for the verdict: the record stays small.
  while (r.failures.size() > limit) r.failures.pop_front();
  r.last = now;
}

void AuthThrottle::failure(const std::string& address, const std::string& account, Clock::time_point now) {
  std::lock_guard lock(mu_);
  record(addresses_, address, options_.address_failures, now);
  record(accounts_, account, options_.account_failures, now);
}

void AuthThrottle::evict(Clock::time_point now) {
  // First whatever has no failure left in the window; if that freed nothing, the stalest
  // eighth of each map (an attacker spraying addresses or names cannot grow memory).
  auto expired = [&](Map& m) {
    for (auto it = m.begin(); it != m.end();) {
      prune(it->second, now);
      it = it->second.failures.empty() ? m.erase(it) : std::next(it);
    }
  };
  expired(addresses_);
  expired(accounts_);
  if (addresses_.size() + accounts_.size() < options_.max_tracked) return;
  auto stalest = [](Map& m) {
    if (m.empty()) return;
    std::vector<Clock::time_point> lasts;
    lasts.reserve(m.size());
    for (const auto& [k, r] : m) lasts.push_back(r.last);
    auto cut = lasts.begin() + static_cast<std::ptrdiff_t>(lasts.size() / 8);
    std::nth_element(lasts.begin(), cut, lasts.end());
    Clock::time_point limit = *cut;
    for (auto it = m.begin(); it != m.end();) it = it->second.last <= limit ? m.erase(it) : std::next(it);
  };
  stalest(addresses_);
  stalest(accounts_);
}

std::size_t AuthThrottle::tracked() const {
  std::lock_guard lock(mu_);
  return addresses_.size() + accounts_.size();
}

}  // namespace parley::core

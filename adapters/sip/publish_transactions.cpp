#include "adapters/sip/publish_transactions.hpp"

namespace parley::adapters::sip {

void PublishTransactions::prune(std::uint64_t now_ms) {
  // Items are pushed with now + kPendingMs or now + kTimerJMs, so the queue is not quite
  // sorted: one may wait behind an older, later item, at most kPendingMs - kTimerJMs.
  while (!expiry_.empty() && expiry_.front().first <= now_ms) {
    auto it = by_key_.find(expiry_.front().second);
    if (it != by_key_.end() && it->second.expires_at <= now_ms) {
      if (!it->second.answered) pending_.erase(it->second.id);
      by_key_.erase(it);
    }
    expiry_.pop_front();
  }
}

PublishTransactions::Seen PublishTransactions::seen(const std::string& key, std::uint64_t now_ms,
                                                    const Entry** entry) {
  prune(now_ms);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return Seen::fresh;
  if (entry) *entry = &it->second;
  return it->second.answered ? Seen::answered : Seen::pending;
}

bool PublishTransactions::hold(std::string key, std::uint64_t id, std::string echo, const Dest& dest,
                               std::uint64_t now_ms) {
  prune(now_ms);
  if (by_key_.size() >= kMaxEntries || pending_.count(id)) return false;
  Entry e;
  e.id = id;
  e.echo = std::move(echo);
  e.dest = dest;
  e.expires_at = now_ms + kPendingMs;
  auto [it, fresh] = by_key_.try_emplace(key, std::move(e));
  if (!fresh) return false;  // the caller asked seen() first; never two transactions on one key
  pending_.emplace(id, key);
  expiry_.emplace_back(it->second.expires_at, std::move(key));
  return true;
}

const PublishTransactions::Entry* PublishTransactions::answer(std::uint64_t id, std::string wire,
                                                              std::uint64_t now_ms) {
  auto p = pending_.find(id);
  if (p == pending_.end()) return nullptr;
  auto it = by_key_.find(p->second);
  pending_.erase(p);
  if (it == by_key_.end()) return nullptr;
  Entry& e = it->second;
  e.answered = true;
  e.wire = std::move(wire);
  e.echo.clear();
  e.echo.shrink_to_fit();
  e.expires_at = now_ms + kTimerJMs;
  expiry_.emplace_back(e.expires_at, it->first);
  return &e;
}

const PublishTransactions::Entry* PublishTransactions::held(std::uint64_t id) const {
  auto p = pending_.find(id);
  if (p == pending_.end()) return nullptr;
  auto it = by_key_.find(p->second);
  return it == by_key_.end() ? nullptr : &it->second;
}

void PublishTransactions::drop(std::uint64_t id) {
  auto p = pending_.find(id);
  if (p == pending_.end()) return;
  by_key_.erase(p->second);
  pending_.erase(p);
}

void PublishTransactions::clear() {
  by_key_.clear();
  pending_.clear();
  expiry_.clear();
}

}  // namespace parley::adapters::sip

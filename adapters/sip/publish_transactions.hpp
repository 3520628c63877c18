#pragma once
// The server transactions of the UDP PUBLISH fast path (libre_sip_plugin.cpp,
// protocols/sip/publish_wire.hpp): RFC 3261 §17.2.2's non-INVITE server transaction without
// libre. A PUBLISH taken by the fast path is held here by its key (branch + sent-by,
// §17.2.3) while the core decides; a retransmission meanwhile is absorbed (the core sees
// the request once), and once answered every retransmission gets the same final response
// again until timer J (64*T1 = 32 s over UDP) ends the transaction.
//
// Bounded: at most kMaxEntries transactions (a full table sends new PUBLISHes to libre's
// path, which keeps its own), each pending one expires kPendingMs after it came (a reply
// the core never sent), and the expiry queue holds at most two items per transaction of
// the last kPendingMs. No timers: expired entries go when the next PUBLISH comes.
// Pure bookkeeping: no sockets, no libre (the caller sends), so it is unit-tested alone.
// On the libre thread (or under LibreLoop::try_run_here).
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley::adapters::sip {

class PublishTransactions {
 public:
  static constexpr std::uint64_t kTimerJMs = 32000;   // RFC 3261 §17.2.2: 64*T1 over UDP
  static constexpr std::uint64_t kPendingMs = 64000;  // a held request the core never answered
  static constexpr std::size_t kMaxEntries = 32768;   // ~0.5 KiB each

  struct Dest {
    int fd = -1;
    sockaddr_storage addr{};
    socklen_t len = 0;
  };
  struct Entry {
    std::uint64_t id = 0;
    std::string echo;  // the response's copied header lines (publish_wire.hpp)
    std::string wire;  // the final response, once answered
    Dest dest;
    bool answered = false;
    std::uint64_t expires_at = 0;
  };

  enum class Seen { fresh, pending, answered };
  // A request with `key` at `now_ms`: fresh (not seen), pending (absorb it), answered
  // (`*entry` is the transaction: resend entry->wire to entry->dest).
  Seen seen(const std::string& key, std::uint64_t now_ms, const Entry** entry = nullptr);
  // Holds a fresh request as `id` (the caller's reply id). false: the table is full (the
  // caller leaves the request to libre).
  bool hold(std::string key, std::uint64_t id, std::string echo, const Dest& dest, std::uint64_t now_ms);
  // The core's answer for `id`: the entry (now answered, timer J started) whose `wire`
  // the caller sends; nullptr when `id` is not held here.
  const Entry* answer(std::uint64_t id, std::string wire, std::uint64_t now_ms);
  // Forgets a held request that could not be answered (`id` unknown: nothing).
  void drop(std::uint64_t id);
  // The held (not yet answered) request `id`, nullptr when there is none.
  const Entry* held(std::uint64_t id) const;

  std::size_t size() const { return by_key_.size(); }
  std::size_t pending() const { return pending_.size(); }
  std::size_t queued() const { return expiry_.size(); }
  void clear();

 private:
  void prune(std::uint64_t now_ms);
  std::unordered_map<std::string, Entry> by_key_;
  std::unordered_map<std::uint64_t, std::string> pending_;  // id -> key, not yet answered
  // (expires_at, key) in the order they were set; an item whose entry has a later
  // expires_at (answered since) or is gone is skipped when it comes up.
  std::deque<std::pair<std::uint64_t, std::string>> expiry_;
};

}  // namespace parley::adapters::sip

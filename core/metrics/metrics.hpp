#pragma once
// What the core and the adapters count (docs/ARCHITECTURE.md, Metrics), on a
// MetricRegistry. Per-protocol series are indexed by the session tag (core::Protocol), so
// that counting is an array index and one atomic add; their label value is the name the
// adapter gave with name_protocol() at start (the core names no protocol). A tag nobody
// named counts nothing. Every method may be called from any thread.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "core/metrics/registry.hpp"
#include "core/model/address.hpp"

namespace parley::core {

// Why an input was refused, whatever the protocol (label `reason`).
enum class Rejection : std::uint8_t {
  too_long,            // a line, stanza or request over its size bound
  rate_limited,        // flood or byte/stanza rate exceeded
  refused_connection,  // the per-address connection limiter said no
  malformed,           // unparsable input
  slow_reader,         // a peer that does not read: its write queue overflowed
};
inline constexpr std::size_t kRejections = 5;
std::string_view to_string(Rejection r);

// Where a message copy went (label `path` of parley_deliveries_total).
enum class DeliveryPath : std::uint8_t { live, offline_stored, offline_sent };
inline constexpr std::size_t kDeliveryPaths = 3;

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  MetricRegistry& registry() { return registry_; }
  const MetricRegistry& registry() const { return registry_; }

  // Creates every series of protocol tag `p` under the label value `name` (and the
  // protocol-pair series with every tag named so far). Call once per adapter, at start.
  void name_protocol(Protocol p, std::string_view name);
  // The adapter's name for `p`; to_string(p) when none was given.
  std::string protocol_name(Protocol p) const;

  // Hot path: each one array index and one relaxed atomic add.
  void session_opened(Protocol p) noexcept { add(sessions_, p, 1); }
  void session_closed(Protocol p) noexcept { add(sessions_, p, -1); }
  void connection_opened(Protocol p) noexcept { add(connections_, p, 1); }
  void connection_closed(Protocol p) noexcept { add(connections_, p, -1); }
  void routed(Protocol from, Protocol to) noexcept {
    if (Counter* c = routed_[index(from)][index(to)].load(std::memory_order_relaxed)) c->inc();
    deliveries_[0]->inc();
  }
  void delivered(DeliveryPath path, std::uint64_t n = 1) noexcept {
    deliveries_[static_cast<std::size_t>(path)]->inc(n);
  }
  void auth_failure(Protocol p) noexcept {
    if (Counter* c = auth_failures_[index(p)].load(std::memory_order_relaxed)) c->inc();
  }
  void rejected(Protocol p, Rejection r) noexcept {
    if (Counter* c = rejected_[index(p)][static_cast<std::size_t>(r)].load(std::memory_order_relaxed))
      c->inc();
  }
  void store_commit(std::chrono::nanoseconds took) noexcept {
    store_commit_->observe(std::chrono::duration<double>(took).count());
  }

  // Gauges the core cannot count itself (live connections of an adapter whose connection
  // objects come and go on other threads): hold one per connection.
  class ConnectionCount {
   public:
    ConnectionCount() = default;
    ConnectionCount(Metrics& m, Protocol p) : m_(&m), p_(p) { m.connection_opened(p); }
    ConnectionCount(ConnectionCount&& o) noexcept : m_(std::exchange(o.m_, nullptr)), p_(o.p_) {}
    ConnectionCount& operator=(ConnectionCount&&) = delete;
    ~ConnectionCount() {
      if (m_) m_->connection_closed(p_);
    }

   private:
    Metrics* m_ = nullptr;
    Protocol p_ = Protocol::local;
  };

 private:
  static constexpr std::size_t kProtocols = 5;  // the values of core::Protocol
  static std::size_t index(Protocol p) noexcept { return static_cast<std::size_t>(p) % kProtocols; }
  static void add(const std::array<std::atomic<Gauge*>, kProtocols>& a, Protocol p, std::int64_t n) noexcept {
    if (Gauge* g = a[index(p)].load(std::memory_order_relaxed)) g->add(n);
  }

  MetricRegistry registry_;
  mutable std::mutex names_mu_;
  std::array<std::string, kProtocols> names_;
  std::array<std::atomic<Gauge*>, kProtocols> sessions_{};
  std::array<std::atomic<Gauge*>, kProtocols> connections_{};
  std::array<std::atomic<Counter*>, kProtocols> auth_failures_{};
  std::array<std::array<std::atomic<Counter*>, kProtocols>, kProtocols> routed_{};
  std::array<std::array<std::atomic<Counter*>, kRejections>, kProtocols> rejected_{};
  std::array<Counter*, kDeliveryPaths> deliveries_{};
  Histogram* store_commit_ = nullptr;
};

}  // namespace parley::core

#pragma once
// Per-address admission for every listener (IRC, XMPP c2s, and later SIP-TCP and PSYC):
// how many connections one address may hold at once, and how fast it may open new ones.
// Checked when a socket is accepted, before any protocol state exists, so a refused
// connection costs one accept and one close.
//
//   auto limiter = AddressLimiter::make({.per_address = 64, .rate = 10, .burst = 64});
//   auto a = limiter->admit(address, now);
//   if (!a) refuse(a.verdict());           // too_many / too_fast
//   else connection.keep_admission(std::move(a));  // released when the connection closes
//
// "Address": an IPv4 address, or an IPv6 /64 (one subscriber's allocation, RFC 6177: an
// attacker with IPv6 has a whole /64, so counting single addresses would bound nothing).
// IPv4-mapped IPv6 addresses count as their IPv4 address.
// Thread-safe (one mutex; admit/release are a hash lookup). The table is bounded by the
// number of addresses with a live connection plus those whose rate bucket is still
// refilling: idle entries are dropped as it grows.
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley::protocols {

class AddressLimiter : public std::enable_shared_from_this<AddressLimiter> {
 public:
  using Clock = std::chrono::steady_clock;

  struct Policy {
    std::uint32_t per_address = 64;  // concurrent connections; 0: unlimited
    double rate = 10;                // new connections per second, sustained; 0: unlimited
    std::uint32_t burst = 64;        // new connections ahead of that rate (bucket size)
  };

  enum class Verdict : std::uint8_t { admitted, too_many, too_fast };

  class Admission;

  static std::shared_ptr<AddressLimiter> make(Policy p) {
    return std::shared_ptr<AddressLimiter>(new AddressLimiter(p));
  }

  // Counts a new connection from `address` if the policy allows it.
  Admission admit(const boost::asio::ip::address& address, Clock::time_point now = Clock::now());
  // Takes effect for the next admit(); connections already admitted stay (and count).
  void set_policy(Policy p);
  Policy policy() const;

  // Introspection for tests and metrics.
  std::size_t tracked() const;                                         // table entries
  std::uint32_t count(const boost::asio::ip::address& address) const;  // live connections

  // The table key of an address (see above): the family and its significant bytes.
  static std::string key_of(const boost::asio::ip::address& address);

 private:
  struct Entry {
    AddressLimiter* owner = nullptr;
    std::uint32_t count = 0;
    double tokens = 0;
    Clock::time_point refilled{};
  };

  explicit AddressLimiter(Policy p) : policy_(p) {}
  void release(Entry& e);
  void refill(Entry& e, Clock::time_point now) const;
  void prune(Clock::time_point now);

  mutable std::mutex mu_;
  Policy policy_;
  std::unordered_map<std::string, Entry> table_;  // node-based: Entry addresses are stable
  std::size_t prune_at_ = 1024;

 public:
  // One admitted connection (move-only): the count is released when it is destroyed or
  // reset(). 16 bytes: a pointer to the entry sharing the limiter's lifetime.
  class Admission {
   public:
    Admission() = default;
    Admission(Admission&&) noexcept = default;
    Admission& operator=(Admission&& o) noexcept {
      if (this != &o) {
        reset();
        entry_ = std::move(o.entry_);
        verdict_ = o.verdict_;
      }
      return *this;
    }
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    ~Admission() { reset(); }

    // True when admitted (also for an Admission that counts nothing: no limiter).
    explicit operator bool() const { return verdict_ == Verdict::admitted; }
    Verdict verdict() const { return verdict_; }
    void reset() {
      if (entry_) {
        entry_->owner->release(*entry_);
        entry_.reset();
      }
    }

   private:
    friend class AddressLimiter;
    std::shared_ptr<Entry> entry_;
    Verdict verdict_ = Verdict::admitted;
  };
};

}  // namespace parley::protocols

#pragma once
// Failed-login accounting, per client address and per account, for every protocol's
// password checks (SASL, PASS, OPER). Protocol-free: keys are plain strings.
//
// Within a sliding `window`:
//   - an address with `address_failures` failures is refused (a temporary failure, no
//     password check at all) until its oldest counted failure leaves the window;
//   - an account with `account_failures` failures is slowed down, not locked: each further
//     attempt for it is answered only after `account_delay`. An attacker can make a real
//     user's login slow for as long as they keep failing, never impossible.
// A success resets nothing: otherwise an attacker holding one account could clear its
// address's record between guesses. Memory is bounded: at most `max_tracked` keys, the
// stalest forgotten first.
//
// Thread-safe (a mutex): XMPP streams record failures from their own strands.
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley::core {

class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::seconds window{60};
    std::uint32_t address_failures = 10;  // 0: no per-address limit
    std::uint32_t account_failures = 20;  // 0: no per-account slow-down
    std::chrono::milliseconds account_delay{1000};
    std::size_t max_tracked = 10000;
  };
  struct Verdict {
    bool refused = false;           // answer with a temporary failure now
    Clock::duration delay{};        // else answer no sooner than this
    Clock::duration retry_after{};  // refused: when the address may try again
  };

  AuthThrottle() = default;
  explicit AuthThrottle(Options o) : options_(o) {}
  void set_options(Options o);
  Options options() const;

  // Before a password check from `address` for `account` (either may be empty).
  Verdict check(const std::string& address, const std::string& account, Clock::time_point now = Clock::now());
  // After a failed check (a wrong password, an unknown user, a refused attempt does not count).
  void failure(const std::string& address, const std::string& account, Clock::time_point now = Clock::now());
  // Keys currently tracked (tests, metrics).
  std::size_t tracked() const;

 private:
  struct Record {
    std::deque<Clock::time_point> failures;  // at most the key's limit, oldest first
    Clock::time_point last{};
  };
  using Map = std::unordered_map<std::string, Record>;
  void prune(Record& r, Clock::time_point now) const;
  void record(Map& map, const std::string& key, std::uint32_t limit, Clock::time_point now);
  void evict(Clock::time_point now);

  mutable std::mutex mu_;
  Options options_;
  Map addresses_;
  Map accounts_;
};

}  // namespace parley::core

#pragma once
// When the SIP federation's client side sends what (pure, no I/O, unit tested:
// tests/unit/adapters/sip/federation_schedule_test.cpp). adapters/sip/federation.* drives
// these from its tick; the libre side only carries out one request at a time.
//
// - PublishSchedule: one local presentity PUBLISHed at the remote server (RFC 3903 §4):
//   an initial PUBLISH with the body, a refresh (SIP-If-Match, no body) before the granted
//   Expires runs out, a modify (SIP-If-Match + body) when the state changes, and after a
//   412 (§4.4: the server forgot the entity tag) a new initial PUBLISH at once. Any other
//   failure (no answer, 4xx-6xx) waits out a jittered exponential backoff before the next
//   initial PUBLISH, so a dead server costs one request per backoff step, never a loop.
// - ResubscribeSchedule: one remote presentity watched (RFC 6665). libre's subscriber
//   refreshes a live subscription itself (at 90 % of Expires); when it ends (refused,
//   refresh failed, 481 after a server restart, NOTIFY terminated) the next SUBSCRIBE
//   waits out the backoff; a subscription that lived long enough starts it again from
//   the floor, one that dies at once climbs it (no hot loop against a flapping server).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "protocols/common/backoff.hpp"

namespace parley::adapters::sip {

using FedClock = std::chrono::steady_clock;

// RFC 3903 §4.1 / RFC 6665 §4.1.2.1: refresh before the granted time runs out. 90 % of
// it (what libre's subscriber uses too), at least one second.
std::chrono::milliseconds refresh_after(std::uint32_t granted_seconds);

// The backoff of a federation entry: 1 s floor, doubling, capped at `max_seconds`,
// reset after a subscription or publication lived a minute.
protocols::BackoffPolicy federation_backoff(std::uint32_t max_seconds);

class PublishSchedule {
 public:
  enum class Kind : std::uint8_t { initial, refresh, modify };
  struct Request {
    Kind kind = Kind::initial;
    std::string etag;  // SIP-If-Match for refresh/modify
    std::string body;  // empty for a refresh
  };

  PublishSchedule(protocols::BackoffPolicy policy, std::uint64_t seed) : backoff_(policy, seed) {}

  // The state to publish now; a change makes the next due() a publication of it.
  void set_body(std::string body);
  // What to send now, if anything (at most one request in flight).
  std::optional<Request> due(FedClock::time_point now);
  // The answer to the request in flight: SIP status (0: no answer), SIP-ETag, Expires.
  void answered(std::uint16_t code, std::string etag, std::uint32_t expires, FedClock::time_point now);

  bool in_flight() const { return in_flight_; }
  bool published() const { return !etag_.empty(); }
  const std::string& etag() const { return etag_; }
  FedClock::time_point refresh_at() const { return refresh_at_; }
  FedClock::time_point retry_at() const { return retry_at_; }
  std::uint32_t failures() const { return backoff_.failures(); }

 private:
  std::string body_, etag_;
  bool dirty_ = false, in_flight_ = false;
  std::uint32_t conditional_failures_ = 0;  // 412s in a row
  FedClock::time_point refresh_at_{}, retry_at_{};
  protocols::Backoff backoff_;
};

class ResubscribeSchedule {
 public:
  ResubscribeSchedule(protocols::BackoffPolicy policy, std::uint64_t seed) : backoff_(policy, seed) {}

  // True when a new SUBSCRIBE should go out now (none live, the wait is over); it is then live.
  bool due(FedClock::time_point now);
  // The server accepted it (2xx or a NOTIFY arrived).
  void established(FedClock::time_point now);
  // It ended (refused, timed out, terminated); the next attempt waits.
  void ended(FedClock::time_point now);

  bool live() const { return live_; }
  bool established() const { return established_; }
  FedClock::time_point retry_at() const { return retry_at_; }
  std::uint32_t failures() const { return backoff_.failures(); }

 private:
  bool live_ = false, established_ = false;
  FedClock::time_point started_{}, retry_at_{};
  protocols::Backoff backoff_;
};

}  // namespace parley::adapters::sip

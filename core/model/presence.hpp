#pragma once
// Presence in the SIMPLE model (RFC 3863 PIDF, RFC 4480 RPID): a presentity (a user) has
// one tuple per session/device; protocols with one state per user (IRC AWAY) see the
// aggregate.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/address.hpp"
#include "core/model/time.hpp"

namespace parley::core {

enum class Basic : std::uint8_t { closed, open };  // RFC 3863 §4.1.4

// Ordered from least to most willing to talk; aggregation prefers higher priority first,
// then the more available tuple.
enum class Availability : std::uint8_t { xa, away, dnd, available, chat };
std::string_view to_string(Availability a);
std::optional<Availability> availability_from_string(std::string_view s);

struct Tuple {
  std::string id;  // session id as text (an XMPP resource, an IRC connection, a SIP contact)
  Basic basic = Basic::open;
  Availability availability = Availability::available;
  std::string note;
  std::int8_t priority = 0;  // XMPP -128..127; negative: never receives bare-address messages
  Timestamp updated{};

  friend bool operator==(const Tuple&, const Tuple&) = default;
};

struct Presentity {
  Address user;               // bare address
  std::vector<Tuple> tuples;  // open tuples only; an empty list means offline

  bool online() const { return !tuples.empty(); }
  // One tuple describing the whole person: closed if no tuple is open, otherwise the
  // open tuple with the highest priority (most available, then most recent, on ties).
  Tuple aggregate() const;
};

// A watcher's subscription to a presentity (RFC 3265/3856 states, RFC 6121 roster).
enum class SubscriptionState : std::uint8_t { none, pending, active, terminated };
std::string_view to_string(SubscriptionState s);

struct Subscription {
  Address watcher;     // bare
  Address presentity;  // bare
  SubscriptionState state = SubscriptionState::none;
  std::string reason;  // for terminated: "rejected", "deactivated", "timeout", ...

  friend bool operator==(const Subscription&, const Subscription&) = default;
};

}  // namespace parley::core

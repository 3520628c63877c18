#pragma once
// Address: who or what a message, presence or room event is about.
//
// Three kinds:
//  - a local user of the hub ("alice"), optionally with a resource naming one session;
//  - a local room ("dev"), which IRC sees as #dev, XMPP as dev@conference.DOMAIN;
//  - a foreign, protocol-qualified URI owned by one adapter
//    (xmpp:alice@d/res, irc://net/#chan, irc://net/nick, sip:bob@d, psyc://d/~alice).
// The textual form round-trips through parse(): "local:alice", "local:alice/phone",
// "room:dev", or the foreign URI itself.
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/model/error.hpp"

namespace parley::core {

enum class Protocol : std::uint8_t { local, xmpp, irc, sip, psyc };
std::string_view to_string(Protocol p);

class Address {
 public:
  enum class Kind : std::uint8_t { none, user, room, foreign };

  Address() = default;
  static Address user(std::string name, std::string resource = {});
  static Address room(std::string name);
  // A foreign URI; the protocol is taken from its scheme. Fails on an unknown scheme.
  static Result<Address> foreign(std::string uri);
  static Result<Address> parse(std::string_view text);

  Kind kind() const { return kind_; }
  bool empty() const { return kind_ == Kind::none; }
  bool is_user() const { return kind_ == Kind::user; }
  bool is_room() const { return kind_ == Kind::room; }
  bool is_foreign() const { return kind_ == Kind::foreign; }
  Protocol protocol() const { return protocol_; }

  // user name, room name, or the whole foreign URI.
  const std::string& id() const { return id_; }
  const std::string& resource() const { return resource_; }
  // The same address without a resource (a "bare" address).
  Address bare() const;

  std::string to_string() const;

  friend bool operator==(const Address&, const Address&) = default;
  friend auto operator<=>(const Address&, const Address&) = default;

 private:
  Kind kind_ = Kind::none;
  Protocol protocol_ = Protocol::local;
  std::string id_;
  std::string resource_;
};

// Local user and room names: what the hub accepts as an account or room id. Lower-case
// ASCII letters, digits and "._-", starting with a letter, 1..32 characters: a name that is
// valid here is valid unchanged as an IRC nick or channel, an XMPP localpart, a SIP user
// part and a PSYC nickname, so each adapter can show it unchanged (adapters/*/ own how).
inline constexpr std::size_t kMaxLocalName = 32;
bool is_valid_local_name(std::string_view name);

}  // namespace parley::core

template <>
struct std::hash<parley::core::Address> {
  std::size_t operator()(const parley::core::Address& a) const noexcept {
    std::size_t h = std::hash<std::string>{}(a.id());
    h ^= std::hash<std::string>{}(a.resource()) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h ^ (static_cast<std::size_t>(a.kind()) << 1);
  }
};

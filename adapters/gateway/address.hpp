#pragma once
// Biboumi-compatible addresses under the gateway's XMPP domain (Biboumi's "Iid"):
//
//   #chan%irc.example.org@gw        a channel (a MUC room)
//   #chan%irc.example.org@gw/Nick   an occupant of it
//   nick%irc.example.org@gw         an IRC user (private messages)
//   irc.example.org@gw              the IRC server itself
//
// The localpart is split at the first '%': what precedes it is the target, what follows
// the server. Both are XEP-0106 unescaped (a channel "&x" arrives as "\26x", since RFC 7622
// §3.3.1 forbids '&' in a localpart) and lower-cased (IRC compares case-insensitively; the
// JID layer has folded ASCII already). Whether the target is a channel or a nick follows
// the network's CHANTYPES (ISUPPORT, "#&" until the server says otherwise). Pure: no I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::adapters::gateway {

inline constexpr std::size_t kMaxServerName = 253;  // a DNS name (RFC 1035 §2.3.4)
inline constexpr std::size_t kMaxTarget = 200;      // channel or nick bytes (IRC lines are 512)

struct GatewayAddress {
  enum class Kind : std::uint8_t { server, channel, user };
  Kind kind = Kind::server;
  std::string server;    // "irc.example.org" or a configured network's name
  std::string target;    // "#chan" or "nick"; empty for the server
  std::string resource;  // the occupant's nick for a channel; kept as is
};

// local: the JID's localpart, resource: its resourcepart (may be empty). nullopt when the
// address cannot name anything: empty or over-long server, characters a server name or an
// IRC target cannot hold (space, comma, control characters, a bad escape).
std::optional<GatewayAddress> parse_gateway_address(std::string_view local, std::string_view resource,
                                                    std::string_view chantypes = "#&");
// Channel or user for a non-empty target under `chantypes`: the one thing in the address
// CHANTYPES decides, so an address parsed before the network's ISUPPORT was known need
// not be parsed again.
GatewayAddress::Kind target_kind(std::string_view target, std::string_view chantypes);

// XEP-0106 §4: "\20" space, "\22" ", "\26" &, "\27" ', "\2f" /, "\3a" :, "\3c" <, "\3e" >,
// "\40" @, "\5c" \. A backslash not starting one of these stays as it is (§4.3). nullopt
// never: unescaping is total.
std::string jid_unescape(std::string_view s);
// The inverse for building localparts from IRC names (a "\" is escaped only where it
// would otherwise start an escape sequence, §4.2).
std::string jid_escape(std::string_view s);

// "target%server" (escaped) as a localpart; just the server when target is empty.
std::string gateway_local(std::string_view target, std::string_view server);

}  // namespace parley::adapters::gateway

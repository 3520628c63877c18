#pragma once
// The room addresses a configured bridge links (bridges[].rooms), parsed once by the loader
// into typed values (like listen addresses), so the bridge plugin never sees a bad one:
//
//   irc://NETWORK/#channel      a channel of irc.networks[] (NETWORK: its name or host;
//                               "%23" may stand for '#'); channel: RFC 2812 §1.3 chars
//   xmpp:room@muc.domain        a remote MUC, joined through the XEP-0114 component
//                               (xmpp.component); a bare JID, no resource
//   xmpp:room@<xmpp.muc.domain> Parley's own MUC service: the local room `room`
//   parley:#room (or parley:room) a local room (the one IRC calls #room and XMPP
//                               room@<xmpp.muc.domain>)
//
// Pure; no I/O. Bounded: an address longer than kMaxBridgeRoomUri is refused.
#include <cstddef>
#include <string>
#include <string_view>

namespace parley::config {

inline constexpr std::size_t kMaxBridgeRoomUri = 1024;
inline constexpr std::size_t kMaxBridgeRooms = 16;  // rooms one bridge may link

struct BridgeRoom {
  enum class Kind : unsigned char { irc, muc, local };
  Kind kind = Kind::local;
  std::string network;  // irc: the network as written (name or host)
  std::string channel;  // irc: "#chan", lower-cased (ASCII)
  std::string jid;      // muc: the room's bare JID, prepared (RFC 7622)
  std::string room;     // local: the core room name (no '#', lower-cased)
  std::string uri;      // as configured, for logs

  // One string per room for duplicate checks: "irc libera #chan", "muc dev@...", "local dev".
  std::string key() const;
};

// Parses one address; on failure returns false with `why` saying what is wrong. muc_domain:
// Parley's own MUC service (xmpp:room@that is a local room).
bool parse_bridge_room(std::string_view uri, std::string_view muc_domain, BridgeRoom& out, std::string& why);

}  // namespace parley::config

#include "config/bridge_room.hpp"

#include "core/model/address.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/irc/text.hpp"
#include "protocols/xmpp/jid.hpp"

namespace parley::config {

namespace {

constexpr std::size_t kMaxChannel = 64;  // irc.channel_length's default; networks allow 50-64

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool local_room(std::string_view name, BridgeRoom& out, std::string& why) {
  std::string folded = protocols::ascii_fold(name);
  if (!core::is_valid_local_name(folded)) {
    why = "'" + std::string(name) + "' is not a valid local room name (at most " +
          std::to_string(core::kMaxLocalName) + " letters, digits, '-', '_' or '.')";
    return false;
  }
  out.kind = BridgeRoom::Kind::local;
  out.room = std::move(folded);
  return true;
}

}  // namespace

std::string BridgeRoom::key() const {
  switch (kind) {
    case Kind::irc:
      return "irc " + protocols::ascii_fold(network) + " " + channel;
    case Kind::muc:
      return "muc " + jid;
    case Kind::local:
      break;
  }
  return "local " + room;
}

bool parse_bridge_room(std::string_view uri, std::string_view muc_domain, BridgeRoom& out, std::string& why) {
  out = BridgeRoom{};
  out.uri = std::string(uri);
  if (uri.size() > kMaxBridgeRoomUri) {
    why = "room address longer than " + std::to_string(kMaxBridgeRoomUri) + " bytes";
    return false;
  }
  for (char c : uri)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      why = "room address contains a control character";
      return false;
    }
  if (starts_with(uri, "irc://")) {
    std::string_view rest = uri.substr(6);
    auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) {
      why = "expected irc://NETWORK/#channel";
      return false;
    }
    out.network = std::string(rest.substr(0, slash));
    std::string chan(rest.substr(slash + 1));
    if (starts_with(chan, "%23")) chan = "#" + chan.substr(3);
    if (!protocols::irc::is_valid_channel(chan, kMaxChannel)) {
      why = "'" + chan + "' is not an IRC channel name (expected irc://NETWORK/#channel)";
      return false;
    }
    out.kind = BridgeRoom::Kind::irc;
    out.channel = protocols::ascii_fold(chan);
    return true;
  }
  if (starts_with(uri, "xmpp:")) {
    auto jid = protocols::xmpp::parse_jid(uri.substr(5));
    if (!jid || jid->local.empty() || !jid->resource.empty()) {
      why = "expected xmpp:room@muc.domain (a room's bare JID)";
      return false;
    }
    if (protocols::ascii_fold(jid->domain) == protocols::ascii_fold(muc_domain)) return local_room(jid->local, out, why);
    out.kind = BridgeRoom::Kind::muc;
    out.jid = jid->bare_str();
    return true;
  }
  if (starts_with(uri, "parley:")) {
    std::string_view name = uri.substr(7);
    if (starts_with(name, "#")) name.remove_prefix(1);
    return local_room(name, out, why);
  }
  why = "unknown room address; expected irc://NETWORK/#channel, xmpp:room@muc.domain or parley:#room";
  return false;
}

}  // namespace parley::config

#include <set>

#include "config/sections.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/irc/text.hpp"

namespace parley::config {

namespace {

constexpr std::size_t kMaxBridgeName = 32;
constexpr std::size_t kMaxPrefix = 64;

// A bridge's name appears in JID resources, IRC realnames and logs.
bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > kMaxBridgeName) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.'))
      return false;
  return true;
}

const IrcNetwork* find_network(const Config& c, std::string_view name) {
  for (const auto& n : c.irc.networks)
    if (protocols::ascii_equal_fold(n.name, name) || protocols::ascii_equal_fold(n.host, name)) return &n;
  return nullptr;
}

void check_rooms(Reader& r, const Config& c, BridgeConfig& b) {
  if (b.rooms.size() > kMaxBridgeRooms) {
    r.error("rooms", "at most " + std::to_string(kMaxBridgeRooms) + " rooms per bridge");
    return;
  }
  const std::string muc_domain = c.xmpp.muc.domain.empty() ? "conference." + c.server.domain : c.xmpp.muc.domain;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < b.rooms.size(); ++i) {
    const std::string at = "rooms[" + std::to_string(i) + "] '" + b.rooms[i] + "': ";
    BridgeRoom room;
    std::string why;
    if (!parse_bridge_room(b.rooms[i], muc_domain, room, why)) {
      r.error("rooms", at + why);
      continue;
    }
    if (room.kind == BridgeRoom::Kind::irc && !find_network(c, room.network)) {
      std::string known;
      for (const auto& n : c.irc.networks) known += (known.empty() ? "" : ", ") + n.name;
      r.error("rooms", at + "unknown IRC network '" + room.network + "'; expected a name or host of irc.networks" +
                           (known.empty() ? " (none configured)" : " (" + known + ")"));
      continue;
    }
    if (room.kind == BridgeRoom::Kind::muc && c.xmpp.component.domain.empty()) {
      r.error("rooms", at + "a remote MUC is joined through the XEP-0114 component: set xmpp.component "
                            "(or name a room of xmpp.muc.domain " + muc_domain + ")");
      continue;
    }
    if (!seen.insert(room.key()).second) {
      r.error("rooms", at + "the same room is listed twice");
      continue;
    }
    b.endpoints.push_back(std::move(room));
  }
}

}  // namespace

void parse_bridges(Reader& root, const Config& c, std::vector<BridgeConfig>& out) {
  std::set<std::string> names;
  root.list("bridges", out, [&](Reader& r, BridgeConfig& b) {
    r.string("name", b.name, Required::yes);
    if (r.has("name") && !b.name.empty()) {
      if (!valid_name(b.name))
        r.error("name", "expected at most 32 letters, digits, '-', '_' or '.'");
      else if (!names.insert(protocols::ascii_fold(b.name)).second)
        r.error("name", "another bridge has the name '" + b.name + "'");
    }
    r.one_of("mode", b.mode, {"relay", "puppet"});
    r.strings("rooms", b.rooms, Required::yes);
    if (r.has("rooms") && b.rooms.size() < 2)
      r.error("rooms", "expected a list of at least two room addresses to link");
    else if (r.has("rooms"))
      check_rooms(r, c, b);
    r.string("prefix", b.prefix);
    if (b.prefix.size() > kMaxPrefix) r.error("prefix", "longer than " + std::to_string(kMaxPrefix) + " bytes");
    for (char ch : b.prefix)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
        r.error("prefix", "contains a control character (CR, LF, NUL...)");
        break;
      }
    r.string("nick", b.nick, Required::non_empty);
    if (!b.nick.empty() && !protocols::irc::is_valid_nick(b.nick, 30))
      r.error("nick", "'" + b.nick + "' is not a valid IRC nick (RFC 2812 §2.3.1, at most 30)");
    r.integer("max_puppets", b.max_puppets, 0, 100);
  });
}

}  // namespace parley::config

#include "config/sections.hpp"

namespace parley::config {

void parse_bridges(Reader& root, std::vector<BridgeConfig>& out) {
  root.list("bridges", out, [](Reader& r, BridgeConfig& b) {
    r.string("name", b.name, Required::yes);
    r.one_of("mode", b.mode, {"relay", "puppet"});
    r.strings("rooms", b.rooms, Required::yes);
    if (r.has("rooms") && b.rooms.size() < 2) r.error("rooms", "expected a list of at least two room addresses to link");
  });
}

}  // namespace parley::config

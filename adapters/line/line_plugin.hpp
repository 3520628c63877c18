#pragma once
// The line plugin: the smallest protocol plugin, a worked example for docs/PLUGINS.md and a
// test client for the core. Enabled by a `line:` config section (off by default).
//
// Wire protocol (one command per line, "\n" or "\r\n", UTF-8, at most line.max_line bytes):
//   client -> server                     server -> client
//   LOGIN <user> <password>              OK <user>          | ERR <text>
//   GUEST <nick>                         OK <nick>          | ERR <text>
//   JOIN <room>                          JOINED <room> <nick>  (also for others joining)
//   PART <room>                          LEFT <room> <nick>    (also for others leaving)
//   MSG <room> <text>                    MSG <room> <nick> <text>  (others' messages only)
//   QUIT                                 BYE <reason>, then the server closes
// Rooms are the hub's rooms: `JOIN dev` is IRC's #dev and XMPP's dev@conference.DOMAIN.
#include <memory>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "core/plugin/plugin.hpp"

namespace parley::adapters::line {

std::unique_ptr<core::Plugin> make_line_plugin(adapters::Runtime& rt, const config::Config& cfg);

}  // namespace parley::adapters::line

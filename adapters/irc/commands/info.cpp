// Server information commands (core strand): MOTD LUSERS VERSION TIME INFO LINKS.
#include "adapters/irc/commands/commands.hpp"
#include "adapters/irc/irc_server.hpp"
#include "core/core.hpp"
#include "parley/version.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;

namespace {

void cmd_motd(IrcServer& srv, IrcClient& c, const pi::Message&) { srv.send_motd(c); }

void cmd_lusers(IrcServer& srv, IrcClient& c, const pi::Message&) { srv.send_lusers(c); }

void cmd_version(IrcServer& srv, IrcClient& c, const pi::Message&) {
  srv.numeric(c, 351, {kServerVersion, srv.config().server_name}, "Parley multi-protocol gateway");
  srv.send_isupport(c);
}

void cmd_time(IrcServer& srv, IrcClient& c, const pi::Message&) {
  srv.numeric(c, 391, {srv.config().server_name}, core::to_iso8601(core::Clock::now()));
}

void cmd_info(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  // Modern IRC "INFO": zero or more RPL_INFO, then RPL_ENDOFINFO; another server: 402.
  if (m.nparams > 0 && !pi::mask_match(m.param(0), srv.config().server_name))
    return srv.numeric(c, 402, {m.param(0)}, "No such server");
  srv.numeric(c, 371, {}, std::string(kServerVersion) + ": Parley, a multi-protocol IM gateway");
  srv.numeric(c, 371, {}, "IRC, XMPP, SIP/SIMPLE and PSYC users share one hub");
  srv.numeric(c, 374, {}, "End of INFO list");
}

void cmd_links(IrcServer& srv, IrcClient& c, const pi::Message&) {
  // One server and no links to list: the end of the list only (Modern IRC "LINKS").
  srv.numeric(c, 365, {"*"}, "End of /LINKS list");
}

}  // namespace

void register_info_commands(CommandRegistry& r) {
  static constexpr Command kCommands[] = {
      {"MOTD", 0, 1, true, &cmd_motd},        // MOTD [<target>]
      {"LUSERS", 0, 0, true, &cmd_lusers},    // LUSERS
      {"VERSION", 0, 1, true, &cmd_version},  // VERSION [<target>]
      {"TIME", 0, 1, true, &cmd_time},        // TIME [<server>]
      {"INFO", 0, 1, true, &cmd_info},        // INFO [<target>] (this server or 402)
      {"LINKS", 0, 0, true, &cmd_links},      // LINKS
  };
  r.add(kCommands);
}

}  // namespace parley::adapters::irc

// Server information commands (core strand): MOTD LUSERS VERSION TIME INFO LINKS.
#include "adapters/irc/commands/commands.hpp"
#include "adapters/irc/irc_server.hpp"
#include "core/core.hpp"
#include "parley/version.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

}  // namespace

void send_isupport(IrcServer& srv, IrcClient& c) {
  // Every token is something this server does (Modern IRC, "RPL_ISUPPORT Parameters").
  std::vector<std::string> tokens = {
      "AWAYLEN=390",
      "CASEMAPPING=ascii",
      // The core bounds every session's rooms too (server.limits.max_rooms): the lower one holds.
      "CHANLIMIT=#:" + std::to_string(std::min(srv.config().max_channels, srv.core().options().max_rooms)),
      "CHANMODES=b,k,l,imnst",
      "CHANNELLEN=" + std::to_string(srv.channel_length()),
      "CHANTYPES=#",
      "ELIST=MNU",
      "HOSTLEN=64",
      "KEYLEN=" + std::to_string(IrcServer::kKeyLen),
      "KICKLEN=390",
      "MAXLIST=b:" + std::to_string(IrcServer::kMaxBans),
      "MAXTARGETS=10",
      "MODES=4",
      "MONITOR=" + std::to_string(IrcServer::kMonitorMax),
      "NETWORK=" + srv.config().network_name,
      "NICKLEN=" + std::to_string(srv.config().nick_length),
      "PREFIX=(ohv)@%+",
      "STATUSMSG=@%+",
      "TARGMAX=JOIN:,KICK:,NAMES:,NOTICE:10,PART:,PRIVMSG:10,WHOIS:1,WHOWAS:",
      "TOPICLEN=390",
      "USERLEN=19",
      "WHOX",
  };
  for (std::size_t i = 0; i < tokens.size(); i += 12) {
    pi::LineWriter w(c.out);
    w.prefix(srv.config().server_name).numeric(5).param(c.nick);
    for (std::size_t j = i; j < std::min(tokens.size(), i + 12); ++j) w.param(tokens[j]);
    w.trailing("are supported by this server").end();
  }
  srv.mark_dirty(c);
}

void send_motd(IrcServer& srv, IrcClient& c) {
  if (srv.config().motd.empty()) return srv.numeric(c, 422, {}, "MOTD File is missing");
  srv.numeric(c, 375, {}, "- " + srv.config().server_name + " Message of the day - ");
  for (auto line : split(srv.config().motd, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    srv.numeric(c, 372, {}, "- " + std::string(line));
  }
  srv.numeric(c, 376, {}, "End of /MOTD command.");
}

namespace {

void cmd_motd(IrcServer& srv, IrcClient& c, const pi::Message&) { send_motd(srv, c); }

void cmd_lusers(IrcServer& srv, IrcClient& c, const pi::Message&) { srv.send_lusers(c); }

void cmd_version(IrcServer& srv, IrcClient& c, const pi::Message&) {
  srv.numeric(c, 351, {kServerVersion, srv.config().server_name}, "Parley multi-protocol gateway");
  send_isupport(srv, c);
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

// User commands (core strand): PING PONG QUIT, queries (WHO with IRCv3 WHOX, WHOIS, WHOWAS,
// ISON, USERHOST) and per-user state (AWAY, SETNAME, MONITOR).
#include <algorithm>
#include <charconv>

#include "adapters/irc/commands/commands.hpp"
#include "adapters/irc/irc_server.hpp"
#include "adapters/irc/modes.hpp"
#include "core/core.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;
using pi::LineWriter;
using pi::split_list;

namespace {

bool has_wildcard(std::string_view s) { return s.find_first_of("*?") != std::string_view::npos; }

// Sends "<numeric> <nick> :a,b,c" lines for a list, each line kept well under 512 bytes.
template <class F>
void list_lines(const std::vector<std::string>& items, F&& emit) {
  std::string line;
  for (const auto& i : items) {
    if (!line.empty() && line.size() + i.size() + 1 > 400) {
      emit(line);
      line.clear();
    }
    if (!line.empty()) line += ',';
    line += i;
  }
  if (!line.empty()) emit(line);
}

void cmd_ping(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  LineWriter(c.out)
      .prefix(srv.config().server_name)
      .command("PONG")
      .param(srv.config().server_name)
      .trailing(m.param(0))
      .end();
  srv.mark_dirty(c);
}

void cmd_pong(IrcServer&, IrcClient&, const pi::Message&) {}

void cmd_quit(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  std::string reason = m.nparams > 0 ? "Quit: " + std::string(m.param(0)) : "Client Quit";
  srv.close_link(c, reason);
}

// a and b are in one room.
bool share_channel(IrcServer& srv, const IrcClient& a, const IrcClient& b) {
  for (const auto& rn : srv.core().rooms().rooms_of(a.session))
    if (const core::Room* r = srv.core().rooms().find(rn); r && r->members.count(b.session)) return true;
  return false;
}

// One RPL_WHOREPLY, or with WHOX (ircv3.net/specs/extensions/whox) one RPL_WHOSPCRPL with
// the requested fields in their fixed order "tcuihsnfdlaor", the realname last.
void who_reply(IrcServer& srv, IrcClient& c, std::string_view fields, std::string_view token,
               std::string_view chan, const IrcClient* t, const core::Member* mem,
               const core::Room* room = nullptr) {
  std::string user, host, nick, real, account = "0", flags;
  std::int64_t idle = 0;
  if (t) {
    user = t->user;
    host = t->host;
    nick = t->nick;
    real = t->realname;
    if (!t->account.empty()) account = t->account;
    flags = t->away.empty() ? "H" : "G";
    if (t->oper) flags += '*';
    idle =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t->last_message)
            .count();
  } else {
    // Someone on another protocol, known as a room occupant.
    auto agg = srv.core().presence().presentity(mem->user).aggregate();
    flags =
        (agg.availability == core::Availability::available || agg.availability == core::Availability::chat)
            ? "H"
            : "G";
    nick = room ? srv.room_nicks().irc_nick(*room, *mem) : irc_nick_base(mem->nick, srv.config().nick_length);
    auto mm = srv.render().mask_with(*mem, nick);
    user = mm.substr(mm.find('!') + 1, mm.find('@') - mm.find('!') - 1);
    host = mm.substr(mm.find('@') + 1);
    real = mem->nick;  // the neutral nick, spaces and all
    if (mem->user.is_user() && srv.core().directory().exists(mem->user.id())) account = mem->user.id();
  }
  if (mem) flags += srv.render().status_of(c, *mem);
  if (fields.empty())
    return srv.numeric(c, 352, {chan, user, host, srv.config().server_name, nick, flags}, "0 " + real);
  LineWriter w(c.out);
  w.prefix(srv.config().server_name).numeric(354).param(c.nick);
  for (char f : std::string_view("tcuihsnfdlaor")) {
    if (fields.find(f) == std::string_view::npos) continue;
    switch (f) {
      case 't':
        w.param(token.empty() ? "0" : token);
        break;
      case 'c':
        w.param(chan);
        break;
      case 'u':
        w.param(user);
        break;
      case 'i':
        w.param(t ? std::string_view(t->host) : std::string_view("255.255.255.255"));
        break;
      case 'h':
        w.param(host);
        break;
      case 's':
        w.param(srv.config().server_name);
        break;
      case 'n':
        w.param(nick);
        break;
      case 'f':
        w.param(flags);
        break;
      case 'd':
        w.param("0");
        break;
      case 'l':
        w.param(std::to_string(idle));
        break;
      case 'a':
        w.param(account);
        break;
      case 'o':
        w.param("n/a");
        break;
      case 'r':
        w.trailing(real);
        break;
    }
  }
  w.end();
  srv.mark_dirty(c);
}

void cmd_who(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  std::string_view mask = m.nparams ? m.param(0) : "*";
  // WHOX: "WHO <mask> %<fields>[,<token>]"; the token is 1-3 digits.
  std::string_view fields, token;
  if (m.param(1).starts_with('%')) {
    std::string_view spec = m.param(1).substr(1);
    auto comma = spec.find(',');
    fields = spec.substr(0, comma);
    if (comma != std::string_view::npos) token = spec.substr(comma + 1).substr(0, 3);
    if (fields.empty()) fields = "n";
  }
  if (mask.starts_with('#')) {
    auto room = srv.room_of(mask);
    const core::Room* r = room ? srv.core().rooms().find(*room) : nullptr;
    const bool member = r && r->members.count(c.session);
    if (r && (!r->modes.secret || member)) {
      for (const auto& [id, mem] : r->members) {
        IrcClient* t = srv.client_by_session(id);
        // Modern IRC "WHO": from outside a channel its invisible members are not listed.
        if (!member && t && t->invisible && t != &c) continue;
        who_reply(srv, c, fields, token, "#" + *room, t, &mem, r);
      }
    }
  } else {
    const bool exact = !has_wildcard(mask);
    for (auto& [p, cl] : srv.clients()) {
      if (cl->state != IrcClient::State::registered) continue;
      if (!pi::mask_match(mask, cl->nick) && !pi::mask_match(mask, cl->mask())) continue;
      // Invisible users answer to their exact nick, or to those who share a channel.
      if (cl->invisible && cl.get() != &c && !exact && !share_channel(srv, c, *cl)) continue;
      who_reply(srv, c, fields, token, "*", cl.get(), nullptr);
    }
  }
  srv.numeric(c, 315, {mask}, "End of /WHO list.");
}

void cmd_whois(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  std::string_view nick = m.nparams >= 2 ? m.param(1) : m.param(0);
  if (IrcClient* t = srv.client_by_nick(nick)) {
    srv.numeric(c, 311, {t->nick, t->user, t->host, "*"}, t->realname);
    std::string chans;
    for (const auto& rn : srv.core().rooms().rooms_of(t->session)) {
      const core::Room* r = srv.core().rooms().find(rn);
      if (!r || (r->modes.secret && !r->members.count(c.session))) continue;
      auto it = r->members.find(t->session);
      if (!chans.empty()) chans += ' ';
      if (it != r->members.end()) chans += srv.render().status_of(c, it->second);
      chans += "#" + rn;
    }
    if (!chans.empty()) srv.numeric(c, 319, {t->nick}, chans);
    srv.numeric(c, 312, {t->nick, srv.config().server_name}, srv.config().network_name + " (Parley)");
    if (t->oper) srv.numeric(c, 313, {t->nick}, "is an IRC operator");
    if (!t->away.empty()) srv.numeric(c, 301, {t->nick}, t->away);
    if (!t->account.empty()) srv.numeric(c, 330, {t->nick, t->account}, "is logged in as");
    if (t->tls) srv.numeric(c, 671, {t->nick}, "is using a secure connection");
    auto now = std::chrono::steady_clock::now();
    auto idle = std::chrono::duration_cast<std::chrono::seconds>(now - t->last_message).count();
    auto signon_ago = std::chrono::duration_cast<std::chrono::seconds>(now - t->signon).count();
    auto signon =
        std::chrono::duration_cast<std::chrono::seconds>(core::Clock::now().time_since_epoch()).count() -
        signon_ago;
    srv.numeric(c, 317, {t->nick, std::to_string(idle), std::to_string(signon)}, "seconds idle, signon time");
    return srv.numeric(c, 318, {t->nick}, "End of /WHOIS list.");
  }
  // Someone on another protocol: a room occupant by nick, or an online local user.
  std::string f = pi::casefold(nick);
  const core::Member* found = nullptr;
  std::string shown_nick;
  std::string chans;
  for (const core::Room* r : srv.core().rooms().list()) {
    const core::Member* mem = srv.room_nicks().member_by_irc_nick(*r, nick);
    if (!mem && core::is_valid_local_name(f))
      for (const auto& [id, mm] : r->members)
        if (mm.user == core::Address::user(f)) mem = &mm;
    if (!mem) continue;
    if (!found) {
      found = mem;
      shown_nick = srv.room_nicks().irc_nick(*r, *mem);
    }
    if (r->modes.secret && !r->members.count(c.session)) continue;
    if (!chans.empty()) chans += ' ';
    if (char p = prefix_for(mem->role, mem->affiliation, mem->voice)) chans += p;
    chans += "#" + r->name;
  }
  core::Address user = found ? found->user : core::Address{};
  if (!found && core::is_valid_local_name(f) && srv.core().sessions().user_online(core::Address::user(f)))
    user = core::Address::user(f);
  if (user.empty()) {
    srv.numeric(c, 401, {nick}, "No such nick/channel");
    return srv.numeric(c, 318, {nick}, "End of /WHOIS list.");
  }
  std::string shown(found ? shown_nick : std::string(nick));
  std::string proto = "local";
  auto sessions = srv.core().sessions().of_user(user);
  if (!sessions.empty())
    if (const auto* s = srv.core().sessions().find(sessions.front()))
      proto = std::string(core::to_string(s->protocol));
  std::string uid = user.is_user() ? user.id() : "user";
  srv.numeric(c, 311, {shown, uid, proto + ".parley", "*"}, shown + " via " + proto);
  if (!chans.empty()) srv.numeric(c, 319, {shown}, chans);
  srv.numeric(c, 312, {shown, srv.config().server_name}, "connected via " + proto);
  auto agg = srv.core().presence().presentity(user).aggregate();
  if (agg.basic == core::Basic::open && agg.availability != core::Availability::available &&
      agg.availability != core::Availability::chat)
    srv.numeric(c, 301, {shown},
                agg.note.empty() ? std::string(core::to_string(agg.availability)) : agg.note);
  if (user.is_user() && srv.core().directory().exists(user.id()))
    srv.numeric(c, 330, {shown, user.id()}, "is logged in as");
  srv.numeric(c, 318, {shown}, "End of /WHOIS list.");
}

void cmd_whowas(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  // RFC 2812 §3.6.3: most recent first, up to <count> entries per nick (none or a
  // non-positive count: all), then one RPL_ENDOFWHOWAS naming the parameter as given.
  auto nicks = split_list(m.param(0));
  if (nicks.empty()) return srv.numeric(c, 431, {}, "No nickname given");
  long count = 0;
  if (m.nparams >= 2) {
    auto arg = m.param(1);
    std::from_chars(arg.data(), arg.data() + arg.size(), count);
  }
  std::vector<long> seen(nicks.size(), 0);
  for (const auto& w : srv.whowas()) {
    for (std::size_t i = 0; i < nicks.size(); ++i) {
      if (!pi::equal_fold(w.nick, nicks[i]) || (count > 0 && seen[i] >= count)) continue;
      ++seen[i];
      srv.numeric(c, 314, {w.nick, w.user, w.host, "*"}, w.realname);
      srv.numeric(c, 312, {w.nick, srv.config().server_name}, srv.config().network_name);
      break;
    }
  }
  for (std::size_t i = 0; i < nicks.size(); ++i)
    if (!seen[i]) srv.numeric(c, 406, {nicks[i]}, "There was no such nickname");
  srv.numeric(c, 369, {m.param(0)}, "End of WHOWAS");
}

void cmd_ison(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  std::string online;
  for (std::size_t i = 0; i < m.nparams; ++i) {
    std::string_view rest = m.params[i];
    while (!rest.empty()) {
      auto sp = rest.find(' ');
      std::string_view nick = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
      if (nick.empty()) continue;
      bool on = srv.client_by_nick(nick) != nullptr;
      std::string f = pi::casefold(nick);
      if (!on && core::is_valid_local_name(f)) on = srv.core().sessions().user_online(core::Address::user(f));
      if (on) {
        if (!online.empty()) online += ' ';
        online += nick;
      }
    }
  }
  srv.numeric(c, 303, {}, online);
}

void cmd_userhost(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  std::string out;
  for (std::size_t i = 0; i < m.nparams && i < 5; ++i) {
    IrcClient* t = srv.client_by_nick(m.params[i]);
    if (!t) continue;
    if (!out.empty()) out += ' ';
    out += t->nick + (t->oper ? "*" : "") + "=" + (t->away.empty() ? "+" : "-") + t->user + "@" + t->host;
  }
  srv.numeric(c, 302, {}, out);
}

void cmd_away(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  std::string text(pi::utf8_truncate(m.param(0), 390));
  c.away = text;
  if (text.empty())
    srv.numeric(c, 305, {}, "You are no longer marked as being away");
  else
    srv.numeric(c, 306, {}, "You have been marked as being away");
  srv.publish_away(c);
  // away-notify (IRCv3): tell IRC clients that share a channel.
  std::vector<IrcClient*> told;
  for (const auto& rn : srv.core().rooms().rooms_of(c.session)) {
    const core::Room* r = srv.core().rooms().find(rn);
    if (!r) continue;
    for (const auto& [id, mem] : r->members) {
      IrcClient* t = srv.client_by_session(id);
      if (!t || t == &c || !t->has(cap_away_notify)) continue;
      if (std::find(told.begin(), told.end(), t) != told.end()) continue;
      told.push_back(t);
      std::string line;
      LineWriter w(line);
      w.tags(srv.render().tags_to(*t, &c)).prefix(c.mask()).command("AWAY");
      if (!text.empty()) w.trailing(text);
      w.end();
      srv.queue(*t, line);
    }
  }
}

void cmd_setname(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  // IRCv3 setname: a new realname, confirmed to the client and told to those sharing a
  // channel who negotiated the capability; refused with a standard FAIL reply.
  std::string_view real = m.param(0);
  if (real.empty() || real.size() > 390) {
    std::string line;
    LineWriter(line)
        .prefix(srv.config().server_name)
        .command("FAIL")
        .param("SETNAME")
        .param("INVALID_REALNAME")
        .trailing("Realname is not valid")
        .end();
    return srv.queue(c, line);
  }
  c.realname = std::string(real);
  std::vector<IrcClient*> told{&c};
  for (const auto& rn : srv.core().rooms().rooms_of(c.session))
    if (const core::Room* r = srv.core().rooms().find(rn))
      for (const auto& [id, mem] : r->members)
        if (IrcClient* t = srv.client_by_session(id);
            t && std::find(told.begin(), told.end(), t) == told.end())
          told.push_back(t);
  for (IrcClient* t : told) {
    if (!t->has(cap_setname)) continue;
    std::string line;
    LineWriter(line)
        .tags(srv.render().tags_to(*t, &c))
        .prefix(c.mask())
        .command("SETNAME")
        .trailing(c.realname)
        .end();
    srv.queue(*t, line);
  }
}

void cmd_monitor(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  std::string_view sub = m.param(0);
  auto report = [&](const std::vector<std::string>& on, const std::vector<std::string>& off) {
    list_lines(on, [&](const std::string& l) { srv.numeric(c, 730, {}, l); });
    list_lines(off, [&](const std::string& l) { srv.numeric(c, 731, {}, l); });
  };
  if (sub == "+") {
    std::vector<std::string> on, off;
    auto targets = split_list(m.param(1));
    for (std::size_t i = 0; i < targets.size(); ++i) {
      std::string_view t = targets[i];
      if (!pi::is_valid_nick(t, srv.config().nick_length)) continue;  // nicks only, never masks
      std::string f = pi::casefold(t);
      if (std::find(c.monitoring.begin(), c.monitoring.end(), f) == c.monitoring.end()) {
        if (c.monitoring.size() >= IrcServer::kMonitorMax) {
          std::string rest;
          for (std::size_t j = i; j < targets.size(); ++j)
            rest += (rest.empty() ? "" : ",") + std::string(targets[j]);
          srv.numeric(c, 734, {std::to_string(IrcServer::kMonitorMax), rest}, "Monitor list is full.");
          break;
        }
        srv.monitors().add(c, f);
      }
      if (IrcClient* o = srv.client_by_nick(t))
        on.push_back(o->mask());
      else
        off.emplace_back(t);
    }
    return report(on, off);
  }
  if (sub == "-") {
    for (auto t : split_list(m.param(1))) srv.monitors().remove(c, pi::casefold(t));
    return;
  }
  if (sub == "C" || sub == "c") return srv.monitors().forget(c);
  if (sub == "L" || sub == "l") {
    list_lines(c.monitoring, [&](const std::string& l) { srv.numeric(c, 732, {}, l); });
    return srv.numeric(c, 733, {}, "End of MONITOR list");
  }
  if (sub == "S" || sub == "s") {
    std::vector<std::string> on, off;
    for (const auto& f : c.monitoring) {
      if (IrcClient* o = srv.client_by_nick(f))
        on.push_back(o->mask());
      else
        off.push_back(f);
    }
    return report(on, off);
  }
}

}  // namespace

void register_user_commands(CommandRegistry& r) {
  // Arity: the Modern IRC syntax of each command (IRCv3 for SETNAME and MONITOR).
  static constexpr Command kCommands[] = {
      {"PING", 1, 1, false, &cmd_ping},                   // PING <token>
      {"PONG", 0, 2, false, &cmd_pong},                   // PONG [<server>] <token>
      {"QUIT", 0, 1, false, &cmd_quit},                   // QUIT [<reason>]
      {"WHO", 0, 2, true, &cmd_who},                      // WHO <mask> [%<fields>[,<token>]]
      {"WHOIS", 1, 2, true, &cmd_whois},                  // WHOIS [<target>] <nick>
      {"WHOWAS", 1, 2, true, &cmd_whowas},                // WHOWAS <nick> [<count>]
      {"ISON", 1, Command::kUnlimited, true, &cmd_ison},  // ISON <nickname>{ <nickname>}
      {"USERHOST", 1, 5, true, &cmd_userhost},            // USERHOST <nickname>{ <nickname>} (5)
      {"AWAY", 0, 1, true, &cmd_away},                    // AWAY [<text>]
      {"SETNAME", 1, 1, true, &cmd_setname},              // SETNAME <realname>
      {"MONITOR", 1, 2, true, &cmd_monitor},              // MONITOR <+|-|C|L|S> [<targets>]
  };
  r.add(kCommands);
}

}  // namespace parley::adapters::irc

// Channel, message, query and operator commands of IrcServer (core strand).
#include <algorithm>
#include <cstdio>
#include <ctime>

#include "adapters/irc/irc_server.hpp"
#include "core/core.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;
using pi::LineWriter;

namespace {

std::vector<std::string_view> split_list(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto p = s.find(',');
    if (auto item = s.substr(0, p); !item.empty()) out.push_back(item);
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

// Map a core error to the IRC numeric for a channel operation.
int channel_numeric(core::Condition c) {
  switch (c) {
    case core::Condition::forbidden: return 482;
    case core::Condition::not_acceptable: return 442;
    case core::Condition::item_not_found: return 441;
    case core::Condition::not_allowed: return 482;
    default: return 400;
  }
}

std::string away_flag(const std::string& away) { return away.empty() ? "H" : "G"; }


}  // namespace

// ---------------------------------------------------------------------------------------
// JOIN / PART / TOPIC / NAMES / LIST / KICK / INVITE

void IrcServer::cmd_join(IrcClient& c, const pi::Message& m) {
  if (m.param(0) == "0") {
    for (const auto& r : rt_.core.rooms().rooms_of(c.session)) (void)rt_.core.rooms().leave(c.session, r, "Left all channels");
    c.channels = 0;
    return;
  }
  auto chans = split_list(m.param(0));
  auto keys = split_list(m.param(1));
  for (std::size_t i = 0; i < chans.size(); ++i) join_one(c, chans[i], i < keys.size() ? keys[i] : std::string_view{});
}

void IrcServer::join_one(IrcClient& c, std::string_view chan, std::string_view key) {
  auto room = room_of(chan);
  if (!room) return numeric(c, 479, {chan}, "Illegal channel name");
  const core::Room* existing = rt_.core.rooms().find(*room);
  if (existing && existing->members.count(c.session)) return;
  c.channels = rt_.core.rooms().rooms_of(c.session).size();
  if (c.channels >= cfg_.max_channels) return numeric(c, 405, {chan}, "You have joined too many channels");
  core::JoinRequest req;
  req.room = *room;
  req.nick = c.nick;
  req.key = std::string(key);
  c.joining = *room;
  auto r = rt_.core.rooms().join(c.session, req);
  c.joining.clear();
  std::string name = "#" + *room;
  if (!r) {
    switch (r.error().condition) {
      case core::Condition::forbidden: return numeric(c, 474, {name}, "Cannot join channel (+b)");
      case core::Condition::not_authorized: return numeric(c, 475, {name}, "Cannot join channel (+k)");
      case core::Condition::service_unavailable: return numeric(c, 471, {name}, "Cannot join channel (+l)");
      case core::Condition::registration_required: return numeric(c, 473, {name}, "Cannot join channel (+i)");
      case core::Condition::conflict: return numeric(c, 437, {name}, "Your nick is in use in that channel");
      case core::Condition::jid_malformed: return numeric(c, 479, {name}, "Illegal channel name");
      default: return numeric(c, 403, {name}, r.error().text.empty() ? "Cannot join channel" : r.error().text);
    }
  }
  ++c.channels;
  const core::Room& room_ref = **r;
  if (!room_ref.topic.text.empty()) send_topic(c, room_ref);
  send_names(c, room_ref);
}

void IrcServer::cmd_part(IrcClient& c, const pi::Message& m) {
  std::string reason(m.param(1));
  for (auto chan : split_list(m.param(0))) {
    auto room = room_of(chan);
    const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
    if (!r) {
      numeric(c, 403, {chan}, "No such channel");
      continue;
    }
    if (!rt_.core.rooms().leave(c.session, *room, reason)) numeric(c, 442, {chan}, "You're not on that channel");
    else if (c.channels) --c.channels;
  }
}

void IrcServer::cmd_topic(IrcClient& c, const pi::Message& m) {
  auto room = room_of(m.param(0));
  const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
  if (!r) return numeric(c, 403, {m.param(0)}, "No such channel");
  std::string chan = "#" + *room;
  if (m.nparams < 2) {
    if (r->modes.secret && !r->members.count(c.session)) return numeric(c, 442, {chan}, "You're not on that channel");
    return send_topic(c, *r);
  }
  auto st = rt_.core.rooms().set_topic(c.session, *room, std::string(pi::utf8_truncate(m.param(1), 390)));
  if (!st) {
    if (st.error().condition == core::Condition::forbidden) return numeric(c, 482, {chan}, "You're not channel operator");
    return numeric(c, 442, {chan}, "You're not on that channel");
  }
}

void IrcServer::cmd_names(IrcClient& c, const pi::Message& m) {
  if (m.nparams == 0) return numeric(c, 366, {"*"}, "End of /NAMES list.");
  for (auto chan : split_list(m.param(0))) {
    auto room = room_of(chan);
    const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
    if (!r || (r->modes.secret && !r->members.count(c.session))) {
      numeric(c, 366, {chan}, "End of /NAMES list.");
      continue;
    }
    send_names(c, *r);
  }
}

void IrcServer::cmd_list(IrcClient& c, const pi::Message& m) {
  numeric(c, 321, {"Channel"}, "Users  Name");
  std::vector<std::string> wanted;
  for (auto chan : split_list(m.param(0)))
    if (auto room = room_of(chan)) wanted.push_back(*room);
  for (const core::Room* r : rt_.core.rooms().list()) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), r->name) == wanted.end()) continue;
    if (r->modes.secret && !r->members.count(c.session)) continue;
    numeric(c, 322, {"#" + r->name, std::to_string(r->members.size())}, r->topic.text);
  }
  numeric(c, 323, {}, "End of /LIST");
}

void IrcServer::cmd_kick(IrcClient& c, const pi::Message& m) {
  auto room = room_of(m.param(0));
  const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
  if (!r) return numeric(c, 403, {m.param(0)}, "No such channel");
  std::string chan = "#" + *room;
  std::string reason = m.nparams > 2 ? std::string(m.param(2)) : c.nick;
  for (auto nick : split_list(m.param(1))) {
    if (!r->members.count(c.session)) return numeric(c, 442, {chan}, "You're not on that channel");
    if (!r->find_nick(nick)) {
      numeric(c, 441, {nick, chan}, "They aren't on that channel");
      continue;
    }
    auto st = rt_.core.rooms().kick(c.session, *room, std::string(nick), reason);
    if (!st) {
      int code = channel_numeric(st.error().condition);
      if (code == 441) numeric(c, 441, {nick, chan}, "They aren't on that channel");
      else if (code == 442) numeric(c, 442, {chan}, "You're not on that channel");
      else numeric(c, 482, {chan}, "You're not channel operator");
    }
    r = rt_.core.rooms().find(*room);
    if (!r) return;
  }
}

void IrcServer::cmd_invite(IrcClient& c, const pi::Message& m) {
  std::string_view nick = m.param(0);
  auto room = room_of(m.param(1));
  const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
  if (!r) return numeric(c, 403, {m.param(1)}, "No such channel");
  std::string chan = "#" + *room;
  core::Address who;
  if (IrcClient* t = client_by_nick(nick)) {
    who = rt_.core.sessions().find(t->session)->user;
  } else if (std::string f = pi::casefold(nick); core::is_valid_local_name(f) &&
                                                    (rt_.core.directory().exists(f) ||
                                                     rt_.core.sessions().user_online(core::Address::user(f)))) {
    who = core::Address::user(f);
  } else {
    return numeric(c, 401, {nick}, "No such nick/channel");
  }
  if (!r->members.count(c.session)) return numeric(c, 442, {chan}, "You're not on that channel");
  for (const auto& [id, mem] : r->members)
    if (mem.user == who || pi::equal_fold(mem.nick, nick)) return numeric(c, 443, {nick, chan}, "is already on channel");
  auto st = rt_.core.rooms().invite(c.session, *room, who);
  if (!st) {
    if (st.error().condition == core::Condition::forbidden) return numeric(c, 482, {chan}, "You're not channel operator");
    if (st.error().condition == core::Condition::item_not_found) return numeric(c, 401, {nick}, "No such nick/channel");
    return numeric(c, 442, {chan}, "You're not on that channel");
  }
  numeric_nt(c, 341, {nick, chan});
}

// ---------------------------------------------------------------------------------------
// MODE

void IrcServer::cmd_mode(IrcClient& c, const pi::Message& m) {
  std::string_view target = m.param(0);
  if (!target.starts_with('#')) {
    if (!pi::equal_fold(target, c.nick)) {
      if (client_by_nick(target)) return numeric(c, 502, {}, "Can't change mode for other users");
      return numeric(c, 401, {target}, "No such nick/channel");
    }
    std::string modes = std::string("+") + (c.invisible ? "i" : "") + (c.oper ? "o" : "");
    if (m.nparams < 2) return numeric_nt(c, 221, {modes});
    bool plus = true;
    std::string applied;
    char sign = 0;
    bool unknown = false;
    for (char ch : m.param(1)) {
      if (ch == '+' || ch == '-') {
        plus = ch == '+';
        continue;
      }
      if (ch == 'i') {
        if (c.invisible == plus) continue;
        c.invisible = plus;
      } else if (ch == 'o' && !plus && c.oper) {
        c.oper = false;
      } else if (ch == 'o') {
        continue;  // +o only through OPER
      } else {
        unknown = true;
        continue;
      }
      if (sign != (plus ? '+' : '-')) applied += (sign = plus ? '+' : '-');
      applied += ch;
    }
    if (unknown) numeric(c, 501, {}, "Unknown MODE flag");
    if (!applied.empty()) {
      LineWriter(c.out).prefix(c.mask()).command("MODE").param(c.nick).trailing(applied).end();
      mark_dirty(c);
    }
    return;
  }
  auto room = room_of(target);
  const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
  if (!r) return numeric(c, 403, {target}, "No such channel");
  std::string chan = "#" + *room;
  if (m.nparams < 2) {
    std::string modes = "+";
    std::vector<std::string> args;
    const bool member = r->members.count(c.session) > 0;
    if (r->modes.invite_only) modes += 'i';
    if (!r->modes.key.empty()) {
      modes += 'k';
      args.push_back(member ? r->modes.key : "*");
    }
    if (r->modes.limit) {
      modes += 'l';
      args.push_back(std::to_string(r->modes.limit));
    }
    if (r->modes.moderated) modes += 'm';
    if (r->modes.no_external) modes += 'n';
    if (r->modes.secret) modes += 's';
    if (r->modes.topic_protected) modes += 't';
    LineWriter w(c.out);
    w.prefix(cfg_.server_name).numeric(324).param(c.nick).param(chan).param(modes);
    for (auto& a : args) w.param(a);
    w.end();
    mark_dirty(c);
    numeric_nt(c, 329, {chan, std::to_string(core::to_unix_ms(r->created) / 1000)});
    return;
  }
  // Split the change: which letters take an argument (CHANMODES=b,k,l,imnst; PREFIX ohv).
  core::ModeChange change;
  change.by = c.nick;
  bool plus = true;
  std::size_t argi = 2;
  bool list_bans = false;
  std::string unknown;
  int changes = 0;
  for (char ch : m.param(1)) {
    if (ch == '+' || ch == '-') {
      plus = ch == '+';
      change.modes += ch;
      continue;
    }
    switch (ch) {
      case 'b':
        if (argi >= m.nparams) {
          list_bans = true;
          continue;
        }
        [[fallthrough]];
      case 'o':
      case 'h':
      case 'v':
      case 'k':
        if (argi >= m.nparams) {
          if (ch == 'k' && !plus) break;  // -k without the key
          numeric(c, 461, {"MODE"}, "Not enough parameters");
          continue;
        }
        change.args.emplace_back(m.param(argi++));
        break;
      case 'l':
        if (plus) {
          if (argi >= m.nparams) {
            numeric(c, 461, {"MODE"}, "Not enough parameters");
            continue;
          }
          change.args.emplace_back(m.param(argi++));
        }
        break;
      case 'i': case 'm': case 'n': case 's': case 't': break;
      default:
        numeric(c, 472, {std::string(1, ch)}, "is unknown mode char to me");
        continue;
    }
    if (++changes > 4) break;  // MODES=4
    change.modes += ch;
  }
  if (list_bans) {
    for (const auto& b : r->bans) numeric_nt(c, 367, {chan, b});
    numeric(c, 368, {chan}, "End of channel ban list");
  }
  bool any = false;
  for (char ch : change.modes)
    if (ch != '+' && ch != '-') any = true;
  if (!any) return;
  if (!r->members.count(c.session)) return numeric(c, 442, {chan}, "You're not on that channel");
  auto st = rt_.core.rooms().set_modes(c.session, *room, change);
  if (!st) {
    switch (st.error().condition) {
      case core::Condition::forbidden:
      case core::Condition::not_allowed: return numeric(c, 482, {chan}, "You're not channel operator");
      case core::Condition::not_acceptable: return numeric(c, 442, {chan}, "You're not on that channel");
      case core::Condition::item_not_found: return numeric(c, 441, {"*", chan}, "They aren't on that channel");
      default: return numeric(c, 696, {chan, "*", "*"}, st.error().text);
    }
  }
}

// ---------------------------------------------------------------------------------------
// PRIVMSG / NOTICE / TAGMSG

void IrcServer::cmd_privmsg(IrcClient& c, const pi::Message& m) { send_message(c, m, false); }
void IrcServer::cmd_notice(IrcClient& c, const pi::Message& m) { send_message(c, m, true); }
// TAGMSG (IRCv3 message-tags): client-only tags ("+typing") have no neutral equivalent, so
// they are relayed between IRC clients that negotiated message-tags only.
void IrcServer::cmd_tagmsg(IrcClient& c, const pi::Message& m) {
  if (!c.has(cap_message_tags)) return;
  std::string tags;
  pi::for_each_tag(m.tags, [&](pi::Tag t) {
    if (!t.key.starts_with('+')) return;
    if (!tags.empty()) tags += ';';
    tags.append(t.key);
    if (!t.value.empty()) {
      tags += '=';
      tags.append(t.value);
    }
  });
  if (tags.empty() || tags.size() > 4094) return;
  std::string_view target = m.param(0);
  auto line_for = [&](const IrcClient& to) {
    std::string t = tags;
    if (to.has(cap_server_time)) t += ";time=" + core::to_iso8601(core::Clock::now());
    std::string out;
    LineWriter(out).tags(t).prefix(c.mask()).command("TAGMSG").param(target).end();
    return out;
  };
  if (target.starts_with('#')) {
    auto room = room_of(target);
    const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
    if (!r) return numeric(c, 403, {target}, "No such channel");
    if (!r->members.count(c.session)) return numeric(c, 404, {target}, "Cannot send to channel");
    for (const auto& [id, mem] : r->members) {
      IrcClient* t = client_by_session(id);
      if (!t || !t->has(cap_message_tags) || (t == &c && !c.has(cap_echo_message))) continue;
      queue(*t, line_for(*t));
    }
    return;
  }
  IrcClient* t = client_by_nick(target);
  if (!t) return numeric(c, 401, {target}, "No such nick/channel");
  if (t->has(cap_message_tags)) queue(*t, line_for(*t));
  if (c.has(cap_echo_message) && t != &c) queue(c, line_for(c));
}

void IrcServer::send_message(IrcClient& c, const pi::Message& m, bool notice) {
  std::string_view cmd = notice ? "NOTICE" : "PRIVMSG";
  if (m.nparams < 1 || m.param(0).empty()) {
    if (!notice) numeric(c, 411, {}, "No recipient given (" + std::string(cmd) + ")");
    return;
  }
  if (m.nparams < 2 || m.param(1).empty()) {
    if (!notice) numeric(c, 412, {}, "No text to send");
    return;
  }
  c.last_message = std::chrono::steady_clock::now();
  std::string_view text = m.param(1);
  core::Message base;
  base.kind = notice ? core::MessageKind::notice : core::MessageKind::direct;
  if (auto action = pi::ctcp_action(text)) {
    base.kind = core::MessageKind::action;
    text = *action;
  }
  auto styled = pi::parse_formatting(text);
  base.body = std::move(styled.text);
  for (const auto& s : styled.spans) base.rich.push_back(core::StyleSpan{s.begin, s.end, s.flags, s.fg, s.bg});
  base.origin.protocol = core::Protocol::irc;
  base.origin.session = c.session;
  if (const auto* info = rt_.core.sessions().find(c.session)) base.from = info->user;
  auto targets = split_list(m.param(0));
  if (targets.size() > 10) {
    numeric(c, 407, {m.param(0)}, "Too many targets");
    targets.resize(10);
  }
  for (auto target : targets) {
    core::Message msg = base;
    if (target.starts_with('#')) {
      auto room = room_of(target);
      const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
      if (!r) {
        if (!notice) numeric(c, 403, {target}, "No such channel");
        continue;
      }
      if (msg.kind == core::MessageKind::direct) msg.kind = core::MessageKind::room;
      auto st = rt_.core.rooms().say(c.session, *room, std::move(msg));
      if (!st && !notice) {
        std::string why = st.error().condition == core::Condition::forbidden ? "Cannot send to channel (+m)"
                                                                               : "Cannot send to channel (+n)";
        numeric(c, 404, {"#" + *room}, why);
      }
      continue;
    }
    // A nick: an IRC client here, an account, or an occupant of a room on another protocol.
    core::Address to;
    if (IrcClient* t = client_by_nick(target)) {
      if (const auto* info = rt_.core.sessions().find(t->session)) to = info->user;
      if (!t->away.empty() && !notice) numeric(c, 301, {t->nick}, t->away);
    } else if (std::string f = pi::casefold(target); core::is_valid_local_name(f) &&
                                                      (rt_.core.sessions().user_online(core::Address::user(f)) ||
                                                       rt_.core.directory().exists(f))) {
      to = core::Address::user(f);
    } else {
      for (const core::Room* r : rt_.core.rooms().list())
        if (const core::Member* mem = r->find_nick(target)) {
          to = mem->user;
          break;
        }
    }
    if (to.empty()) {
      if (!notice) numeric(c, 401, {target}, "No such nick/channel");
      continue;
    }
    msg.to = to;
    auto st = rt_.core.router().send(msg);
    if (!st) {
      if (!notice) numeric(c, 401, {target}, st.error().text.empty() ? "No such nick/channel" : st.error().text);
      continue;
    }
    if (c.has(cap_echo_message)) {
      // Echo with the sender's own prefix, to the target as the client named it.
      std::string out, tags;
      if (c.has(cap_server_time)) tags = "time=" + core::to_iso8601(core::Clock::now());
      LineWriter(out).tags(tags).prefix(c.mask()).command(cmd).param(target).trailing(m.param(1)).end();
      queue(c, out);
    }
  }
}

// ---------------------------------------------------------------------------------------
// WHO / WHOIS / WHOWAS / ISON / USERHOST / AWAY

void IrcServer::cmd_who(IrcClient& c, const pi::Message& m) {
  std::string_view mask = m.nparams ? m.param(0) : "*";
  auto who_line = [&](std::string_view chan, const std::string& user, const std::string& host,
                      const std::string& nick, std::string flags, const std::string& real) {
    numeric(c, 352, {chan, user, host, cfg_.server_name, nick, flags}, "0 " + real);
  };
  if (mask.starts_with('#')) {
    auto room = room_of(mask);
    const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
    if (r && (!r->modes.secret || r->members.count(c.session))) {
      for (const auto& [id, mem] : r->members) {
        std::string flags;
        std::string user, host, real = mem.nick;
        if (IrcClient* t = client_by_session(id)) {
          flags = away_flag(t->away);
          if (t->oper) flags += '*';
          user = t->user;
          host = t->host;
          real = t->realname;
        } else {
          auto agg = rt_.core.presence().presentity(mem.user).aggregate();
          flags = (agg.availability == core::Availability::available || agg.availability == core::Availability::chat)
                      ? "H"
                      : "G";
          auto mm = member_mask(mem);
          user = mm.substr(mm.find('!') + 1, mm.find('@') - mm.find('!') - 1);
          host = mm.substr(mm.find('@') + 1);
        }
        if (char p = prefix_of(mem)) flags += p;
        who_line("#" + *room, user, host, mem.nick, flags, real);
      }
    }
  } else {
    for (auto& [p, cl] : clients_) {
      if (cl->state != IrcClient::State::registered) continue;
      if (!pi::mask_match(mask, cl->nick) && !pi::mask_match(mask, cl->mask())) continue;
      if (cl->invisible && cl.get() != &c && mask != cl->nick && !pi::equal_fold(mask, cl->nick)) continue;
      std::string flags = away_flag(cl->away);
      if (cl->oper) flags += '*';
      who_line("*", cl->user, cl->host, cl->nick, flags, cl->realname);
    }
  }
  numeric(c, 315, {mask}, "End of /WHO list.");
}

void IrcServer::cmd_whois(IrcClient& c, const pi::Message& m) {
  std::string_view nick = m.nparams >= 2 ? m.param(1) : m.param(0);
  if (IrcClient* t = client_by_nick(nick)) {
    numeric(c, 311, {t->nick, t->user, t->host, "*"}, t->realname);
    std::string chans;
    for (const auto& rn : rt_.core.rooms().rooms_of(t->session)) {
      const core::Room* r = rt_.core.rooms().find(rn);
      if (!r || (r->modes.secret && !r->members.count(c.session))) continue;
      auto it = r->members.find(t->session);
      if (!chans.empty()) chans += ' ';
      if (it != r->members.end())
        if (char p = prefix_of(it->second)) chans += p;
      chans += "#" + rn;
    }
    if (!chans.empty()) numeric(c, 319, {t->nick}, chans);
    numeric(c, 312, {t->nick, cfg_.server_name}, cfg_.network_name + " (Parley)");
    if (t->oper) numeric(c, 313, {t->nick}, "is an IRC operator");
    if (!t->away.empty()) numeric(c, 301, {t->nick}, t->away);
    if (!t->account.empty()) numeric(c, 330, {t->nick, t->account}, "is logged in as");
    if (t->tls) numeric(c, 671, {t->nick}, "is using a secure connection");
    auto now = std::chrono::steady_clock::now();
    auto idle = std::chrono::duration_cast<std::chrono::seconds>(now - t->last_message).count();
    auto signon_ago = std::chrono::duration_cast<std::chrono::seconds>(now - t->signon).count();
    auto signon = std::chrono::duration_cast<std::chrono::seconds>(core::Clock::now().time_since_epoch()).count() - signon_ago;
    numeric(c, 317, {t->nick, std::to_string(idle), std::to_string(signon)}, "seconds idle, signon time");
    return numeric(c, 318, {t->nick}, "End of /WHOIS list.");
  }
  // Someone on another protocol: a room occupant by nick, or an online local user.
  std::string f = pi::casefold(nick);
  const core::Member* found = nullptr;
  std::string chans;
  for (const core::Room* r : rt_.core.rooms().list()) {
    const core::Member* mem = r->find_nick(nick);
    if (!mem && core::is_valid_local_name(f))
      for (const auto& [id, mm] : r->members)
        if (mm.user == core::Address::user(f)) mem = &mm;
    if (!mem) continue;
    if (!found) found = mem;
    if (r->modes.secret && !r->members.count(c.session)) continue;
    if (!chans.empty()) chans += ' ';
    if (char p = prefix_of(*mem)) chans += p;
    chans += "#" + r->name;
  }
  core::Address user = found ? found->user : core::Address{};
  if (!found && core::is_valid_local_name(f) && rt_.core.sessions().user_online(core::Address::user(f)))
    user = core::Address::user(f);
  if (user.empty()) {
    numeric(c, 401, {nick}, "No such nick/channel");
    return numeric(c, 318, {nick}, "End of /WHOIS list.");
  }
  std::string shown(found ? found->nick : std::string(nick));
  std::string proto = "local";
  auto sessions = rt_.core.sessions().of_user(user);
  if (!sessions.empty())
    if (const auto* s = rt_.core.sessions().find(sessions.front())) proto = std::string(core::to_string(s->protocol));
  std::string uid = user.is_user() ? user.id() : "user";
  numeric(c, 311, {shown, uid, proto + ".parley", "*"}, shown + " via " + proto);
  if (!chans.empty()) numeric(c, 319, {shown}, chans);
  numeric(c, 312, {shown, cfg_.server_name}, "connected via " + proto);
  auto agg = rt_.core.presence().presentity(user).aggregate();
  if (agg.basic == core::Basic::open && agg.availability != core::Availability::available &&
      agg.availability != core::Availability::chat)
    numeric(c, 301, {shown}, agg.note.empty() ? std::string(core::to_string(agg.availability)) : agg.note);
  if (user.is_user() && rt_.core.directory().exists(user.id())) numeric(c, 330, {shown, user.id()}, "is logged in as");
  numeric(c, 318, {shown}, "End of /WHOIS list.");
}

void IrcServer::cmd_whowas(IrcClient& c, const pi::Message& m) {
  std::string_view nick = m.param(0);
  bool any = false;
  for (const auto& w : whowas_) {
    if (!pi::equal_fold(w.nick, nick)) continue;
    any = true;
    numeric(c, 314, {w.nick, w.user, w.host, "*"}, w.realname);
    numeric(c, 312, {w.nick, cfg_.server_name}, cfg_.network_name);
  }
  if (!any) numeric(c, 406, {nick}, "There was no such nickname");
  numeric(c, 369, {nick}, "End of WHOWAS");
}

void IrcServer::cmd_ison(IrcClient& c, const pi::Message& m) {
  std::string online;
  for (std::size_t i = 0; i < m.nparams; ++i) {
    std::string_view rest = m.params[i];
    while (!rest.empty()) {
      auto sp = rest.find(' ');
      std::string_view nick = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
      if (nick.empty()) continue;
      bool on = client_by_nick(nick) != nullptr;
      std::string f = pi::casefold(nick);
      if (!on && core::is_valid_local_name(f)) on = rt_.core.sessions().user_online(core::Address::user(f));
      if (on) {
        if (!online.empty()) online += ' ';
        online += nick;
      }
    }
  }
  numeric(c, 303, {}, online);
}

void IrcServer::cmd_userhost(IrcClient& c, const pi::Message& m) {
  std::string out;
  for (std::size_t i = 0; i < m.nparams && i < 5; ++i) {
    IrcClient* t = client_by_nick(m.params[i]);
    if (!t) continue;
    if (!out.empty()) out += ' ';
    out += t->nick + (t->oper ? "*" : "") + "=" + (t->away.empty() ? "+" : "-") + t->user + "@" + t->host;
  }
  numeric(c, 302, {}, out);
}

void IrcServer::cmd_away(IrcClient& c, const pi::Message& m) {
  std::string text(pi::utf8_truncate(m.param(0), 390));
  c.away = text;
  if (text.empty()) numeric(c, 305, {}, "You are no longer marked as being away");
  else numeric(c, 306, {}, "You have been marked as being away");
  publish_away(c);
  // away-notify (IRCv3): tell IRC clients that share a channel.
  std::string line;
  LineWriter w(line);
  w.prefix(c.mask()).command("AWAY");
  if (!text.empty()) w.trailing(text);
  w.end();
  std::vector<IrcClient*> told;
  for (const auto& rn : rt_.core.rooms().rooms_of(c.session)) {
    const core::Room* r = rt_.core.rooms().find(rn);
    if (!r) continue;
    for (const auto& [id, mem] : r->members) {
      IrcClient* t = client_by_session(id);
      if (!t || t == &c || !t->has(cap_away_notify)) continue;
      if (std::find(told.begin(), told.end(), t) != told.end()) continue;
      told.push_back(t);
      queue(*t, line);
    }
  }
}

// ---------------------------------------------------------------------------------------
// OPER / KILL

void IrcServer::cmd_oper(IrcClient& c, const pi::Message& m) {
  for (const auto& o : cfg_.opers) {
    if (o.name != m.param(0)) continue;
    if (o.password != m.param(1)) return numeric(c, 464, {}, "Password incorrect");
    c.oper = true;
    numeric(c, 381, {}, "You are now an IRC operator");
    LineWriter(c.out).prefix(c.mask()).command("MODE").param(c.nick).trailing("+o").end();
    mark_dirty(c);
    return;
  }
  numeric(c, 491, {}, "No O-lines for your host");
}

void IrcServer::cmd_kill(IrcClient& c, const pi::Message& m) {
  if (!c.oper) return numeric(c, 481, {}, "Permission Denied- You're not an IRC operator");
  IrcClient* t = client_by_nick(m.param(0));
  if (!t) return numeric(c, 401, {m.param(0)}, "No such nick/channel");
  std::string reason = "Killed (" + c.nick + " (" + std::string(m.param(1)) + "))";
  LineWriter(t->out).prefix(c.mask()).command("KILL").param(t->nick).trailing(m.param(1)).end();
  mark_dirty(*t);
  close_link(*t, reason);
}

}  // namespace parley::adapters::irc

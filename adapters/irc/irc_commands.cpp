// Channel, message and operator commands of IrcServer (core strand).
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <spdlog/spdlog.h>

#include "adapters/irc/irc_server.hpp"
#include "adapters/irc/modes.hpp"
#include "core/core.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;
using pi::LineWriter;
using pi::split_list;

namespace {

// RFC 2812 §2.3.1 "key": printable ASCII without space; ',' would split JOIN's key list.
bool valid_key(std::string_view k, std::size_t max) {
  if (k.empty() || k.size() > max) return false;
  for (char ch : k)
    if (static_cast<unsigned char>(ch) <= ' ' || static_cast<unsigned char>(ch) >= 0x7f || ch == ',')
      return false;
  return true;
}

// The change was applied but the store could not save it (RoomService, e.g. disk full).
bool store_failed(const core::Error& e) {
  return e.condition == core::Condition::internal_server_error ||
         e.condition == core::Condition::resource_constraint;
}

// +l: a positive decimal number (Modern IRC "Client Limit" mode).
bool valid_limit(std::string_view v) {
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return ec == std::errc{} && end == v.data() + v.size() && n > 0;
}

// The rank a STATUSMSG prefix asks for (Modern IRC "STATUSMSG" parameter).
bool has_status(const core::Member& m, char status) {
  const bool op = m.role == core::Role::moderator && m.affiliation >= core::Affiliation::admin;
  const bool halfop = m.role == core::Role::moderator;
  const bool voice =
      halfop || m.voice || (m.role == core::Role::participant && m.affiliation >= core::Affiliation::member);
  switch (status) {
    case '@': return op;
    case '%': return halfop;
    default: return voice;
  }
}

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
  // Modern IRC "JOIN": an invalid (or too long, CHANNELLEN) name is ERR_NOSUCHCHANNEL.
  if (!room) return numeric(c, 403, {chan}, "No such channel");
  const core::Room* existing = rt_.core.rooms().find(*room);
  if (existing && existing->members.count(c.session)) return;
  // The core compares neutral nicks; a member of another protocol may show this very nick
  // to IRC (Jane Doe as Jane_Doe), and two members cannot answer to one IRC nick.
  if (existing && nick_shown_in_rooms(c, c.nick, existing))
    return numeric(c, 437, {"#" + *room}, "Your nick is in use in that channel");
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
      case core::Condition::resource_constraint:
        return numeric(c, 405, {name}, "You have joined too many channels");
      case core::Condition::malformed_address: return numeric(c, 403, {name}, "No such channel");
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
    if (store_failed(st.error()))
      return numeric(c, 400, {"TOPIC"}, "Topic set but not saved: " + st.error().text);
    return numeric(c, 442, {chan}, "You're not on that channel");
  }
}

void IrcServer::cmd_names(IrcClient& c, const pi::Message& m) {
  if (m.nparams == 0) return numeric(c, 366, {"*"}, "End of /NAMES list.");
  // Modern IRC "NAMES": the replies for every channel, then one RPL_ENDOFNAMES naming the
  // parameter as given; an invalid, unknown or hidden channel gets nothing but that end.
  for (auto chan : split_list(m.param(0))) {
    auto room = room_of(chan);
    const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
    if (!r || (r->modes.secret && !r->members.count(c.session))) continue;
    send_names(c, *r, false);
  }
  numeric(c, 366, {m.param(0)}, "End of /NAMES list.");
}

void IrcServer::cmd_list(IrcClient& c, const pi::Message& m) {
  // Channels and ELIST=MNU conditions (Modern IRC "ELIST"): a name or mask lists what
  // matches, "!mask" what does not, ">n" / "<n" by member count.
  std::vector<std::string_view> masks, not_masks;
  std::size_t more_than = 0, less_than = SIZE_MAX;
  for (std::size_t p = 0; p < 2 && p < m.nparams; ++p)
    for (auto item : split_list(m.param(p))) {
      if ((item.front() == '>' || item.front() == '<') && item.size() > 1) {
        std::size_t n = 0;
        auto [end, ec] = std::from_chars(item.data() + 1, item.data() + item.size(), n);
        if (ec != std::errc{} || end != item.data() + item.size()) continue;
        if (item.front() == '>')
          more_than = std::max(more_than, n + 1);
        else
          less_than = std::min(less_than, n);
      } else if (item.front() == '!' && item.size() > 1) {
        not_masks.push_back(item.substr(1));
      } else {
        masks.push_back(item);
      }
    }
  numeric(c, 321, {"Channel"}, "Users  Name");
  for (const core::Room* r : rt_.core.rooms().list()) {
    if (r->modes.secret && !r->members.count(c.session)) continue;
    const std::string name = "#" + r->name;
    const std::size_t n = r->members.size();
    if (n < more_than || n >= less_than) continue;
    auto matches = [&](std::string_view mask) { return pi::mask_match(mask, name); };
    if (!masks.empty() && std::none_of(masks.begin(), masks.end(), matches)) continue;
    if (std::any_of(not_masks.begin(), not_masks.end(), matches)) continue;
    numeric(c, 322, {name, std::to_string(n)}, r->topic.text);
  }
  numeric(c, 323, {}, "End of /LIST");
}

void IrcServer::cmd_kick(IrcClient& c, const pi::Message& m) {
  // RFC 2812 §3.2.8: one channel and several users, or as many channels as users; each
  // kick is its own KICK line.
  auto chans = split_list(m.param(0));
  auto users = split_list(m.param(1));
  if (chans.empty() || users.empty() || (chans.size() != 1 && chans.size() != users.size()))
    return numeric(c, 461, {"KICK"}, "Not enough parameters");
  std::string reason =
      m.nparams > 2 && !m.param(2).empty() ? std::string(pi::utf8_truncate(m.param(2), 390)) : c.nick;
  for (std::size_t i = 0; i < users.size(); ++i)
    kick_one(c, chans.size() == 1 ? chans[0] : chans[i], users[i], reason);
}

void IrcServer::kick_one(IrcClient& c, std::string_view chan_in, std::string_view nick,
                         const std::string& reason) {
  auto room = room_of(chan_in);
  const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
  if (!r) return numeric(c, 403, {chan_in}, "No such channel");
  std::string chan = "#" + *room;
  if (!r->members.count(c.session)) return numeric(c, 442, {chan}, "You're not on that channel");
  const core::Member* target = member_by_irc_nick(*r, nick);
  if (!target) return numeric(c, 441, {nick, chan}, "They aren't on that channel");
  auto st = rt_.core.rooms().kick(c.session, *room, target->nick, reason, true);
  if (!st) {
    switch (st.error().condition) {
      case core::Condition::item_not_found:
        return numeric(c, 441, {nick, chan}, "They aren't on that channel");
      case core::Condition::not_acceptable: return numeric(c, 442, {chan}, "You're not on that channel");
      default: return numeric(c, 482, {chan}, "You're not channel operator");
    }
  }
}

void IrcServer::cmd_invite(IrcClient& c, const pi::Message& m) {
  std::string_view nick = m.param(0);
  auto room = room_of(m.param(1));
  const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
  if (!r) return numeric(c, 403, {m.param(1)}, "No such channel");
  std::string chan = "#" + *room;
  core::Address who;
  IrcClient* target = client_by_nick(nick);
  if (target) {
    who = rt_.core.sessions().find(target->session)->user;
  } else if (std::string f = pi::casefold(nick);
             core::is_valid_local_name(f) &&
             (rt_.core.directory().exists(f) || rt_.core.sessions().user_online(core::Address::user(f)))) {
    who = core::Address::user(f);
  } else {
    return numeric(c, 401, {nick}, "No such nick/channel");
  }
  if (!r->members.count(c.session)) return numeric(c, 442, {chan}, "You're not on that channel");
  for (const auto& [id, mem] : r->members)
    if (mem.user == who || pi::equal_fold(irc_nick(*r, mem), nick))
      return numeric(c, 443, {nick, chan}, "is already on channel");
  auto st = rt_.core.rooms().invite(c.session, *room, who);
  if (!st) {
    if (st.error().condition == core::Condition::forbidden) return numeric(c, 482, {chan}, "You're not channel operator");
    if (st.error().condition == core::Condition::item_not_found) return numeric(c, 401, {nick}, "No such nick/channel");
    return numeric(c, 442, {chan}, "You're not on that channel");
  }
  numeric_nt(c, 341, {target ? std::string_view(target->nick) : nick, chan});
  // invite-notify (IRCv3): the members who could have invited too (everyone unless +i)
  // learn of it; the inviter has its 341, the invitee its INVITE.
  for (const auto& [id, mem] : r->members) {
    IrcClient* t = client_by_session(id);
    if (!t || t == &c || t == target || !t->has(cap_invite_notify)) continue;
    if (r->modes.invite_only && mem.role != core::Role::moderator) continue;
    std::string line;
    LineWriter(line)
        .tags(tags_to(*t, &c))
        .prefix(c.mask())
        .command("INVITE")
        .param(target ? target->nick : nick)
        .param(chan)
        .end();
    queue(*t, line);
  }
}

// ---------------------------------------------------------------------------------------
// MODE

void IrcServer::cmd_mode(IrcClient& c, const pi::Message& m) {
  if (m.param(0).starts_with('#')) return mode_channel(c, m);
  mode_user(c, m);
}

void IrcServer::mode_user(IrcClient& c, const pi::Message& m) {
  std::string_view target = m.param(0);
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
}

void IrcServer::mode_channel(IrcClient& c, const pi::Message& m) {
  std::string_view target = m.param(0);
  auto room = room_of(target);
  const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
  if (!r) return numeric(c, 403, {target}, "No such channel");
  std::string chan = "#" + *room;
  const auto me = r->members.find(c.session);
  if (m.nparams < 2) {
    std::string modes = "+";
    std::vector<std::string> args;
    if (r->modes.invite_only) modes += 'i';
    if (!r->modes.key.empty()) {
      modes += 'k';
      args.push_back(me != r->members.end() ? r->modes.key : "*");
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
  // First pass: which letters take an argument (CHANMODES=b,k,l,imnst; PREFIX ohv), which
  // are unknown (472), and whether any change is asked for at all (MODES=4 with arguments).
  struct Item {
    bool plus;
    char letter;
    std::string_view arg;
    bool has_arg;
  };
  std::vector<Item> items;
  bool plus = true, list_bans = false;
  std::size_t argi = 2, with_args = 0;
  for (char ch : m.param(1)) {
    if (ch == '+' || ch == '-') {
      plus = ch == '+';
      continue;
    }
    Item it{plus, ch, {}, false};
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
          if (ch == 'k' && !plus) {  // -k without the key: the core takes an argument anyway
            it.arg = "*";
            it.has_arg = true;
            break;
          }
          numeric(c, 461, {"MODE"}, "Not enough parameters");
          continue;
        }
        it.arg = m.param(argi++);
        it.has_arg = true;
        break;
      case 'l':
        if (plus) {
          if (argi >= m.nparams) {
            numeric(c, 461, {"MODE"}, "Not enough parameters");
            continue;
          }
          it.arg = m.param(argi++);
          it.has_arg = true;
        }
        break;
      case 'i': case 'm': case 'n': case 's': case 't': break;
      default:
        numeric(c, 472, {std::string(1, ch)}, "is unknown mode char to me");
        continue;
    }
    if (it.has_arg && ++with_args > 4) break;  // MODES=4
    items.push_back(it);
  }
  if (list_bans) {
    for (const auto& b : r->bans) numeric_nt(c, 367, {chan, render_ban_mask(b)});
    numeric(c, 368, {chan}, "End of channel ban list");
  }
  if (items.empty()) return;
  // Modern IRC "MODE": the sender must be on the channel and hold a status first; then each
  // argument is checked on its own (696 ERR_INVALIDMODEPARAM, 401 / 441 for o/h/v).
  if (me == r->members.end()) return numeric(c, 442, {chan}, "You're not on that channel");
  if (me->second.role != core::Role::moderator) return numeric(c, 482, {chan}, "You're not channel operator");
  core::RoomChange change;
  std::size_t new_bans = 0;
  for (const auto& it : items) {
    std::string arg(it.arg);
    switch (it.letter) {
      case 'k':
        if (it.plus && !valid_key(arg, kKeyLen)) {
          numeric(c, 696, {chan, "k", "*"},
                  "Invalid key: 1-" + std::to_string(kKeyLen) + " characters, no spaces");
          continue;
        }
        break;
      case 'l':
        if (it.plus && !valid_limit(arg)) {
          numeric(c, 696, {chan, "l", arg.empty() ? "*" : std::string_view(arg)},
                  "Invalid limit: a positive number");
          continue;
        }
        break;
      case 'o':
      case 'h':
      case 'v':
        if (const core::Member* who = member_by_irc_nick(*r, arg)) {
          arg = who->nick;  // the core names members by their neutral nick
        } else {
          if (nick_known(arg))
            numeric(c, 441, {arg, chan}, "They aren't on that channel");
          else
            numeric(c, 401, {arg}, "No such nick/channel");
          continue;
        }
        break;
      case 'b':
        if (arg.empty() || arg.front() == ':') {
          numeric(c, 696, {chan, "b", "*"}, "Invalid ban mask");
          continue;
        }
        // MAXLIST=b:100 bounds the list (ERR_BANLISTFULL, Modern IRC).
        if (it.plus && std::find(r->bans.begin(), r->bans.end(), parse_ban_mask(arg)) == r->bans.end() &&
            r->bans.size() + new_bans++ >= kMaxBans) {
          numeric(c, 478, {chan, arg}, "Channel ban list is full");
          continue;
        }
        break;
      default: break;
    }
    if (auto item = item_of_letter(it.plus, it.letter, arg)) change.items.push_back(std::move(*item));
  }
  if (change.empty()) return;
  auto st = rt_.core.rooms().apply_change(c.session, *room, change);
  if (!st) {
    if (store_failed(st.error()))
      return numeric(c, 400, {"MODE"}, "Modes set but not saved: " + st.error().text);
    switch (st.error().condition) {
      case core::Condition::forbidden:
      case core::Condition::not_allowed: return numeric(c, 482, {chan}, "You're not channel operator");
      case core::Condition::not_acceptable: return numeric(c, 442, {chan}, "You're not on that channel");
      default: return numeric(c, 472, {"*"}, st.error().text);
    }
  }
}

bool IrcServer::nick_known(std::string_view nick) {
  if (client_by_nick(nick)) return true;
  for (const core::Room* r : rt_.core.rooms().list())
    if (member_by_irc_nick(*r, nick)) return true;
  std::string f = pi::casefold(nick);
  return core::is_valid_local_name(f) && rt_.core.sessions().user_online(core::Address::user(f));
}

// ---------------------------------------------------------------------------------------
// PRIVMSG / NOTICE / TAGMSG

void IrcServer::cmd_privmsg(IrcClient& c, const pi::Message& m) { send_message(c, m, false); }
void IrcServer::cmd_notice(IrcClient& c, const pi::Message& m) { send_message(c, m, true); }

// The client-only tags ("+key[=value]", IRCv3 message-tags "Client-only tags") of m, as on
// the wire; the parser already bounded the tag section.
std::string IrcServer::client_tags_of(const pi::Message& m) {
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
  return tags;
}

// TAGMSG (IRCv3 message-tags): client-only tags ("+typing") have no neutral equivalent, so
// they are relayed between IRC clients that negotiated message-tags only, with a msgid
// shared by every copy (the echo included).
void IrcServer::cmd_tagmsg(IrcClient& c, const pi::Message& m) {
  if (!c.has(cap_message_tags)) return;
  std::string tags = client_tags_of(m);
  std::string_view target = m.param(0);
  const std::string msgid = rt_.core.router().next_id();
  auto line_for = [&](const IrcClient& to, std::string_view shown_target) {
    std::string t = tags;
    if (std::string more = tags_to(to, &c, msgid); !more.empty()) t += (t.empty() ? "" : ";") + more;
    std::string out;
    LineWriter(out).tags(t).prefix(c.mask()).command("TAGMSG").param(shown_target).end();
    return out;
  };
  if (target.starts_with('#')) {
    auto room = room_of(target);
    const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
    if (!r) return numeric(c, 403, {target}, "No such channel");
    auto me = r->members.find(c.session);
    if (me == r->members.end() || me->second.role == core::Role::visitor ||
        me->second.role == core::Role::none)
      return numeric(c, 404, {target}, "Cannot send to channel");
    const std::string chan = "#" + *room;
    for (const auto& [id, mem] : r->members) {
      IrcClient* t = client_by_session(id);
      if (!t || !t->has(cap_message_tags) || (t == &c && !c.has(cap_echo_message))) continue;
      queue(*t, line_for(*t, chan));
    }
    return;
  }
  IrcClient* t = client_by_nick(target);
  if (!t) return numeric(c, 401, {target}, "No such nick/channel");
  if (c.has(cap_echo_message)) queue(c, line_for(c, t->nick));
  // To oneself the delivery follows the echo, outside its labeled response.
  if (t->has(cap_message_tags)) {
    if (t == &c)
      c.deferred += line_for(c, t->nick);
    else
      queue(*t, line_for(*t, t->nick));
  }
}

std::string_view IrcServer::fit_text(const IrcClient& c, std::string_view cmd, std::string_view target,
                                     std::string_view text, std::size_t framing) const {
  // ":nick!user@host CMD target :text\r\n" within 512 bytes (RFC 1459 §2.3; the same
  // budget the room renderer uses), so the relay is one line like the client's.
  const std::size_t used =
      c.nick.size() + c.user.size() + c.host.size() + 2 + cmd.size() + target.size() + 6 + framing;
  const std::size_t budget = used < 510 ? 510 - used : 0;
  if (text.size() <= budget) return text;
  return pi::utf8_truncate(text, budget);
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
  // The neutral message for one target: the text is cut to what that target's relay line
  // can carry, keeping a CTCP ACTION's framing.
  auto make = [&](std::string_view shown_target, std::string& fitted) {
    std::string_view text = m.param(1);
    core::Message msg;
    msg.kind = notice ? core::MessageKind::notice : core::MessageKind::direct;
    if (auto action = pi::ctcp_action(text)) {
      msg.kind = core::MessageKind::action;
      const std::string_view inner = fit_text(c, cmd, shown_target, *action, 9);  // "\x01ACTION " "\x01"
      fitted = inner.size() == action->size() ? std::string(text) : pi::make_ctcp_action(inner);
      text = inner;
    } else {
      fitted = std::string(fit_text(c, cmd, shown_target, text));
      text = fitted;
    }
    auto styled = pi::parse_formatting(text);
    msg.body = std::move(styled.text);
    for (const auto& s : styled.spans)
      msg.rich.push_back(core::StyleSpan{s.begin, s.end, s.flags, s.fg, s.bg});
    msg.origin.protocol = core::Protocol::irc;
    msg.origin.session = c.session;
    if (const auto* info = rt_.core.sessions().find(c.session)) msg.from = info->user;
    msg.client_tags = client_tags_of(m);
    return msg;
  };
  auto targets = split_list(m.param(0));
  if (targets.size() > 10) {
    numeric(c, 407, {m.param(0)}, "Too many targets");
    targets.resize(10);
  }
  for (auto target : targets) {
    // STATUSMSG (Modern IRC): "@#chan" reaches the channel's operators only.
    if (target.size() > 2 && (target[0] == '@' || target[0] == '%' || target[0] == '+') && target[1] == '#') {
      auto room = room_of(target.substr(1));
      const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
      if (!r) {
        if (!notice) numeric(c, 403, {target.substr(1)}, "No such channel");
        continue;
      }
      send_statusmsg(c, target[0], *r, m, notice);
      continue;
    }
    std::string fitted;
    if (target.starts_with('#')) {
      auto room = room_of(target);
      const core::Room* r = room ? rt_.core.rooms().find(*room) : nullptr;
      if (!r) {
        if (!notice) numeric(c, 403, {target}, "No such channel");
        continue;
      }
      core::Message msg = make("#" + *room, fitted);
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
    IrcClient* t = client_by_nick(target);
    if (t) {
      if (const auto* info = rt_.core.sessions().find(t->session)) to = info->user;
      if (!t->away.empty() && !notice) numeric(c, 301, {t->nick}, t->away);
    } else if (std::string f = pi::casefold(target);
               core::is_valid_local_name(f) &&
               (rt_.core.sessions().user_online(core::Address::user(f)) || rt_.core.directory().exists(f))) {
      to = core::Address::user(f);
    } else {
      for (const core::Room* r : rt_.core.rooms().list())
        if (const core::Member* mem = member_by_irc_nick(*r, target)) {
          to = mem->user;
          break;
        }
    }
    if (to.empty()) {
      if (!notice) numeric(c, 401, {target}, "No such nick/channel");
      continue;
    }
    core::Message msg = make(target, fitted);
    msg.to = to;
    // The id is chosen here so that the echo carries the same msgid as the delivery.
    msg.id = rt_.core.router().next_id();
    msg.timestamp = core::Clock::now();
    const core::Message echo = msg;
    const std::size_t before = c.out.size();
    auto st = rt_.core.router().send(std::move(msg));
    if (!st) {
      if (!notice) numeric(c, 401, {target}, st.error().text.empty() ? "No such nick/channel" : st.error().text);
      continue;
    }
    const bool self = t == &c;
    if (self && c.out.size() > before) {
      // The delivery to oneself follows the echo, outside a labeled response.
      c.deferred.append(c.out, before);
      c.out.resize(before);
    }
    if (c.has(cap_echo_message)) {
      // Echo with the sender's own prefix, to the target as the client named it.
      std::uint32_t variant = (c.has(cap_server_time) ? 1u : 0u) | (c.has(cap_account_tag) ? 2u : 0u) |
                              (c.has(cap_message_tags) ? 4u : 0u);
      std::string out;
      LineWriter(out)
          .tags(tags_for(echo, variant))
          .prefix(c.mask())
          .command(cmd)
          .param(target)
          .trailing(fitted)
          .end();
      queue(c, out);
    } else if (self) {
      // Without echo-message the core does not hand a client its own message; a message to
      // oneself still arrives once, as any other would.
      std::string out;
      LineWriter(out)
          .tags(tags_to(c, &c, echo.id))
          .prefix(c.mask())
          .command(cmd)
          .param(c.nick)
          .trailing(fitted)
          .end();
      c.deferred += out;
    }
  }
}

void IrcServer::send_statusmsg(IrcClient& c, char status, const core::Room& r, const pi::Message& m,
                               bool notice) {
  std::string_view cmd = notice ? "NOTICE" : "PRIVMSG";
  const std::string target = std::string(1, status) + "#" + r.name;
  auto me = r.members.find(c.session);
  if ((me == r.members.end() && r.modes.no_external) ||
      (me != r.members.end() &&
       (me->second.role == core::Role::visitor || me->second.role == core::Role::none))) {
    if (!notice) numeric(c, 404, {target}, "Cannot send to channel");
    return;
  }
  // Reaches the IRC clients holding the status; the core's rooms have no such audience,
  // so other protocols' occupants and the room history do not see it.
  const std::string text(fit_text(c, cmd, target, m.param(1)));
  const std::string msgid = rt_.core.router().next_id();
  for (const auto& [id, mem] : r.members) {
    IrcClient* t = client_by_session(id);
    if (!t || !has_status(mem, status) || (t == &c && !c.has(cap_echo_message))) continue;
    std::string line;
    LineWriter(line)
        .tags(tags_to(*t, &c, msgid))
        .prefix(c.mask())
        .command(cmd)
        .param(target)
        .trailing(text)
        .end();
    queue(*t, line);
  }
  if (c.has(cap_echo_message) && (me == r.members.end() || !has_status(me->second, status))) {
    std::string line;
    LineWriter(line)
        .tags(tags_to(c, &c, msgid))
        .prefix(c.mask())
        .command(cmd)
        .param(target)
        .trailing(text)
        .end();
    queue(c, line);
  }
}

// ---------------------------------------------------------------------------------------
// OPER / KILL

void IrcServer::cmd_oper(IrcClient& c, const pi::Message& m) {
  const config::IrcOper* oper = nullptr;
  for (const auto& o : cfg_.opers)
    if (o.name == m.param(0)) oper = &o;
  if (!oper) return numeric(c, 491, {}, "No O-lines for your host");
  // Plaintext or hashed (core/services/password_hash.hpp), compared in constant time on
  // the auth pool, throttled per address like every other password.
  std::string name = oper->name, host = c.host;
  paused_check(
      c,
      [&](AuthDone done) {
        check_config_password(rt_, host, "oper:" + name, oper->password, std::string(m.param(1)), rt_.core_strand,
                              std::move(done));
      },
      [this, name](IrcClient& cl, AuthResult r) {
        if (r != AuthResult::ok) {
          spdlog::warn("irc: failed OPER {} by {} from {}", name, cl.nick, cl.host);
          return numeric(cl, 464, {},
                         r == AuthResult::throttled ? "Password incorrect (too many failed attempts, try again later)"
                                                    : "Password incorrect");
        }
        cl.oper = true;
        spdlog::info("irc: {} is now an IRC operator ({}) from {}", cl.nick, name, cl.host);
        numeric(cl, 381, {}, "You are now an IRC operator");
        LineWriter(cl.out).prefix(cl.mask()).command("MODE").param(cl.nick).trailing("+o").end();
        mark_dirty(cl);
      });
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

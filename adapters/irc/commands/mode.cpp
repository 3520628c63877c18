// MODE (core strand): user modes (+i, -o) and channel modes (CHANMODES=b,k,l,imnst, PREFIX ohv).
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

namespace {

// RFC 2812 §2.3.1 "key": printable ASCII without space; ',' would split JOIN's key list.
bool valid_key(std::string_view k, std::size_t max) {
  if (k.empty() || k.size() > max) return false;
  for (char ch : k)
    if (static_cast<unsigned char>(ch) <= ' ' || static_cast<unsigned char>(ch) >= 0x7f || ch == ',')
      return false;
  return true;
}

// +l: a positive decimal number (Modern IRC "Client Limit" mode).
bool valid_limit(std::string_view v) {
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return ec == std::errc{} && end == v.data() + v.size() && n > 0;
}

// An IRC client, room occupant or online user.
bool nick_known(IrcServer& srv, std::string_view nick) {
  if (srv.client_by_nick(nick)) return true;
  for (const core::Room* r : srv.core().rooms().list())
    if (srv.room_nicks().member_by_irc_nick(*r, nick)) return true;
  std::string f = pi::casefold(nick);
  return core::is_valid_local_name(f) && srv.core().sessions().user_online(core::Address::user(f));
}

void mode_user(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  std::string_view target = m.param(0);
  if (!pi::equal_fold(target, c.nick)) {
    if (srv.client_by_nick(target)) return srv.numeric(c, 502, {}, "Can't change mode for other users");
    return srv.numeric(c, 401, {target}, "No such nick/channel");
  }
  std::string modes = std::string("+") + (c.invisible ? "i" : "") + (c.oper ? "o" : "");
  if (m.nparams < 2) return srv.numeric_nt(c, 221, {modes});
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
  if (unknown) srv.numeric(c, 501, {}, "Unknown MODE flag");
  if (!applied.empty()) {
    LineWriter(c.out).prefix(c.mask()).command("MODE").param(c.nick).trailing(applied).end();
    srv.mark_dirty(c);
  }
}

void mode_channel(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  std::string_view target = m.param(0);
  auto room = srv.room_of(target);
  const core::Room* r = room ? srv.core().rooms().find(*room) : nullptr;
  if (!r) return srv.numeric(c, 403, {target}, "No such channel");
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
    w.prefix(srv.config().server_name).numeric(324).param(c.nick).param(chan).param(modes);
    for (auto& a : args) w.param(a);
    w.end();
    srv.mark_dirty(c);
    srv.numeric_nt(c, 329, {chan, std::to_string(core::to_unix_ms(r->created) / 1000)});
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
          srv.numeric(c, 461, {"MODE"}, "Not enough parameters");
          continue;
        }
        it.arg = m.param(argi++);
        it.has_arg = true;
        break;
      case 'l':
        if (plus) {
          if (argi >= m.nparams) {
            srv.numeric(c, 461, {"MODE"}, "Not enough parameters");
            continue;
          }
          it.arg = m.param(argi++);
          it.has_arg = true;
        }
        break;
      case 'i':
      case 'm':
      case 'n':
      case 's':
      case 't':
        break;
      default:
        srv.numeric(c, 472, {std::string(1, ch)}, "is unknown mode char to me");
        continue;
    }
    if (it.has_arg && ++with_args > 4) break;  // MODES=4
    items.push_back(it);
  }
  if (list_bans) {
    for (const auto& b : r->bans) srv.numeric_nt(c, 367, {chan, render_ban_mask(b)});
    for (const auto& [who, aff] : r->affiliations)  // bans by address (XMPP outcasts)
      if (aff == core::Affiliation::outcast) srv.numeric_nt(c, 367, {chan, outcast_mask(who.id())});
    srv.numeric(c, 368, {chan}, "End of channel ban list");
  }
  if (items.empty()) return;
  // Modern IRC "MODE": the sender must be on the channel and hold a status first; then each
  // argument is checked on its own (696 ERR_INVALIDMODEPARAM, 401 / 441 for o/h/v).
  if (me == r->members.end()) return srv.numeric(c, 442, {chan}, "You're not on that channel");
  if (me->second.role != core::Role::moderator)
    return srv.numeric(c, 482, {chan}, "You're not channel operator");
  core::RoomChange change;
  std::size_t new_bans = 0;
  for (const auto& it : items) {
    std::string arg(it.arg);
    switch (it.letter) {
      case 'k':
        if (it.plus && !valid_key(arg, IrcServer::kKeyLen)) {
          srv.numeric(c, 696, {chan, "k", "*"},
                      "Invalid key: 1-" + std::to_string(IrcServer::kKeyLen) + " characters, no spaces");
          continue;
        }
        break;
      case 'l':
        if (it.plus && !valid_limit(arg)) {
          srv.numeric(c, 696, {chan, "l", arg.empty() ? "*" : std::string_view(arg)},
                      "Invalid limit: a positive number");
          continue;
        }
        break;
      case 'o':
      case 'h':
      case 'v':
        if (const core::Member* who = srv.room_nicks().member_by_irc_nick(*r, arg)) {
          arg = who->nick;  // the core names members by their neutral nick
        } else {
          if (nick_known(srv, arg))
            srv.numeric(c, 441, {arg, chan}, "They aren't on that channel");
          else
            srv.numeric(c, 401, {arg}, "No such nick/channel");
          continue;
        }
        break;
      case 'b':
        if (arg.empty() || arg.front() == ':') {
          srv.numeric(c, 696, {chan, "b", "*"}, "Invalid ban mask");
          continue;
        }
        // MAXLIST=b:100 bounds the list (ERR_BANLISTFULL, Modern IRC).
        if (it.plus && std::find(r->bans.begin(), r->bans.end(), parse_ban_mask(arg)) == r->bans.end() &&
            r->bans.size() + new_bans++ >= IrcServer::kMaxBans) {
          srv.numeric(c, 478, {chan, arg}, "Channel ban list is full");
          continue;
        }
        break;
      default:
        break;
    }
    if (auto item = item_of_letter(it.plus, it.letter, arg)) change.items.push_back(std::move(*item));
  }
  if (change.empty()) return;
  auto st = srv.core().rooms().apply_change(c.session, *room, change);
  if (!st) {
    if (store_failed(st.error()))
      return srv.numeric(c, 400, {"MODE"}, "Modes set but not saved: " + st.error().text);
    switch (st.error().condition) {
      case core::Condition::forbidden:
      case core::Condition::not_allowed:
        return srv.numeric(c, 482, {chan}, "You're not channel operator");
      case core::Condition::not_acceptable:
        return srv.numeric(c, 442, {chan}, "You're not on that channel");
      default:
        return srv.numeric(c, 472, {"*"}, st.error().text);
    }
  }
}

void cmd_mode(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  if (m.param(0).starts_with('#')) return mode_channel(srv, c, m);
  mode_user(srv, c, m);
}

}  // namespace

void register_mode_commands(CommandRegistry& r) {
  static constexpr Command kCommands[] = {
      {"MODE", 1, Command::kUnlimited, true,
       &cmd_mode},  // MODE <target> [<modestring> [<mode arguments>...]]
  };
  r.add(kCommands);
}

}  // namespace parley::adapters::irc

// Channel commands (core strand): JOIN PART TOPIC NAMES LIST KICK INVITE.
#include <algorithm>
#include <charconv>

#include "adapters/irc/commands/commands.hpp"
#include "adapters/irc/irc_server.hpp"
#include "core/core.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;
using pi::LineWriter;
using pi::split_list;

namespace {

void join_one(IrcServer& srv, IrcClient& c, std::string_view chan, std::string_view key) {
  auto room = srv.room_of(chan);
  // Modern IRC "JOIN": an invalid (or too long, CHANNELLEN) name is ERR_NOSUCHCHANNEL.
  if (!room) return srv.numeric(c, 403, {chan}, "No such channel");
  const core::Room* existing = srv.core().rooms().find(*room);
  if (existing && existing->members.count(c.session)) return;
  // The core compares neutral nicks; a member of another protocol may show this very nick
  // to IRC (Jane Doe as Jane_Doe), and two members cannot answer to one IRC nick.
  if (existing && srv.nick_shown_in_rooms(c, c.nick, existing))
    return srv.numeric(c, 437, {"#" + *room}, "Your nick is in use in that channel");
  c.channels = srv.core().rooms().rooms_of(c.session).size();
  if (c.channels >= srv.config().max_channels)
    return srv.numeric(c, 405, {chan}, "You have joined too many channels");
  core::JoinRequest req;
  req.room = *room;
  req.nick = c.nick;
  req.key = std::string(key);
  c.joining = *room;
  auto r = srv.core().rooms().join(c.session, req);
  c.joining.clear();
  std::string name = "#" + *room;
  if (!r) {
    switch (r.error().condition) {
      case core::Condition::forbidden:
        return srv.numeric(c, 474, {name}, "Cannot join channel (+b)");
      case core::Condition::not_authorized:
        return srv.numeric(c, 475, {name}, "Cannot join channel (+k)");
      case core::Condition::service_unavailable:
        return srv.numeric(c, 471, {name}, "Cannot join channel (+l)");
      case core::Condition::registration_required:
        return srv.numeric(c, 473, {name}, "Cannot join channel (+i)");
      case core::Condition::conflict:
        return srv.numeric(c, 437, {name}, "Your nick is in use in that channel");
      case core::Condition::resource_constraint:
        return srv.numeric(c, 405, {name}, "You have joined too many channels");
      case core::Condition::malformed_address:
        return srv.numeric(c, 403, {name}, "No such channel");
      default:
        return srv.numeric(c, 403, {name}, r.error().text.empty() ? "Cannot join channel" : r.error().text);
    }
  }
  ++c.channels;
  const core::Room& room_ref = **r;
  if (!room_ref.topic.text.empty()) srv.render().send_topic(c, room_ref);
  srv.render().send_names(c, room_ref);
}

void cmd_join(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  if (m.param(0) == "0") {
    for (const auto& r : srv.core().rooms().rooms_of(c.session))
      (void)srv.core().rooms().leave(c.session, r, "Left all channels");
    c.channels = 0;
    return;
  }
  auto chans = split_list(m.param(0));
  auto keys = split_list(m.param(1));
  for (std::size_t i = 0; i < chans.size(); ++i)
    join_one(srv, c, chans[i], i < keys.size() ? keys[i] : std::string_view{});
}

void cmd_part(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  std::string reason(m.param(1));
  for (auto chan : split_list(m.param(0))) {
    auto room = srv.room_of(chan);
    const core::Room* r = room ? srv.core().rooms().find(*room) : nullptr;
    if (!r) {
      srv.numeric(c, 403, {chan}, "No such channel");
      continue;
    }
    if (!srv.core().rooms().leave(c.session, *room, reason))
      srv.numeric(c, 442, {chan}, "You're not on that channel");
    else if (c.channels)
      --c.channels;
  }
}

void cmd_topic(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  auto room = srv.room_of(m.param(0));
  const core::Room* r = room ? srv.core().rooms().find(*room) : nullptr;
  if (!r) return srv.numeric(c, 403, {m.param(0)}, "No such channel");
  std::string chan = "#" + *room;
  if (m.nparams < 2) {
    if (r->modes.secret && !r->members.count(c.session))
      return srv.numeric(c, 442, {chan}, "You're not on that channel");
    return srv.render().send_topic(c, *r);
  }
  auto st = srv.core().rooms().set_topic(c.session, *room, std::string(pi::utf8_truncate(m.param(1), 390)));
  if (!st) {
    if (st.error().condition == core::Condition::forbidden)
      return srv.numeric(c, 482, {chan}, "You're not channel operator");
    if (store_failed(st.error()))
      return srv.numeric(c, 400, {"TOPIC"}, "Topic set but not saved: " + st.error().text);
    return srv.numeric(c, 442, {chan}, "You're not on that channel");
  }
}

void cmd_names(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  if (m.nparams == 0) return srv.numeric(c, 366, {"*"}, "End of /NAMES list.");
  // Modern IRC "NAMES": the replies for every channel, then one RPL_ENDOFNAMES naming the
  // parameter as given; an invalid, unknown or hidden channel gets nothing but that end.
  for (auto chan : split_list(m.param(0))) {
    auto room = srv.room_of(chan);
    const core::Room* r = room ? srv.core().rooms().find(*room) : nullptr;
    if (!r || (r->modes.secret && !r->members.count(c.session))) continue;
    srv.render().send_names(c, *r, false);
  }
  srv.numeric(c, 366, {m.param(0)}, "End of /NAMES list.");
}

void cmd_list(IrcServer& srv, IrcClient& c, const pi::Message& m) {
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
  srv.numeric(c, 321, {"Channel"}, "Users  Name");
  for (const core::Room* r : srv.core().rooms().list()) {
    if (r->modes.secret && !r->members.count(c.session)) continue;
    const std::string name = "#" + r->name;
    const std::size_t n = r->members.size();
    if (n < more_than || n >= less_than) continue;
    auto matches = [&](std::string_view mask) { return pi::mask_match(mask, name); };
    if (!masks.empty() && std::none_of(masks.begin(), masks.end(), matches)) continue;
    if (std::any_of(not_masks.begin(), not_masks.end(), matches)) continue;
    srv.numeric(c, 322, {name, std::to_string(n)}, r->topic.text);
  }
  srv.numeric(c, 323, {}, "End of /LIST");
}

void kick_one(IrcServer& srv, IrcClient& c, std::string_view chan_in, std::string_view nick,
              const std::string& reason) {
  auto room = srv.room_of(chan_in);
  const core::Room* r = room ? srv.core().rooms().find(*room) : nullptr;
  if (!r) return srv.numeric(c, 403, {chan_in}, "No such channel");
  std::string chan = "#" + *room;
  if (!r->members.count(c.session)) return srv.numeric(c, 442, {chan}, "You're not on that channel");
  const core::Member* target = srv.room_nicks().member_by_irc_nick(*r, nick);
  if (!target) return srv.numeric(c, 441, {nick, chan}, "They aren't on that channel");
  auto st = srv.core().rooms().kick(c.session, *room, target->nick, reason, true);
  if (!st) {
    switch (st.error().condition) {
      case core::Condition::item_not_found:
        return srv.numeric(c, 441, {nick, chan}, "They aren't on that channel");
      case core::Condition::not_acceptable:
        return srv.numeric(c, 442, {chan}, "You're not on that channel");
      default:
        return srv.numeric(c, 482, {chan}, "You're not channel operator");
    }
  }
}

void cmd_kick(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  // RFC 2812 §3.2.8: one channel and several users, or as many channels as users; each
  // kick is its own KICK line.
  auto chans = split_list(m.param(0));
  auto users = split_list(m.param(1));
  if (chans.empty() || users.empty() || (chans.size() != 1 && chans.size() != users.size()))
    return srv.numeric(c, 461, {"KICK"}, "Not enough parameters");
  std::string reason =
      m.nparams > 2 && !m.param(2).empty() ? std::string(pi::utf8_truncate(m.param(2), 390)) : c.nick;
  for (std::size_t i = 0; i < users.size(); ++i)
    kick_one(srv, c, chans.size() == 1 ? chans[0] : chans[i], users[i], reason);
}

void cmd_invite(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  std::string_view nick = m.param(0);
  auto room = srv.room_of(m.param(1));
  const core::Room* r = room ? srv.core().rooms().find(*room) : nullptr;
  if (!r) return srv.numeric(c, 403, {m.param(1)}, "No such channel");
  std::string chan = "#" + *room;
  core::Address who;
  IrcClient* target = srv.client_by_nick(nick);
  if (target) {
    who = srv.core().sessions().find(target->session)->user;
  } else if (std::string f = pi::casefold(nick);
             core::is_valid_local_name(f) && (srv.core().directory().exists(f) ||
                                              srv.core().sessions().user_online(core::Address::user(f)))) {
    who = core::Address::user(f);
  } else {
    return srv.numeric(c, 401, {nick}, "No such nick/channel");
  }
  if (!r->members.count(c.session)) return srv.numeric(c, 442, {chan}, "You're not on that channel");
  for (const auto& [id, mem] : r->members)
    if (mem.user == who || pi::equal_fold(srv.room_nicks().irc_nick(*r, mem), nick))
      return srv.numeric(c, 443, {nick, chan}, "is already on channel");
  auto st = srv.core().rooms().invite(c.session, *room, who);
  if (!st) {
    if (st.error().condition == core::Condition::forbidden)
      return srv.numeric(c, 482, {chan}, "You're not channel operator");
    if (st.error().condition == core::Condition::item_not_found)
      return srv.numeric(c, 401, {nick}, "No such nick/channel");
    return srv.numeric(c, 442, {chan}, "You're not on that channel");
  }
  srv.numeric_nt(c, 341, {target ? std::string_view(target->nick) : nick, chan});
  // invite-notify (IRCv3): the members who could have invited too (everyone unless +i)
  // learn of it; the inviter has its 341, the invitee its INVITE.
  for (const auto& [id, mem] : r->members) {
    IrcClient* t = srv.client_by_session(id);
    if (!t || t == &c || t == target || !t->has(cap_invite_notify)) continue;
    if (r->modes.invite_only && mem.role != core::Role::moderator) continue;
    std::string line;
    LineWriter(line)
        .tags(srv.render().tags_to(*t, &c))
        .prefix(c.mask())
        .command("INVITE")
        .param(target ? target->nick : nick)
        .param(chan)
        .end();
    srv.queue(*t, line);
  }
}

}  // namespace

void register_channel_commands(CommandRegistry& r) {
  // Arity: the Modern IRC syntax of each command.
  static constexpr Command kCommands[] = {
      {"JOIN", 1, 2, true, &cmd_join},      // JOIN <channel>{,<channel>} [<key>{,<key>}]
      {"PART", 1, 2, true, &cmd_part},      // PART <channel>{,<channel>} [<reason>]
      {"TOPIC", 1, 2, true, &cmd_topic},    // TOPIC <channel> [<topic>]
      {"NAMES", 0, 1, true, &cmd_names},    // NAMES <channel>{,<channel>}
      {"LIST", 0, 2, true, &cmd_list},      // LIST [<channel>{,<channel>}] [<elistcond>{,<elistcond>}]
      {"KICK", 2, 3, true, &cmd_kick},      // KICK <channel> <user>{,<user>} [<comment>]
      {"INVITE", 2, 2, true, &cmd_invite},  // INVITE <nickname> <channel>
  };
  r.add(kCommands);
}

}  // namespace parley::adapters::irc

// Message commands (core strand): PRIVMSG NOTICE TAGMSG.
#include "adapters/irc/commands/commands.hpp"
#include "adapters/irc/irc_server.hpp"
#include "core/core.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;
using pi::LineWriter;

namespace {

// The rank a STATUSMSG prefix asks for (Modern IRC "STATUSMSG" parameter).
bool has_status(const core::Member& m, char status) {
  const bool op = m.role == core::Role::moderator && m.affiliation >= core::Affiliation::admin;
  const bool halfop = m.role == core::Role::moderator;
  const bool voice =
      halfop || m.voice || (m.role == core::Role::participant && m.affiliation >= core::Affiliation::member);
  switch (status) {
    case '@':
      return op;
    case '%':
      return halfop;
    default:
      return voice;
  }
}

// The client-only tags ("+key[=value]", IRCv3 message-tags "Client-only tags") of m, as on
// the wire; the parser already bounded the tag section.
std::string client_tags_of(const pi::Message& m) {
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
void cmd_tagmsg(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  if (!c.has(cap_message_tags)) return;
  std::string tags = client_tags_of(m);
  std::string_view target = m.param(0);
  const std::string msgid = srv.core().router().next_id();
  auto line_for = [&](const IrcClient& to, std::string_view shown_target) {
    std::string t = tags;
    if (std::string more = srv.render().tags_to(to, &c, msgid); !more.empty())
      t += (t.empty() ? "" : ";") + more;
    std::string out;
    LineWriter(out).tags(t).prefix(c.mask()).command("TAGMSG").param(shown_target).end();
    return out;
  };
  if (target.starts_with('#')) {
    auto room = srv.room_of(target);
    const core::Room* r = room ? srv.core().rooms().find(*room) : nullptr;
    if (!r) return srv.numeric(c, 403, {target}, "No such channel");
    auto me = r->members.find(c.session);
    if (me == r->members.end() || me->second.role == core::Role::visitor ||
        me->second.role == core::Role::none)
      return srv.numeric(c, 404, {target}, "Cannot send to channel");
    const std::string chan = "#" + *room;
    for (const auto& [id, mem] : r->members) {
      IrcClient* t = srv.client_by_session(id);
      if (!t || !t->has(cap_message_tags) || (t == &c && !c.has(cap_echo_message))) continue;
      srv.queue(*t, line_for(*t, chan));
    }
    return;
  }
  IrcClient* t = srv.client_by_nick(target);
  if (!t) return srv.numeric(c, 401, {target}, "No such nick/channel");
  if (c.has(cap_echo_message)) srv.queue(c, line_for(c, t->nick));
  // To oneself the delivery follows the echo, outside its labeled response.
  if (t->has(cap_message_tags)) {
    if (t == &c)
      c.deferred += line_for(c, t->nick);
    else
      srv.queue(*t, line_for(*t, t->nick));
  }
}

// The text of a PRIVMSG/NOTICE cut (at a UTF-8 boundary) so that the line relayed with
// the sender's full prefix still fits 512 bytes, as the client's own line did.
std::string_view fit_text(const IrcClient& c, std::string_view cmd, std::string_view target,
                          std::string_view text, std::size_t framing = 0) {
  // ":nick!user@host CMD target :text\r\n" within 512 bytes (RFC 1459 §2.3; the same
  // budget the room renderer uses), so the relay is one line like the client's.
  const std::size_t used =
      c.nick.size() + c.user.size() + c.host.size() + 2 + cmd.size() + target.size() + 6 + framing;
  const std::size_t budget = used < 510 ? 510 - used : 0;
  if (text.size() <= budget) return text;
  return pi::utf8_truncate(text, budget);
}

// PRIVMSG/NOTICE to "@#chan", "%#chan" or "+#chan": the channel's members of that rank.
void send_statusmsg(IrcServer& srv, IrcClient& c, char status, const core::Room& r, const pi::Message& m,
                    bool notice) {
  std::string_view cmd = notice ? "NOTICE" : "PRIVMSG";
  const std::string target = std::string(1, status) + "#" + r.name;
  auto me = r.members.find(c.session);
  if ((me == r.members.end() && r.modes.no_external) ||
      (me != r.members.end() &&
       (me->second.role == core::Role::visitor || me->second.role == core::Role::none))) {
    if (!notice) srv.numeric(c, 404, {target}, "Cannot send to channel");
    return;
  }
  // Reaches the IRC clients holding the status; the core's rooms have no such audience,
  // so other protocols' occupants and the room history do not see it.
  const std::string text(fit_text(c, cmd, target, m.param(1)));
  const std::string msgid = srv.core().router().next_id();
  for (const auto& [id, mem] : r.members) {
    IrcClient* t = srv.client_by_session(id);
    if (!t || !has_status(mem, status) || (t == &c && !c.has(cap_echo_message))) continue;
    std::string line;
    LineWriter(line)
        .tags(srv.render().tags_to(*t, &c, msgid))
        .prefix(c.mask())
        .command(cmd)
        .param(target)
        .trailing(text)
        .end();
    srv.queue(*t, line);
  }
  if (c.has(cap_echo_message) && (me == r.members.end() || !has_status(me->second, status))) {
    std::string line;
    LineWriter(line)
        .tags(srv.render().tags_to(c, &c, msgid))
        .prefix(c.mask())
        .command(cmd)
        .param(target)
        .trailing(text)
        .end();
    srv.queue(c, line);
  }
}

// PRIVMSG and NOTICE (NOTICE never gets an error reply): up to 10 targets, each a channel,
// a STATUSMSG channel or a nick of any protocol.
void send_message(IrcServer& srv, IrcClient& c, const pi::Message& m, bool notice) {
  std::string_view cmd = notice ? "NOTICE" : "PRIVMSG";
  if (m.nparams < 1 || m.param(0).empty()) {
    if (!notice) srv.numeric(c, 411, {}, "No recipient given (" + std::string(cmd) + ")");
    return;
  }
  if (m.nparams < 2 || m.param(1).empty()) {
    if (!notice) srv.numeric(c, 412, {}, "No text to send");
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
    if (const auto* info = srv.core().sessions().find(c.session)) msg.from = info->user;
    msg.client_tags = client_tags_of(m);
    return msg;
  };
  auto targets = pi::split_list(m.param(0));
  if (targets.size() > 10) {
    srv.numeric(c, 407, {m.param(0)}, "Too many targets");
    targets.resize(10);
  }
  for (auto target : targets) {
    // STATUSMSG (Modern IRC): "@#chan" reaches the channel's operators only.
    if (target.size() > 2 && (target[0] == '@' || target[0] == '%' || target[0] == '+') && target[1] == '#') {
      auto room = srv.room_of(target.substr(1));
      const core::Room* r = room ? srv.core().rooms().find(*room) : nullptr;
      if (!r) {
        if (!notice) srv.numeric(c, 403, {target.substr(1)}, "No such channel");
        continue;
      }
      send_statusmsg(srv, c, target[0], *r, m, notice);
      continue;
    }
    std::string fitted;
    if (target.starts_with('#')) {
      auto room = srv.room_of(target);
      const core::Room* r = room ? srv.core().rooms().find(*room) : nullptr;
      if (!r) {
        if (!notice) srv.numeric(c, 403, {target}, "No such channel");
        continue;
      }
      core::Message msg = make("#" + *room, fitted);
      if (msg.kind == core::MessageKind::direct) msg.kind = core::MessageKind::room;
      auto st = srv.core().rooms().say(c.session, *room, std::move(msg));
      if (!st && !notice) {
        std::string why = st.error().condition == core::Condition::forbidden ? "Cannot send to channel (+m)"
                                                                             : "Cannot send to channel (+n)";
        srv.numeric(c, 404, {"#" + *room}, why);
      }
      continue;
    }
    // A nick: an IRC client here, an account, or an occupant of a room on another protocol.
    core::Address to;
    IrcClient* t = srv.client_by_nick(target);
    if (t) {
      if (const auto* info = srv.core().sessions().find(t->session)) to = info->user;
      if (!t->away.empty() && !notice) srv.numeric(c, 301, {t->nick}, t->away);
    } else if (std::string f = pi::casefold(target);
               core::is_valid_local_name(f) && (srv.core().sessions().user_online(core::Address::user(f)) ||
                                                srv.core().directory().exists(f))) {
      to = core::Address::user(f);
    } else {
      for (const core::Room* r : srv.core().rooms().list())
        if (const core::Member* mem = srv.room_nicks().member_by_irc_nick(*r, target)) {
          to = mem->user;
          break;
        }
    }
    if (to.empty()) {
      if (!notice) srv.numeric(c, 401, {target}, "No such nick/channel");
      continue;
    }
    core::Message msg = make(target, fitted);
    msg.to = to;
    // The id is chosen here so that the echo carries the same msgid as the delivery.
    msg.id = srv.core().router().next_id();
    msg.timestamp = core::Clock::now();
    const core::Message echo = msg;
    const std::size_t before = c.out.size();
    auto st = srv.core().router().send(std::move(msg));
    if (!st) {
      if (!notice)
        srv.numeric(c, 401, {target}, st.error().text.empty() ? "No such nick/channel" : st.error().text);
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
          .tags(srv.render().tags_for(echo, variant))
          .prefix(c.mask())
          .command(cmd)
          .param(target)
          .trailing(fitted)
          .end();
      srv.queue(c, out);
    } else if (self) {
      // Without echo-message the core does not hand a client its own message; a message to
      // oneself still arrives once, as any other would.
      std::string out;
      LineWriter(out)
          .tags(srv.render().tags_to(c, &c, echo.id))
          .prefix(c.mask())
          .command(cmd)
          .param(c.nick)
          .trailing(fitted)
          .end();
      c.deferred += out;
    }
  }
}

void cmd_privmsg(IrcServer& srv, IrcClient& c, const pi::Message& m) { send_message(srv, c, m, false); }

void cmd_notice(IrcServer& srv, IrcClient& c, const pi::Message& m) { send_message(srv, c, m, true); }

}  // namespace

void register_message_commands(CommandRegistry& r) {
  // PRIVMSG and NOTICE check their own parameters: 411/412 for PRIVMSG, silence for NOTICE.
  static constexpr Command kCommands[] = {
      {"PRIVMSG", 0, 2, true, &cmd_privmsg},  // PRIVMSG <target>{,<target>} <text to be sent>
      {"NOTICE", 0, 2, true, &cmd_notice},    // NOTICE <target>{,<target>} <text to be sent>
      {"TAGMSG", 1, 1, true, &cmd_tagmsg},    // @tags TAGMSG <target> (IRCv3 message-tags)
  };
  r.add(kCommands);
}

}  // namespace parley::adapters::irc

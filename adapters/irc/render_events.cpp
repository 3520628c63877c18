#include "adapters/irc/render_events.hpp"

#include <algorithm>
#include <vector>

#include "adapters/irc/irc_server.hpp"
#include "adapters/irc/modes.hpp"
#include "core/core.hpp"
#include "protocols/irc/message.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;
using pi::LineWriter;

namespace {

std::string unix_secs(core::Timestamp t) { return std::to_string(core::to_unix_ms(t) / 1000); }

}  // namespace

std::string IrcRender::member_mask(const core::Room& room, const core::Member& m) {
  return mask_with(m, srv_.room_nicks().irc_nick(room, m));
}

std::string IrcRender::mask_with(const core::Member& m, std::string_view nick) const {
  if (IrcClient* c = srv_.client_by_session(m.session))
    return std::string(nick) + "!" + c->user + "@" + c->host;
  std::string host = std::string(core::to_string(m.user.protocol()));
  if (const auto* s = srv_.core().sessions().find(m.session))
    host = std::string(core::to_string(s->protocol)) + ".parley";
  std::string user = m.user.is_user() ? m.user.id() : "user";
  return std::string(nick) + "!" + user + "@" + host;
}

std::string IrcRender::sender_mask(const core::Message& m, std::string_view nick) const {
  if (m.origin.protocol == core::Protocol::irc)
    if (IrcClient* c = srv_.client_by_session(m.origin.session))
      return std::string(nick.empty() ? std::string_view(c->nick) : nick) + "!" + c->user + "@" + c->host;
  std::string n = nick.empty() ? (m.from.is_user() ? m.from.id() : m.from.to_string()) : std::string(nick);
  for (auto& ch : n)
    if (ch == ' ' || ch == '!' || ch == '@') ch = '_';
  std::string user = m.from.is_user() ? m.from.id() : "user";
  return n + "!" + user + "@" + std::string(core::to_string(m.origin.protocol)) + ".parley";
}

std::string IrcRender::account_of(core::SessionId s) const {
  if (const auto* info = srv_.core().sessions().find(s))
    if (!info->guest) return info->user.id();
  return "*";
}

std::string IrcRender::status_of(const IrcClient& viewer, const core::Member& m) const {
  if (viewer.has(cap_multi_prefix)) return prefixes_for(m.role, m.affiliation, m.voice);
  char p = prefix_for(m.role, m.affiliation, m.voice);
  return p ? std::string(1, p) : std::string{};
}

void IrcRender::send_names(IrcClient& c, const core::Room& room, bool with_end) {
  std::string chan = "#" + room.name;
  std::string head = ":" + srv_.config().server_name + " 353 " + c.nick + " " +
                     (room.modes.secret ? "@ " : "= ") + chan + " :";
  std::string line = head;
  bool any = false;
  for (const auto& [id, m] : room.members) {
    std::string entry;
    entry += status_of(c, m);
    entry += c.has(cap_userhost_in_names) ? member_mask(room, m) : srv_.room_nicks().irc_nick(room, m);
    if (any && line.size() + entry.size() + 3 > 500) {
      c.out += line + "\r\n";
      line = head;
      any = false;
    }
    if (any) line += ' ';
    line += entry;
    any = true;
  }
  if (any) c.out += line + "\r\n";
  srv_.mark_dirty(c);
  if (with_end) srv_.numeric(c, 366, {chan}, "End of /NAMES list.");
}

void IrcRender::send_topic(IrcClient& c, const core::Room& room) {
  std::string chan = "#" + room.name;
  if (room.topic.text.empty()) return srv_.numeric(c, 331, {chan}, "No topic is set");
  srv_.numeric(c, 332, {chan}, room.topic.text);
  srv_.numeric_nt(c, 333,
                  {chan,
                   room.topic.set_by.empty() ? srv_.config().server_name
                                             : srv_.room_nicks().irc_nick_of(room, room.topic.set_by),
                   unix_secs(room.topic.set_at)});
}

std::string IrcRender::tags_to(const IrcClient& to, const IrcClient* from, std::string_view msgid) const {
  std::string tags;
  auto add = [&](std::string_view k, std::string_view v) { pi::append_tag(tags, k, v); };
  if (to.has(cap_server_time)) add("time", core::to_iso8601(core::Clock::now()));
  if (to.has(cap_account_tag) && from && !from->account.empty()) add("account", from->account);
  if (to.has(cap_message_tags) && !msgid.empty()) add("msgid", msgid);
  return tags;
}

std::string IrcRender::tags_for(const core::Message& m, std::uint32_t variant) const {
  // message-tags "Size limit": what the server adds stays within 4094 bytes, the whole tag
  // section within 8191 (with '@' and the space). A tag that does not fit is left out;
  // client-only tags are dropped before any line of the message is.
  constexpr std::size_t kServerTags = 4094 - 2, kAllTags = pi::kMaxTagSection - 2;
  std::string tags;
  auto add = [&](std::string_view k, std::string_view v) {
    std::string t;
    pi::append_tag(t, k, v);
    if (tags.size() + 1 + t.size() <= kServerTags) {
      if (!tags.empty()) tags += ';';
      tags += t;
    }
  };
  if (variant & 1) add("time", core::to_iso8601(m.timestamp));
  if (variant & 2) {
    std::string acct = account_of(m.origin.session);
    if (acct == "*" && m.origin.session == 0 && m.from.is_user() &&
        srv_.core().directory().exists(m.from.id()))
      acct = m.from.id();
    if (acct != "*") add("account", acct);
  }
  if ((variant & 4) && !m.id.empty()) add("msgid", m.id);
  // Client-only tags reach message-tags clients only (IRCv3 message-tags); they are stored
  // escaped already, so they are appended as they are, when they fit the section and
  // leave room for the text within this message's share of the sendq.
  const std::size_t room =
      std::min(kAllTags, message_bytes_max() > pi::kMaxBody ? message_bytes_max() - pi::kMaxBody : 0);
  if ((variant & 4) && !m.client_tags.empty() && m.client_tags.size() <= 4094 - 2 &&
      tags.size() + 1 + m.client_tags.size() <= room) {
    if (!tags.empty()) tags += ';';
    tags += m.client_tags;
  }
  return tags;
}

std::size_t IrcRender::message_bytes_max() const { return srv_.config().sendq / 4; }

void render_body_lines(std::string& out, std::string_view tags, std::string_view mask,
                       std::string_view target, const core::Message& m, std::size_t max_lines,
                       std::size_t max_bytes) {
  std::vector<pi::Span> spans;
  spans.reserve(std::min(m.rich.size(), core::kMaxStyleSpans));
  for (std::size_t i = 0; i < m.rich.size() && i < core::kMaxStyleSpans; ++i) {
    const auto& s = m.rich[i];
    spans.push_back(pi::Span{s.begin, s.end, s.flags, s.fg, s.bg});
  }
  std::string_view cmd = m.kind == core::MessageKind::notice ? "NOTICE" : "PRIVMSG";
  const bool action = m.kind == core::MessageKind::action;
  const std::size_t framing = mask.size() + target.size() + cmd.size() + 6 + (action ? 9 : 0);
  const std::size_t budget = framing < 510 - 32 ? 510 - framing : 32;
  // Each line costs at most its tags plus 512 bytes; one more line is the marker.
  const std::size_t line_max = (tags.empty() ? 0 : tags.size() + 2) + pi::kMaxBody;
  const std::size_t fit = max_bytes / line_max;
  const std::size_t lines_max = std::max<std::size_t>(1, std::min(max_lines, fit > 1 ? fit - 1 : 1));
  auto rendered = pi::render_lines(m.body, spans, budget, lines_max);
  if (rendered.lines.empty() && rendered.more == 0) rendered.lines.emplace_back(" ");
  auto write = [&](std::string_view text, bool as_action) {
    LineWriter w(out);
    w.tags(tags).prefix(mask).command(cmd).param(target);
    if (as_action)
      w.trailing(pi::make_ctcp_action(text));
    else
      w.trailing(text);
    w.end();
  };
  for (const auto& line : rendered.lines) write(line, action);
  if (rendered.more > 0)
    write("[... " + std::to_string(rendered.more) + (rendered.more == 1 ? " more line]" : " more lines]"),
          false);
}

std::string IrcRender::room_sender_nick(const core::Message& m) {
  if (const core::Room* r = m.to.is_room() ? srv_.core().rooms().find(m.to.id()) : nullptr) {
    auto it = r->members.find(m.origin.session);
    if (it != r->members.end() && it->second.nick == m.nick)
      return srv_.room_nicks().irc_nick(*r, it->second);
  }
  // Gone since (or never a member, -n): the nick mapped, without the room's deduplication.
  return m.nick.empty() ? std::string{} : irc_nick_base(m.nick, srv_.config().nick_length);
}

std::string IrcRender::render_room_line(const core::Message& m, std::uint32_t variant) {
  std::string out;
  out.reserve(m.body.size() + 96);
  render_body_lines(out, tags_for(m, variant), sender_mask(m, room_sender_nick(m)), "#" + m.to.id(), m,
                    srv_.config().max_lines_per_message, message_bytes_max());
  return out;
}

void IrcRender::deliver(IrcClient& c, const core::MessagePtr& mp) {
  const core::Message& m = *mp;
  if (c.state != IrcClient::State::registered) return;
  const bool own = m.origin.session == c.session && m.origin.protocol == core::Protocol::irc;
  if (own && !c.has(cap_echo_message)) return;
  std::uint32_t variant = (c.has(cap_server_time) ? 1u : 0u) | (c.has(cap_account_tag) ? 2u : 0u) |
                          (c.has(cap_message_tags) ? 4u : 0u);
  if (m.to.is_room() && m.kind != core::MessageKind::direct) {
    if (cached_msg_ != mp.get()) {
      cached_msg_ = mp.get();
      cached_keep_ = mp;
      for (auto& l : cached_lines_) l.reset();
    }
    auto& line = cached_lines_[variant];
    if (!line) line = std::make_shared<const std::string>(render_room_line(m, variant));
    srv_.queue_shared(c, line);
    return;
  }
  // Direct (or a private message from a room occupant): the target is this client's nick.
  std::string mask;
  if (m.to.is_room()) {  // XEP-0045 private message: show as from nick, hint the room
    mask = sender_mask(m, room_sender_nick(m));
  } else if (own) {
    mask = c.mask();
  } else {
    std::string nick;
    if (m.origin.protocol == core::Protocol::irc)
      if (IrcClient* s = srv_.client_by_session(m.origin.session)) nick = s->nick;
    mask = sender_mask(m, nick);
  }
  std::string target = c.nick;
  if (own && m.to.is_user()) {
    // echo-message of a direct message: target is who it was sent to.
    target = m.to.id();
    if (auto sessions = srv_.core().sessions().of_user(m.to.bare()); !sessions.empty())
      if (IrcClient* t = srv_.client_by_session(sessions.front())) target = t->nick;
  }
  std::string out;
  render_body_lines(out, tags_for(m, variant), mask, target, m, srv_.config().max_lines_per_message,
                    message_bytes_max());
  srv_.queue(c, out);
}

bool IrcRender::deliver_stored(IrcClient& c, const core::MessagePtr& m) {
  deliver(c, m);
  if (!c.conn || c.state != IrcClient::State::registered || m->id.empty()) return false;
  c.stored.push_back(m->id);
  srv_.mark_dirty(c);  // flush() confirms it, even if nothing was rendered (own message, no echo)
  return true;
}

}  // namespace parley::adapters::irc

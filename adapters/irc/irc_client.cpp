// IrcClient: the SessionSink side, rendering core events as IRC lines (core strand).
#include "adapters/irc/irc_client.hpp"

#include "adapters/irc/irc_server.hpp"
#include "adapters/irc/modes.hpp"
#include "core/core.hpp"
#include "protocols/irc/message.hpp"

namespace parley::adapters::irc {

using protocols::irc::LineWriter;

IrcClient::IrcClient(IrcServer& s, std::shared_ptr<IrcConnection> c, std::string h, bool t)
    : server(s), conn(std::move(c)), host(std::move(h)), tls(t) {}

IrcClient::~IrcClient() = default;

void IrcClient::on_message(const core::MessagePtr& m) { server.render().deliver(*this, m); }

bool IrcClient::on_stored_message(const core::MessagePtr& m) {
  return server.render().deliver_stored(*this, m);
}

void IrcClient::on_presence(const core::PresenceUpdate&) {
  // IRC shows presence only as AWAY (aggregate); away-notify is sent by the server for
  // members of shared channels, and WHOIS/WHO read the aggregate on demand.
}

void IrcClient::on_room_join(const core::Room& room, const core::Member& m, bool self) {
  if (state != State::registered) return;
  if (!joining.empty() && joining == room.name && !self) return;  // listed by NAMES instead
  std::string line;
  LineWriter w(line);
  w.prefix(self ? mask() : server.render().member_mask(room, m)).command("JOIN").param("#" + room.name);
  IrcClient* joiner = server.client_by_session(m.session);
  if (has(cap_extended_join)) {
    std::string real = m.nick;  // the neutral nick ("Jane Doe") as the realname
    if (joiner) real = joiner->realname;
    w.param(server.render().account_of(m.session)).trailing(real);
  }
  w.end();
  // away-notify: a user who joins while away is followed by its AWAY ("Clients will be
  // sent an AWAY message [...] when a user joins and has an away message set").
  if (!self && has(cap_away_notify) && joiner && !joiner->away.empty()) {
    LineWriter a(line);
    a.tags(server.render().tags_to(*this, joiner))
        .prefix(joiner->mask())
        .command("AWAY")
        .trailing(joiner->away)
        .end();
  }
  server.queue(*this, line);
}

void IrcClient::on_room_leave(const core::Room& room, const core::Member& m, const core::LeaveReason& r, bool self) {
  if (state != State::registered) return;
  server.room_nicks().member_left(room.name);
  std::string chan = "#" + room.name;
  std::string line;
  LineWriter w(line);
  switch (r.kind) {
    case core::LeaveReason::Kind::quit:
    case core::LeaveReason::Kind::shutdown:
      if (last_quit == m.session) return;  // once, however many channels we share
      last_quit = m.session;
      w.prefix(server.render().member_mask(room, m))
          .command("QUIT")
          .trailing(r.text.empty() ? "Quit" : r.text);
      break;
    case core::LeaveReason::Kind::kick:
    case core::LeaveReason::Kind::ban: {
      std::string by = r.by.empty() ? server.name() : server.room_nicks().irc_nick_of(room, r.by);
      if (const core::Member* k = room.find_nick(r.by)) by = server.render().member_mask(room, *k);
      w.prefix(by)
          .command("KICK")
          .param(chan)
          .param(server.room_nicks().irc_nick(room, m))
          .trailing(r.text.empty() ? r.by : r.text);
      if (self && channels) --channels;
      break;
    }
    default:
      w.prefix(self ? mask() : server.render().member_mask(room, m)).command("PART").param(chan);
      if (!r.text.empty()) w.trailing(r.text);
      break;
  }
  w.end();
  server.queue(*this, line);
}

void IrcClient::on_room_nick(const core::Room& room, const core::Member& before, const std::string&,
                             bool self) {
  if (state != State::registered || self) return;  // our own NICK was answered directly
  auto [old_nick, new_nick] = server.room_nicks().irc_renick(room, before);
  if (old_nick == new_nick) return;  // "Jane Doe" -> "Jane_Doe" looks the same from IRC
  if (last_nick_session == before.session && last_nick_new == new_nick) return;
  last_nick_session = before.session;
  last_nick_new = new_nick;
  std::string line;
  LineWriter(line)
      .prefix(server.render().mask_with(before, old_nick))
      .command("NICK")
      .trailing(new_nick)
      .end();
  server.queue(*this, line);
}

void IrcClient::on_room_topic(const core::Room& room, const core::Topic& t) {
  if (state != State::registered) return;
  if (!joining.empty() && joining == room.name) return;  // 332 follows the JOIN
  std::string by = t.set_by.empty() ? server.name() : server.room_nicks().irc_nick_of(room, t.set_by);
  if (const core::Member* m = room.find_nick(t.set_by)) by = server.render().member_mask(room, *m);
  std::string line;
  LineWriter(line).prefix(by).command("TOPIC").param("#" + room.name).trailing(t.text).end();
  server.queue(*this, line);
}

void IrcClient::on_room_change(const core::Room& room, const core::RoomChange& c, const std::string& by_nick) {
  if (state != State::registered) return;
  // Changes from every protocol: an XMPP moderator's role grant shows as +o/+v here, so
  // that NAMES and MODE agree (adapters/irc/modes.hpp).
  RenderedModes r =
      render_modes(c, [&](const std::string& n) { return server.room_nicks().irc_nick_of(room, n); });
  if (r.modes.empty()) return;  // nothing IRC shows changed (a visitor's role under +m)
  std::string by = by_nick.empty() ? server.name() : server.room_nicks().irc_nick_of(room, by_nick);
  if (const core::Member* m = room.find_nick(by_nick)) by = server.render().member_mask(room, *m);
  std::string line;
  LineWriter w(line);
  w.prefix(by).command("MODE").param("#" + room.name).param(r.modes);
  for (const auto& a : r.args) w.param(a);
  w.end();
  server.queue(*this, line);
}

void IrcClient::on_room_invite(const std::string& room, const core::Address& from, const std::string& from_nick) {
  if (state != State::registered) return;
  const core::Room* r = server.core().rooms().find(room);
  std::string shown = r ? server.room_nicks().irc_nick_of(*r, from_nick)
                        : irc_nick_base(from_nick, server.config().nick_length);
  std::string by = shown + "!" + (from.is_user() ? from.id() : "user") + "@parley";
  IrcClient* inviter = server.client_by_nick(from_nick);
  if (inviter) by = inviter->mask();
  std::string line;
  // account-tag and server-time apply to INVITE as to any message from a user.
  LineWriter(line)
      .tags(server.render().tags_to(*this, inviter))
      .prefix(by)
      .command("INVITE")
      .param(nick)
      .param("#" + room)
      .end();
  server.queue(*this, line);
}

void IrcClient::on_error(const std::string& ref_id, const core::Error& e) {
  if (state != State::registered) return;
  std::string line;
  LineWriter(line).prefix(server.name()).command("NOTICE").param(nick)
      .trailing("Message " + ref_id + " could not be delivered: " + (e.text.empty() ? "error" : e.text)).end();
  server.queue(*this, line);
}

void IrcClient::on_terminate(const std::string& reason) {
  // close_link closes the core session now; Sessions::terminate's own close() that follows
  // finds it gone and does nothing.
  server.close_link(*this, reason);
}

}  // namespace parley::adapters::irc

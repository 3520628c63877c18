#include "adapters/xmpp/link.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/xhtml_im.hpp"
#include "core/core.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

using px::XmlWriter;
namespace asio = boost::asio;

namespace {
constexpr std::string_view kMucUser = "http://jabber.org/protocol/muc#user";

std::string_view affiliation_name(core::Affiliation a) {
  switch (a) {
    case core::Affiliation::outcast: return "outcast";
    case core::Affiliation::none: return "none";
    case core::Affiliation::member: return "member";
    case core::Affiliation::admin: return "admin";
    case core::Affiliation::owner: return "owner";
  }
  return "none";
}
std::string_view role_name(core::Role r) {
  switch (r) {
    case core::Role::none: return "none";
    case core::Role::visitor: return "visitor";
    case core::Role::participant: return "participant";
    case core::Role::moderator: return "moderator";
  }
  return "none";
}
std::string_view chat_state_name(core::ChatState c) {
  switch (c) {
    case core::ChatState::active: return "active";
    case core::ChatState::composing: return "composing";
    case core::ChatState::paused: return "paused";
    case core::ChatState::inactive: return "inactive";
    case core::ChatState::gone: return "gone";
    default: return "";
  }
}
}  // namespace

std::string render_occupant(const Domains& d, const std::string& room, const core::Member& m, const std::string& to,
                            bool unavailable, const std::vector<int>& codes, const std::string& new_nick,
                            const std::string& actor, const std::string& reason) {
  std::string out;
  XmlWriter w(out);
  w.open("presence").attr("from", d.room_jid(room, m.nick)).attr("to", to);
  if (unavailable) w.attr("type", "unavailable");
  w.open("x").attr("xmlns", kMucUser);
  w.open("item")
      .attr("affiliation", affiliation_name(m.affiliation))
      .attr("role", unavailable && new_nick.empty() ? "none" : role_name(m.role))
      .attr("jid", d.jid_of(m.user));
  if (!new_nick.empty()) w.attr("nick", new_nick);
  if (!actor.empty()) w.open("actor").attr("nick", actor).close();
  if (!reason.empty()) w.element("reason", reason);
  w.close();
  for (int c : codes) w.open("status").attr("code", std::to_string(c)).close();
  w.close();
  w.close();
  return out;
}

Link::Link(Context& ctx, std::string user, std::string resource)
    : ctx_(ctx),
      jid_(ctx_.domains.user_jid(user, resource)),
      user_len_(static_cast<std::uint16_t>(user.size())),
      bare_len_(static_cast<std::uint16_t>(user.size() + 1 + ctx_.domains.domain.size())) {}

// ---- delivery and XEP-0198 -------------------------------------------------------------

void Link::deliver_parts(std::string_view a, std::string_view b, std::string_view c,
                         const core::MessagePtr& message, bool stored) {
  std::shared_ptr<C2sConnection> conn;
  std::uint64_t gen = 0;
  bool post_flush = false, overflow = false;
  {
    std::lock_guard lock(mu_);
    bool request_ack = false;
    if (sm_) {
      std::string xml;
      xml.reserve(a.size() + b.size() + c.size());
      xml.append(a).append(b).append(c);
      sm_->unacked_bytes += xml.size();
      sm_->unacked.push_back(Unacked{std::move(xml), message, stored && message});
      request_ack = sm_->unacked.size() % 8 == 1;  // ask for acks now and then, not per stanza
      overflow = unacked_over_bound_locked();
    }
    conn = conn_.lock();
    // Without a connection an offline message is simply not confirmed: it stays stored.
    if (conn) {
      if (stored && message && !sm_) {
        if (!outbox_stored_) outbox_stored_ = std::make_unique<std::vector<std::string>>();
        outbox_stored_->push_back(message->id);
      }
      outbox_.append(a).append(b).append(c);
      if (request_ack) outbox_ += "<r xmlns='urn:xmpp:sm:3'/>";
      ack_wanted_ = sm_ && !request_ack && (stored || ack_wanted_);
      if (!flush_posted_) {  // else the flush already on its way takes this one too
        flush_posted_ = true;
        gen = generation_;
        post_flush = true;
      }
    }
  }
  if (post_flush)
    asio::post(conn->executor(), [self = shared_from_this(), conn, gen] { self->flush(conn, gen); });
  if (overflow) end_unacked_overflow(conn);
}

// mu_ held.
bool Link::unacked_over_bound_locked() {
  if (sm_->overflowed) return false;
  const FloodLimits& f = ctx_.flood;
  const bool over = (f.max_unacked != 0 && sm_->unacked.size() > f.max_unacked) ||
                    (f.max_unacked_bytes != 0 && sm_->unacked_bytes > f.max_unacked_bytes);
  if (over) sm_->overflowed = true;
  return over;
}

// XEP-0198 gives no bound, but a client that never acknowledges would make the server keep
// every stanza it was sent. Past FloodLimits::max_unacked(_bytes) the session ends for
// good: not resumable any more, closed in the core at once (so nothing more piles up while
// the stream error is flushed), and what the client never acknowledged goes to the user's
// other sessions or to offline storage (redeliver_unacked), as at any other end.
void Link::end_unacked_overflow(const std::shared_ptr<C2sConnection>& c) {
  spdlog::info("xmpp: {} acknowledges nothing (XEP-0198 queue over its bound): closing the stream",
               full_jid());
  {
    std::lock_guard lock(ctx_.mu);
    ended = true;  // no resumption either
    auto it = ctx_.resumable.find(sm_id());
    if (it != ctx_.resumable.end() && it->second.get() == this) ctx_.resumable.erase(it);
  }
  if (c)
    asio::post(c->executor(), [c] {
      c->stream_error(px::StreamError::policy_violation, "too many unacknowledged stanzas");
    });
  end_session(ctx_, shared_from_this(), "too many unacknowledged stanzas");
}

void end_session(Context& ctx, std::shared_ptr<Link> link, std::string why) {
  asio::post(ctx.rt.core_strand, [link = std::move(link), &core = ctx.rt.core, why = std::move(why)] {
    if (!link->terminated) core.sessions().close(link->sid, why);
    redeliver_unacked(core, *link);
  });
}

// Connection strand of c.
void Link::flush(const std::shared_ptr<C2sConnection>& c, std::uint64_t gen) {
  std::string batch;
  std::unique_ptr<std::vector<std::string>> stored;
  {
    std::lock_guard lock(mu_);
    if (gen != generation_) return;  // attached elsewhere since: that connection's flush owns the outbox
    batch.swap(outbox_);
    stored.swap(outbox_stored_);
    flush_posted_ = false;
    if (ack_wanted_) batch += "<r xmlns='urn:xmpp:sm:3'/>";
    ack_wanted_ = false;
  }
  write_confirmed(c, batch, stored ? std::move(*stored) : std::vector<std::string>{});
}

void Link::write_confirmed(const std::shared_ptr<C2sConnection>& c, const std::string& batch,
                           std::vector<std::string> stored) {
  if (c->closed()) return;
  c->write(batch);
  if (stored.empty()) return;
  // "Delivered" without XEP-0198 can only mean handed to the kernel (the write completed):
  // a connection that dies or overflows its send queue first leaves the messages stored.
  c->when_written([self = shared_from_this(), ids = std::move(stored)]() mutable {
    self->confirm_delivered(std::move(ids));
  });
}

void Link::confirm_delivered(std::vector<std::string> ids) {
  if (ids.empty()) return;
  asio::post(ctx_.rt.core_strand, [self = shared_from_this(), ids = std::move(ids)] {
    if (self->sid == 0 || self->terminated) return;
    if (auto st = self->ctx_.rt.core.router().delivered(self->sid, ids); !st)
      spdlog::error("xmpp: offline messages delivered to {} stay stored: {}", self->full_jid(),
                    st.error().text);
  });
}

// mu_ held. What is queued went to the current connection so far: it still goes there, in one
// last post (as a per-stanza post would have), e.g. the stanzas before a conflict's stream
// error. The flush posted earlier sees the new generation and leaves the outbox alone.
void Link::hand_off_locked() {
  if (!outbox_.empty()) {
    if (auto old = conn_.lock()) {
      std::vector<std::string> stored;
      if (outbox_stored_) stored = std::move(*outbox_stored_);
      asio::post(old->executor(), [self = shared_from_this(), old, batch = std::move(outbox_),
                                   stored = std::move(stored)]() mutable {
        self->write_confirmed(old, batch, std::move(stored));
      });
    }
  }
  std::string().swap(outbox_);
  outbox_stored_.reset();
  flush_posted_ = false;
  ack_wanted_ = false;
}

void Link::attach(const std::shared_ptr<C2sConnection>& c) {
  std::lock_guard lock(mu_);
  hand_off_locked();
  conn_ = c;
  ++generation_;
}

std::vector<std::string> Link::attach_replaying(const std::shared_ptr<C2sConnection>& c) {
  std::lock_guard lock(mu_);
  hand_off_locked();
  conn_ = c;
  ++generation_;
  // Whatever is delivered from now on is flushed to c after this handler (its strand).
  std::vector<std::string> out;
  if (!sm_) return out;
  out.reserve(sm_->unacked.size());
  for (const auto& u : sm_->unacked) out.push_back(u.xml);
  return out;
}

void Link::detach() {
  std::lock_guard lock(mu_);
  hand_off_locked();
  conn_.reset();
  ++generation_;
}

bool Link::detach_from(const C2sConnection* c) {
  std::lock_guard lock(mu_);
  if (conn_.lock().get() != c) return false;
  hand_off_locked();
  conn_.reset();
  ++generation_;
  return true;
}

std::shared_ptr<C2sConnection> Link::connection() {
  std::lock_guard lock(mu_);
  return conn_.lock();
}

void Link::enable_sm(const std::string& id) {
  std::lock_guard lock(mu_);
  sm_ = std::make_unique<Sm>();
  sm_->id = id;
}
bool Link::sm_enabled() {
  std::lock_guard lock(mu_);
  return sm_ != nullptr;
}
std::string Link::sm_id() {
  std::lock_guard lock(mu_);
  return sm_ ? sm_->id : std::string();
}
std::uint32_t Link::inbound_count() {
  std::lock_guard lock(mu_);
  return sm_ ? sm_->received : 0;
}
void Link::count_inbound() {
  std::lock_guard lock(mu_);
  if (sm_) ++sm_->received;  // XEP-0198 §4: counting starts when SM is enabled
}
void Link::ack(std::uint32_t h) {
  std::vector<std::string> stored;
  {
    std::lock_guard lock(mu_);
    if (!sm_) return;
    // h counts modulo 2^32 (XEP-0198 §5); anything beyond what was sent is ignored.
    std::uint32_t n = h - sm_->acked;
    if (n > sm_->unacked.size()) return;
    for (std::uint32_t i = 0; i < n; ++i) {
      sm_->unacked_bytes -= sm_->unacked[i].xml.size();
      if (sm_->unacked[i].stored) stored.push_back(sm_->unacked[i].message->id);
    }
    sm_->unacked.erase(sm_->unacked.begin(), sm_->unacked.begin() + n);
    if (sm_->unacked.empty()) std::vector<Unacked>().swap(sm_->unacked);
    sm_->acked = h;
  }
  confirm_delivered(std::move(stored));  // XEP-0198 §4: the client has handled them
}
std::vector<std::string> Link::unacked() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  if (!sm_) return out;
  out.reserve(sm_->unacked.size());
  for (const auto& u : sm_->unacked) out.push_back(u.xml);
  return out;
}
std::vector<core::MessagePtr> Link::take_unacked_messages() {
  std::lock_guard lock(mu_);
  std::vector<core::MessagePtr> out;
  if (!sm_) return out;
  for (auto& u : sm_->unacked)
    if (u.message && !u.stored) out.push_back(std::move(u.message));
  std::vector<Unacked>().swap(sm_->unacked);
  sm_->unacked_bytes = 0;
  return out;
}

namespace {
// A message to the bare JID went to every session of the user there when it was routed
// (RFC 6121 §8.5.2.1.1); sessions that came later (e.g. the one that replaced this one on a
// resource conflict) never saw it.
bool reached_others(core::Core& core, const core::Message& m) {
  for (core::SessionId id : core.sessions().of_user(m.to.bare()))
    if (const core::SessionInfo* s = core.sessions().find(id); s && s->since <= m.timestamp) return true;
  return false;
}
}  // namespace

void redeliver_unacked(core::Core& core, Link& link) {
  for (const auto& m : link.take_unacked_messages()) {
    if (m->to.resource().empty() && reached_others(core, *m)) continue;
    if (auto st = core.router().redeliver(*m); !st)
      spdlog::warn("xmpp: unacknowledged message {} to {} could not be redelivered: {}", m->id, link.full_jid(),
                   st.error().text);
  }
}
std::uint64_t Link::generation() {
  std::lock_guard lock(mu_);
  return generation_;
}

// ---- SessionSink (core strand) ------------------------------------------------------------

namespace {
// <delay/> (XEP-0203) for stored messages (offline storage, room history).
bool delayed(const core::Message& m) {
  return m.timestamp != core::Timestamp{} && core::Clock::now() - m.timestamp > std::chrono::seconds(2);
}
}  // namespace

// Renders m for `to`. Returns the offset in out where the value of the 'to' attribute
// starts (so a rendering with an empty `to` splits into prefix and suffix there).
std::size_t render_message(const Domains& d, const core::Message& m, std::string_view to, std::string_view by_user,
                           bool delay, std::string& out) {
  XmlWriter w(out);
  w.open("message");
  std::string_view by = by_user;
  std::string room_by;
  std::size_t to_at = 0;
  auto to_attr = [&] {
    w.attr("to", "");
    to_at = out.size() - 1;
    out.pop_back();
    px::escape_attr(out, to);
    out += '\'';
  };
  if (m.to.is_room()) {
    w.attr("from", d.room_jid(m.to.id(), m.nick));
    to_attr();
    if (m.kind == core::MessageKind::direct) {  // XEP-0045 §7.5 private message
      w.attr("type", "chat");
    } else {
      room_by = d.room_jid(m.to.id());
      by = room_by;
      w.attr("type", "groupchat");
    }
  } else {
    w.attr("from", d.jid_of(m.from));
    to_attr();
    w.attr("type", "chat");
  }
  // The sender's own id where it gave one (XEP-0184 receipts and the XEP-0045 §7.4
  // reflection refer to it), else Parley's.
  w.attr_if("id", m.origin_id.empty() ? m.id : m.origin_id);
  if (m.subject) w.element("subject", *m.subject);
  if (!m.body.empty()) {
    if (m.kind == core::MessageKind::action) w.element("body", "/me " + m.body);
    else w.element("body", m.body);
  }
  if (!m.rich.empty() && !m.body.empty()) {
    if (m.kind == core::MessageKind::action) {
      std::vector<core::StyleSpan> shifted = m.rich;
      for (auto& sp : shifted) sp.begin += 4, sp.end += 4;
      w.raw(render_xhtml_im("/me " + m.body, shifted));
    } else {
      w.raw(render_xhtml_im(m.body, m.rich));
    }
  }
  if (!m.thread.empty()) w.element("thread", m.thread);
  if (auto cs = chat_state_name(m.chat_state); !cs.empty())
    w.open(cs).attr("xmlns", "http://jabber.org/protocol/chatstates").close();
  if (m.receipt_request) w.open("request").attr("xmlns", "urn:xmpp:receipts").close();
  if (!m.receipt_for.empty()) w.open("received").attr("xmlns", "urn:xmpp:receipts").attr("id", m.receipt_for).close();
  if (m.to.is_room() && m.kind == core::MessageKind::direct)
    w.open("x").attr("xmlns", kMucUser).close();
  // XEP-0359: the id the router assigned is stable across storage and history; the
  // client's own id, if any, travels as origin-id.
  if (!m.id.empty()) w.open("stanza-id").attr("xmlns", "urn:xmpp:sid:0").attr("id", m.id).attr("by", by).close();
  if (!m.origin_id.empty())
    w.open("origin-id").attr("xmlns", "urn:xmpp:sid:0").attr("id", m.origin_id).close();
  if (delay)
    w.open("delay").attr("xmlns", "urn:xmpp:delay").attr("stamp", core::to_iso8601(m.timestamp)).attr("from", d.domain).close();
  w.close();
  return to_at;
}

void Link::on_message(const core::MessagePtr& mp) {
  const core::Message& m = *mp;
  const bool delay = delayed(m);
  if (m.to.is_room() && m.kind != core::MessageKind::direct) {
    // Room fan-out: every occupant gets the same bytes but for 'to'. Render once.
    auto& rc = ctx_.room_render;
    if (rc.msg != mp || rc.delay != delay) {
      std::string out;
      std::size_t to_at = render_message(ctx_.domains, m, {}, bare_jid(), delay, out);
      rc.msg = mp;
      rc.delay = delay;
      rc.prefix.assign(out, 0, to_at);
      rc.suffix.assign(out, to_at, std::string::npos);
    }
    std::string to;
    px::escape_attr(to, jid_);
    deliver_parts(rc.prefix, to, rc.suffix);
    return;
  }
  std::string out;
  render_message(ctx_.domains, m, jid_, bare_jid(), delay, out);
  // XEP-0280 §6: a chat message addressed to this resource is copied to the user's other
  // resources that enabled carbons (a bare-JID message already reached all of them).
  const bool copy = !m.to.is_room() && !m.no_copy && m.kind != core::MessageKind::notice &&
                    !m.to.resource().empty() && m.to.resource() == resource() && m.to.is_user() && m.to.id() == user();
  if (copy) send_carbons(ctx_, user(), this, "received", out);
  // Only a direct message with a body is worth redelivering (XEP-0085/0184 notifications,
  // room private messages and headlines are not stored offline either).
  const bool keep = !m.to.is_room() && m.to.is_user() && !m.body.empty() && m.kind != core::MessageKind::notice;
  deliver_parts(out, {}, {}, keep ? mp : nullptr);
}

bool Link::on_stored_message(const core::MessagePtr& mp) {
  if (mp->to.is_room() || mp->id.empty()) {  // not what the router stores: nothing to confirm by
    on_message(mp);
    return false;
  }
  std::string out;
  render_message(ctx_.domains, *mp, jid_, bare_jid(), delayed(*mp), out);
  deliver_parts(out, {}, {}, mp, true);
  return true;
}

void send_carbons(Context& ctx, std::string_view user, const Link* except, std::string_view direction,
                  std::string_view message) {
  core::Core& core = ctx.rt.core;
  const std::string bare = ctx.domains.user_jid(std::string(user));
  for (core::SessionId id : core.sessions().of_user(core::Address::user(std::string(user)))) {
    const core::SessionInfo* si = core.sessions().find(id);
    if (!si || si->protocol != core::Protocol::xmpp) continue;
    auto* other = dynamic_cast<Link*>(si->sink);
    if (!other || other == except || !other->carbons.load()) continue;
    std::string out;
    XmlWriter w(out);
    w.open("message").attr("from", bare).attr("to", other->full_jid()).attr("type", "chat");
    w.open(direction).attr("xmlns", "urn:xmpp:carbons:2").open("forwarded").attr("xmlns", "urn:xmpp:forward:0");
    // The copy keeps its own namespace inside the forwarded wrapper (XEP-0297 §4).
    std::string inner(message);
    if (inner.rfind("<message", 0) == 0 && inner.find("xmlns=") > inner.find('>'))
      inner.insert(8, " xmlns='jabber:client'");
    w.raw(inner);
    w.finish();
    other->deliver(std::move(out));
  }
}

void Link::on_presence(const core::PresenceUpdate& p) {
  std::string out;
  XmlWriter w(out);
  w.open("presence").attr("from", ctx_.domains.jid_of(p.from)).attr("to", jid_);
  if (p.tuple.basic == core::Basic::closed) {
    w.attr("type", "unavailable");
    if (!p.tuple.note.empty()) w.element("status", p.tuple.note);
  } else {
    switch (p.tuple.availability) {
      case core::Availability::away: w.element("show", "away"); break;
      case core::Availability::xa: w.element("show", "xa"); break;
      case core::Availability::dnd: w.element("show", "dnd"); break;
      case core::Availability::chat: w.element("show", "chat"); break;
      default: break;
    }
    if (!p.tuple.note.empty()) w.element("status", p.tuple.note);
    if (p.tuple.priority != 0) w.element("priority", std::to_string(p.tuple.priority));
  }
  w.close();
  deliver(std::move(out));
}

void Link::on_subscription(const core::SubscriptionEvent& s) {
  std::string out;
  XmlWriter w(out);
  w.open("presence").attr("from", ctx_.domains.jid_of(s.from.bare())).attr("to", bare_jid()).attr("type", core::to_string(s.action));
  if (!s.reason.empty()) w.element("status", s.reason);
  w.close();
  deliver(std::move(out));
}

std::string render_roster_item(const Domains& d, const core::RosterItem& item, bool removed) {
  std::string out;
  XmlWriter w(out);
  w.open("item").attr("jid", d.jid_of(item.contact));
  if (removed) {
    w.attr("subscription", "remove");
  } else {
    bool to = item.to == core::SubscriptionState::active, from = item.from == core::SubscriptionState::active;
    w.attr("subscription", to && from ? "both" : to ? "to" : from ? "from" : "none");
    if (item.to == core::SubscriptionState::pending) w.attr("ask", "subscribe");
    w.attr_if("name", item.name);
    for (const auto& g : item.groups) w.element("group", g);
  }
  w.close();
  return out;
}

void Link::on_roster_push(const core::RosterItem& item, bool removed) {
  std::string out;
  XmlWriter w(out);
  w.open("iq").attr("type", "set").attr("id", "push" + random_id()).attr("to", jid_);
  w.open("query").attr("xmlns", "jabber:iq:roster").raw(render_roster_item(ctx_.domains, item, removed));
  w.finish();
  deliver(std::move(out));
}

void Link::on_room_join(const core::Room& room, const core::Member& m, bool self) {
  std::vector<int> codes;
  if (self) {
    codes = {100, 110};  // non-anonymous room; this is you
    if (room.members.size() == 1 && !room.persistent) codes.push_back(201);  // room created
  }
  deliver(render_occupant(ctx_.domains, room.name, m, jid_, false, codes));
}

void Link::on_room_leave(const core::Room& room, const core::Member& m, const core::LeaveReason& r, bool self) {
  std::vector<int> codes;
  if (r.kind == core::LeaveReason::Kind::kick) codes.push_back(307);
  if (r.kind == core::LeaveReason::Kind::ban) codes.push_back(301);
  if (self) codes.push_back(110);
  std::string reason = r.kind == core::LeaveReason::Kind::kick || r.kind == core::LeaveReason::Kind::ban ? r.text : "";
  core::Member gone = m;
  if (r.kind == core::LeaveReason::Kind::ban) gone.affiliation = core::Affiliation::outcast;  // §9.1
  std::string out = render_occupant(ctx_.domains, room.name, gone, jid_, true, codes, {}, r.by, reason);
  if (!r.text.empty() && reason.empty()) {
    // part/quit message as <status/>
    auto pos = out.rfind("</presence>");
    std::string st;
    XmlWriter(st).element("status", r.text);
    out.insert(pos, st);
  }
  deliver(std::move(out));
}

void Link::on_room_nick(const core::Room& room, const core::Member& before, const std::string& new_nick, bool self) {
  std::vector<int> codes{303};
  if (self) codes.push_back(110);
  deliver(render_occupant(ctx_.domains, room.name, before, jid_, true, codes, new_nick));
  core::Member after = before;
  after.nick = new_nick;
  std::vector<int> codes2;
  if (self) codes2.push_back(110);
  deliver(render_occupant(ctx_.domains, room.name, after, jid_, false, codes2));
}

void Link::on_room_topic(const core::Room& room, const core::Topic& t) {
  std::string out;
  XmlWriter w(out);
  w.open("message").attr("from", t.set_by.empty() ? ctx_.domains.room_jid(room.name) : ctx_.domains.room_jid(room.name, t.set_by))
      .attr("to", jid_).attr("type", "groupchat").attr("id", random_id());
  w.element("subject", t.text);
  w.close();
  deliver(std::move(out));
}

void Link::on_room_change(const core::Room& room, const core::RoomChange& c, const std::string& by) {
  // Members whose role, affiliation or voice changed: their occupant presence again
  // (XEP-0045 §9-§10), whichever protocol changed them. Bans arrive as leaves. Anything
  // else is a configuration change (XEP-0045 §10.2.1: status 104).
  bool config = false;
  for (const auto& it : c.items) {
    if (it.kind == core::RoomChangeItem::Kind::member) {
      // §7.2.3: status 110 tells an occupant the presence is its own.
      if (const core::Member* m = room.find_nick(it.nick))
        deliver(render_occupant(ctx_.domains, room.name, *m, jid_, false,
                                m->session == sid ? std::vector<int>{110} : std::vector<int>{}));
    } else if (it.kind != core::RoomChangeItem::Kind::ban) {
      config = true;
    }
  }
  if (!config) return;
  std::string out;
  XmlWriter w(out);
  w.open("message").attr("from", ctx_.domains.room_jid(room.name)).attr("to", jid_).attr("type", "groupchat")
      .attr("id", random_id());
  w.open("x").attr("xmlns", kMucUser).open("status").attr("code", "104").close().close();
  w.close();
  deliver(std::move(out));
}

void Link::on_room_invite(const std::string& room, const core::Address& from, const std::string& from_nick) {
  std::string out;
  XmlWriter w(out);
  w.open("message").attr("from", ctx_.domains.room_jid(room)).attr("to", jid_);
  w.open("x").attr("xmlns", kMucUser).open("invite").attr("from", ctx_.domains.jid_of(from)).close().close();
  w.close();
  deliver(std::move(out));
}

void Link::on_terminate(const std::string& reason) {
  terminated = true;
  std::shared_ptr<C2sConnection> c;
  {
    std::lock_guard lock(ctx_.mu);  // against a resumption in progress (C2sConnection::on_resume)
    ended = true;
    auto it = ctx_.resumable.find(sm_id());
    if (it != ctx_.resumable.end() && it->second.get() == this) ctx_.resumable.erase(it);
    c = connection();
    detach();
  }
  // XEP-0198 §5: what the client never acknowledged goes to the user's other sessions or to
  // offline storage (resource conflict, KILL, shutdown). Posted: the core closes this session
  // after this call, and on a conflict opens the new one, which may then receive it.
  if (sm_enabled())
    asio::post(ctx_.rt.core_strand,
               [self = shared_from_this()] { redeliver_unacked(self->ctx_.rt.core, *self); });
  if (!c) return;
  bool conflict = reason.find("replaced") != std::string::npos;
  asio::post(c->executor(), [c, conflict, reason] {
    c->stream_error(conflict ? px::StreamError::conflict : px::StreamError::system_shutdown, reason);
  });
}

}  // namespace parley::adapters::xmpp

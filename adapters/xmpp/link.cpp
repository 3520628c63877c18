#include "adapters/xmpp/link.hpp"

#include "adapters/xmpp/errors.hpp"

#include <spdlog/spdlog.h>

#include "adapters/common/post_guarded.hpp"
#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/carbons.hpp"
#include "adapters/xmpp/gateway_route.hpp"
#include "adapters/xmpp/render_message.hpp"
#include "adapters/xmpp/render_presence.hpp"
#include "adapters/xmpp/render_room.hpp"
#include "core/core.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

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
      request_ack = sm_->queue.push(std::move(xml), message, stored);
      overflow = sm_->queue.over_bound(ctx_.flood.max_unacked, ctx_.flood.max_unacked_bytes);
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
  if (post_flush) {
    if (ctx_.rt.core_strand.running_in_this_thread())  // one hand-off per turn (flush_batch.hpp)
      ctx_.flushes.add(shared_from_this(), conn, gen);
    else
      post_guarded(conn->executor(), "xmpp: flush",
                   [self = shared_from_this(), conn, gen] { self->flush(conn, gen); });
  }
  if (overflow) end_unacked_overflow(conn);
}

// XEP-0198 gives no bound, but a client that never acknowledges would make the server keep
// every stanza it was sent. Past FloodLimits::max_unacked(_bytes) the session ends for
// good: not resumable any more, closed in the core at once (so nothing more piles up while
// the stream error is flushed), and what the client never acknowledged goes to the user's
// other sessions or to offline storage (redeliver_unacked), as at any other end.
void Link::end_unacked_overflow(const std::shared_ptr<C2sConnection>& c) {
  const auto self = shared_from_this();  // `resumable` may hold the last owner (on_terminate)
  spdlog::info("xmpp: {} acknowledges nothing (XEP-0198 queue over its bound): closing the stream",
               full_jid());
  {
    std::lock_guard lock(ctx_.mu);
    ended = true;  // no resumption either
    auto it = ctx_.resumable.find(sm_id());
    if (it != ctx_.resumable.end() && it->second.get() == this) ctx_.resumable.erase(it);
  }
  if (c)
    post_guarded(c->executor(), "xmpp: unacked overflow", [c] {
      c->stream_error(px::StreamError::policy_violation, "too many unacknowledged stanzas");
    });
  end_session(ctx_, self, "too many unacknowledged stanzas");
}

// Guarded: a throw in Sessions::close or in the redelivery is logged with the task's name
// and the rest of it dropped (what it had not redelivered yet is lost, as at a crash), and
// the core strand goes on serving every other session instead of unwinding its io thread.
void end_session(Context& ctx, std::shared_ptr<Link> link, std::string why) {
  post_guarded(ctx.rt.core_strand, "xmpp: end session",
               [link = std::move(link), &core = ctx.rt.core, why = std::move(why), gw = ctx.gateway] {
                 if (!link->terminated) core.sessions().close(link->sid, why);
                 // The resource leaves the IRC channels it joined through the gateway.
                 if (gw) gateway_resource_gone(*gw, link->full_jid());
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
  // A throw leaves the messages unconfirmed: still stored, sent again at the next login
  // (at least once, never lost).
  post_guarded(ctx_.rt.core_strand, "xmpp: confirm delivered",
               [self = shared_from_this(), ids = std::move(ids)] {
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
      post_guarded(
          old->executor(), "xmpp: hand off",
          [self = shared_from_this(), old, batch = std::move(outbox_), stored = std::move(stored)]() mutable {
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
  if (!sm_) return {};
  return sm_->queue.copy_xml();
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
  return sm_ ? sm_->queue.received() : 0;
}
void Link::count_inbound() {
  std::lock_guard lock(mu_);
  if (sm_) sm_->queue.count_inbound();  // XEP-0198 §4: counting starts when SM is enabled
}
bool Link::ack(std::uint32_t h, std::uint32_t* send_count) {
  std::vector<std::string> stored;
  {
    std::lock_guard lock(mu_);
    if (!sm_) return true;
    if (sm_->queue.ack(h, stored) != SmQueue::AckResult::ok) {
      if (send_count) *send_count = sm_->queue.sent();
      return false;
    }
  }
  confirm_delivered(std::move(stored));  // XEP-0198 §4: the client has handled them
  return true;
}
std::vector<std::string> Link::unacked() {
  std::lock_guard lock(mu_);
  if (!sm_) return {};
  return sm_->queue.copy_xml();
}
std::vector<core::MessagePtr> Link::take_unacked_messages() {
  std::lock_guard lock(mu_);
  if (!sm_) return {};
  return sm_->queue.take_messages();
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
// Rendering is in render_*.cpp and carbons.cpp; here each event picks its recipient JID and
// goes to deliver().

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
  if (carbon_copies_received(m, user(), resource())) send_carbons(ctx_, user(), this, "received", out);
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

void Link::on_presence(const core::PresenceUpdate& p) { deliver(render_presence(ctx_.domains, p, jid_)); }

void Link::on_subscription(const core::SubscriptionEvent& s) {
  deliver(render_subscription(ctx_.domains, s, bare_jid()));
}

void Link::on_roster_push(const core::RosterItem& item, bool removed) {
  deliver(render_roster_push(ctx_.domains, item, removed, jid_, "push" + random_id()));
}

void Link::on_room_join(const core::Room& room, const core::Member& m, bool self) {
  deliver(render_room_join(ctx_.domains, room, m, jid_, self));
}

void Link::on_room_leave(const core::Room& room, const core::Member& m, const core::LeaveReason& r, bool self) {
  deliver(render_room_leave(ctx_.domains, room, m, r, jid_, self));
}

void Link::on_room_nick(const core::Room& room, const core::Member& before, const std::string& new_nick, bool self) {
  auto [gone, back] = render_room_nick(ctx_.domains, room, before, new_nick, jid_, self);
  deliver(gone);
  deliver(back);
}

void Link::on_room_topic(const core::Room& room, const core::Topic& t) {
  deliver(render_room_topic(ctx_.domains, room, t, jid_, random_id()));
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
    } else if (it.kind != core::RoomChangeItem::Kind::ban && it.kind != core::RoomChangeItem::Kind::outcast) {
      config = true;
    }
  }
  if (config) deliver(render_room_config_changed(ctx_.domains, room, jid_, random_id()));
}

void Link::on_error(const std::string& ref_id, const core::Error& e) {
  deliver(render_stanza_error("message", ref_id, {}, jid_, e));
}

void Link::on_room_invite(const std::string& room, const core::Address& from, const std::string& from_nick) {
  deliver(render_room_invite(ctx_.domains, room, from, jid_));
}

void Link::on_terminate(const std::string& reason) {
  // The core holds this sink by a plain pointer: once it leaves `resumable` and its connection,
  // the last owner may be a hand-off task on another strand, which could free it mid-call.
  const auto self = shared_from_this();
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
    post_guarded(ctx_.rt.core_strand, "xmpp: redeliver unacked",
                 [self] { redeliver_unacked(self->ctx_.rt.core, *self); });
  if (!c) return;
  bool conflict = reason.find("replaced") != std::string::npos;
  post_guarded(c->executor(), "xmpp: terminate", [c, conflict, reason] {
    c->stream_error(conflict ? px::StreamError::conflict : px::StreamError::system_shutdown, reason);
  });
}

}  // namespace parley::adapters::xmpp

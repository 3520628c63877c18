#pragma once
// Link: one XMPP session as the core sees it (its SessionSink) and as XEP-0198 sees it
// (the counters and the queue of unacknowledged stanzas), outliving the TCP connection
// while a stream may be resumed.
//
// Threading: the SessionSink methods run on the core strand and render stanzas there; they
// hand the bytes to deliver(), which queues them (SM) and appends them to the outbox. The
// first stanza into an empty outbox posts one flush to the current connection's strand;
// stanzas that arrive before it runs ride along, so a burst costs one post, one TLS record
// write and one syscall per recipient, not one per stanza. A room message is rendered once
// per fan-out (Context::room_render) and only the 'to' attribute differs per recipient.
// The mutex guards the SM state, the outbox and the connection pointer.
// `sid` and `terminated` are touched on the core strand only.
//
// What is not wiring lives next door, pure and unit-tested: the XEP-0198 queue and counters
// (sm_queue.*), the stanza renderers (render_message.*, render_presence.*, render_room.*)
// and the XEP-0280 rules (carbons.*). Every post from here goes through post_guarded.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/xmpp/carbons.hpp"  // send_carbons: the handlers reach it through this header
#include "adapters/xmpp/context.hpp"
#include "adapters/xmpp/render_presence.hpp"  // render_roster_item, likewise
#include "adapters/xmpp/sm_queue.hpp"
#include "core/services/session_sink.hpp"

namespace parley::adapters::xmpp {

class C2sConnection;

class Link : public core::SessionSink, public std::enable_shared_from_this<Link> {
 public:
  Link(Context& ctx, std::string user, std::string resource);

  // ---- core strand only ----
  core::SessionId sid = 0;
  bool terminated = false;   // the core ended the session (on_terminate)
  bool initial_presence = false;
  // ---- guarded by Context::mu ----
  // The session is over (terminated by the core, or its resume timeout expired): it can no
  // longer be resumed. XEP-0198 resumption claims a link under the same lock.
  bool ended = false;

  void on_message(const core::MessagePtr& m) override;
  // Offline messages are confirmed to the core (Router::delivered) when the client acks
  // them (XEP-0198), or else when their bytes were written to the socket.
  bool on_stored_message(const core::MessagePtr& m) override;
  void on_presence(const core::PresenceUpdate& p) override;
  void on_subscription(const core::SubscriptionEvent& s) override;
  void on_roster_push(const core::RosterItem& item, bool removed) override;
  void on_room_join(const core::Room& room, const core::Member& m, bool self) override;
  void on_room_leave(const core::Room& room, const core::Member& m, const core::LeaveReason& r,
                     bool self) override;
  void on_room_nick(const core::Room& room, const core::Member& before, const std::string& new_nick,
                    bool self) override;
  void on_room_topic(const core::Room& room, const core::Topic& t) override;
  void on_room_change(const core::Room& room, const core::RoomChange& c, const std::string& by) override;
  void on_room_invite(const std::string& room, const core::Address& from, const std::string& from_nick) override;
  // A message this session sent failed later (e.g. a SIP MESSAGE answered 4xx/5xx, RFC
  // 7572 §5): <message type='error'/> with the client's id.
  void on_error(const std::string& ref_id, const core::Error& e) override;
  void on_terminate(const std::string& reason) override;

  // ---- any thread ----
  std::string_view user() const { return std::string_view(jid_).substr(0, user_len_); }
  std::string_view resource() const { return std::string_view(jid_).substr(std::min<std::size_t>(jid_.size(), bare_len_ + 1u)); }
  std::string_view full_jid() const { return jid_; }
  std::string_view bare_jid() const { return std::string_view(jid_).substr(0, bare_len_); }
  // Sends one stanza (counted and kept until acked when SM is on).
  void deliver(std::string_view xml) { deliver_parts(xml, {}, {}); }
  // Sends the stanza a + b + c (e.g. prefix, escaped 'to', suffix) without joining it first.
  // `message`: the core message it renders, kept with the unacked copy under SM so that it
  // can be redelivered if the stream ends unacknowledged (take_unacked_messages).
  // `stored`: message comes from offline storage and is confirmed to the core once delivered.
  void deliver_parts(std::string_view a, std::string_view b, std::string_view c,
                     const core::MessagePtr& message = nullptr, bool stored = false);
  void attach(const std::shared_ptr<C2sConnection>& c);
  // XEP-0198 resumption on c (its strand): attaches and returns the unacknowledged stanzas
  // to send again, in one step, so that nothing delivered meanwhile is missed or reordered.
  std::vector<std::string> attach_replaying(const std::shared_ptr<C2sConnection>& c);
  void detach();
  // Detaches only if attached to c (a resumption may have moved the link on already).
  bool detach_from(const C2sConnection* c);
  std::shared_ptr<C2sConnection> connection();

  // XEP-0198
  void enable_sm(const std::string& id);
  bool sm_enabled();
  std::string sm_id();
  std::uint32_t inbound_count();
  void count_inbound();
  // Drops what the client has acknowledged. False: h is beyond what was sent (XEP-0198 §4,
  // <handled-count-too-high/>); nothing is dropped, and *send_count (if given) is the
  // number of stanzas sent, read under the same lock.
  bool ack(std::uint32_t h, std::uint32_t* send_count = nullptr);
  std::vector<std::string> unacked();
  // The messages among the unacknowledged stanzas, removed from the queue (session end).
  // Offline messages are left out: they are still stored (Router::flush_offline).
  std::vector<core::MessagePtr> take_unacked_messages();
  std::uint64_t generation();  // bumped on every attach/detach (resume timers check it)
  std::atomic<bool> carbons{false};  // XEP-0280: set on the connection strand, read on the core strand

 private:
  Context& ctx_;
  // The full JID "user@domain/resource"; user, bare JID and resource are views into it (one
  // string instead of four: an idle session is mostly fixed per-connection state).
  std::string jid_;
  std::uint16_t user_len_ = 0, bare_len_ = 0;  // RFC 7622 §3: parts of at most 1023 bytes
  std::mutex mu_;
  std::weak_ptr<C2sConnection> conn_;
  // XEP-0198 state, allocated by enable_sm(): most sessions never enable it.
  struct Sm {
    std::string id;
    SmQueue queue;
  };
  std::unique_ptr<Sm> sm_;
  std::uint64_t generation_ = 0;
  std::string outbox_;          // rendered, not yet handed to the connection
  // Ids of the offline messages in outbox_ (without SM); allocated when there are any, as
  // most sessions never get one.
  std::unique_ptr<std::vector<std::string>> outbox_stored_;
  bool flush_posted_ = false;   // a flush of outbox_ is posted to the connection's strand
  // An offline message went out under SM without an <r/> after it: the flush asks for an
  // ack, or the batch would wait for the next stanza (XEP-0198 §4) and the next batch too.
  bool ack_wanted_ = false;
  friend class FlushBatch;  // runs flush() on the connection's strand
  void flush(const std::shared_ptr<C2sConnection>& c, std::uint64_t gen);
  void end_unacked_overflow(const std::shared_ptr<C2sConnection>& c);
  void hand_off_locked();
  // Connection strand of c: writes batch; once written, the offline messages among it
  // are confirmed to the core.
  void write_confirmed(const std::shared_ptr<C2sConnection>& c, const std::string& batch,
                       std::vector<std::string> stored);
  void confirm_delivered(std::vector<std::string> ids);  // posts Router::delivered
};

// XEP-0198 §5 ("the server SHOULD treat unacknowledged stanzas as undelivered"): after the
// session of `link` has been closed for good, each direct message it never acknowledged
// goes to the user's other sessions or to offline storage, never into the void. A message
// to the bare JID is skipped when the user still has other sessions: they received it
// too. Core strand.
void redeliver_unacked(core::Core& core, Link& link);
// The session of a link whose stream is gone for good: closed in the core, and what the
// client never acknowledged goes to the user's other sessions or to offline storage. The
// link stays alive in the posted task until Sessions::close has run. Any thread.
void end_session(Context& ctx, std::shared_ptr<Link> link, std::string why);

}  // namespace parley::adapters::xmpp

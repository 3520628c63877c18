#pragma once
// What the core tells a session. An adapter implements one SessionSink per connected
// session; the core calls it on the core strand only, so an implementation that lives on
// another strand must copy what it needs and post (MessagePtr is shared, not copied).
#include <string>

#include "core/model/error.hpp"
#include "core/model/message.hpp"
#include "core/model/presence.hpp"
#include "core/model/room.hpp"
#include "core/model/room_change.hpp"
#include "core/store/store.hpp"

namespace parley::core {

struct PresenceUpdate {
  Address from;       // user address with resource = tuple id (bare for an aggregate-only change)
  Tuple tuple;        // the tuple that changed; basic == closed when that session ended
  Tuple aggregate;    // the presentity's aggregate after the change
};

enum class SubscriptionAction : std::uint8_t { subscribe, subscribed, unsubscribe, unsubscribed };
std::string_view to_string(SubscriptionAction a);

struct SubscriptionEvent {
  Address from;  // bare
  Address to;    // bare
  SubscriptionAction action = SubscriptionAction::subscribe;
  std::string reason;
};

struct LeaveReason {
  enum class Kind : std::uint8_t { part, quit, kick, ban, nick_conflict, shutdown } kind = Kind::part;
  std::string by;    // nick of the kicker/banner
  std::string text;  // part/quit/kick message
};

class SessionSink {
 public:
  virtual ~SessionSink() = default;

  // Direct, notice, action and room messages (room: to.is_room(), nick = sender's nick).
  virtual void on_message(const MessagePtr& m) = 0;
  // A message from offline storage (Router::flush_offline). Returns true when the adapter
  // will report it with Router::delivered() once the client has it (XEP-0198 ack, or its
  // bytes handed to the kernel): until then it stays stored, so a connection that dies
  // first leaves it for the next login. Report later, never from inside this call. The
  // default delivers it as any message and returns false: delivered, as far as anyone knows.
  virtual bool on_stored_message(const MessagePtr& m) {
    on_message(m);
    return false;
  }
  // A presence change of someone this session's user watches, or of its own other sessions.
  virtual void on_presence(const PresenceUpdate& p) = 0;
  // Subscription requests and answers addressed to this session's user.
  virtual void on_subscription(const SubscriptionEvent& s) {}
  // RFC 6121 §2.1.6 roster push: the user's roster item changed (removed: deleted).
  virtual void on_roster_push(const RosterItem& item, bool removed) {}

  // Room events for a room this session is in. `self` is true when the member is this
  // session. on_room_join with self carries the whole room so the adapter can list it.
  virtual void on_room_join(const Room& room, const Member& m, bool self) = 0;
  virtual void on_room_leave(const Room& room, const Member& m, const LeaveReason& r, bool self) = 0;
  virtual void on_room_nick(const Room& room, const Member& before, const std::string& new_nick, bool self) {}
  virtual void on_room_topic(const Room& room, const Topic& t) {}
  // A change to the room's settings, bans or members' role/affiliation/voice, as applied
  // (RoomChange), from whichever protocol; `by` is the actor's nick (empty: the service).
  virtual void on_room_change(const Room& room, const RoomChange& c, const std::string& by) {}
  virtual void on_room_invite(const std::string& room, const Address& from, const std::string& from_nick) {}

  // An error about something this session sent (e.g. a message that could not be delivered
  // by a foreign route after the fact), referenced by message id.
  virtual void on_error(const std::string& ref_id, const Error& e) {}
  // The core ends this session (oper KILL, account removed, shutdown, replaced by a new
  // session with the same resource). The adapter closes the connection; it need not call
  // Sessions::close afterwards (the core already did).
  virtual void on_terminate(const std::string& reason) = 0;
};

}  // namespace parley::core

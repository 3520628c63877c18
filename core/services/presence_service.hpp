#pragma once
// Presence service (RFC 3856 / RFC 6121 semantics): presentities publish tuples, watchers
// subscribe, the presentity authorises, the service stores subscriptions in the roster
// and notifies every session of every active watcher. Watcher information (RFC 3857)
// is available to the presentity.
#include <string>
#include <unordered_map>
#include <vector>

#include "core/model/error.hpp"
#include "core/model/presence.hpp"
#include "core/model/room.hpp"
#include "core/services/session_sink.hpp"
#include "core/store/store.hpp"

namespace parley::core {

class Core;

class PresenceService {
 public:
  explicit PresenceService(Core& core) : core_(core) {}

  // The session's tuple changed (basic closed: it went offline but stays connected).
  // The tuple id is the session's resource. Notifies watchers with active subscriptions
  // and the user's own other sessions.
  void publish(SessionId session, Tuple t);
  // Called by Sessions::close: the tuple disappears and watchers see it closed.
  void session_closed(SessionId session);

  // watcher asks to see presentity. Pending until authorised (pre-approved: active at
  // once). The presentity's sessions get on_subscription(subscribe); a request to a
  // foreign presentity is recorded pending (the owning adapter handles the wire).
  Status subscribe(const Address& watcher, const Address& presentity);
  // presentity answers: allow -> active (watcher gets subscribed + current presence);
  // deny -> terminated/rejected (watcher gets unsubscribed). Allowing with no pending
  // request records a pre-approval.
  Status authorize(const Address& presentity, const Address& watcher, bool allow);
  // watcher stops watching (unsubscribe): presentity is told, watcher sees it offline.
  Status unsubscribe(const Address& watcher, const Address& presentity);

  // Current presence of a user: its open tuples.
  Presentity presentity(const Address& user) const;
  // The same open tuples without a copy (nullptr: offline), valid until the next presence
  // change on the core strand (a SIP fan-out compares them once per watcher).
  const std::vector<Tuple>* tuples_of(const Address& user) const;
  // The open tuple of one session (by its resource), nullptr if it published none.
  const Tuple* tuple_of(const Address& user, const std::string& resource) const;
  // Sends the current presence of `presentity` to `session` if its user may see it
  // (active subscription, or same user). not_authorized otherwise.
  Status probe(SessionId session, const Address& presentity);
  // Sends the session the presence of every contact it watches (initial presence).
  void probe_all(SessionId session);

  std::vector<Subscription> watchers(const Address& presentity);  // RFC 3857 winfo
  std::vector<Subscription> watching(const Address& watcher);
  SubscriptionState state(const Address& watcher, const Address& presentity);

  // Roster management (RFC 6121 §2): name and groups. Removing an item cancels both
  // subscription directions. A roster holds at most CoreOptions::roster_size items: an
  // item that would grow a full roster (set, subscribe, pre-approval) is refused with
  // resource_constraint.
  Result<std::vector<RosterItem>> roster(const Address& owner);
  Status set_roster_item(const Address& owner, const Address& contact, std::string name,
                         std::vector<std::string> groups);
  Status remove_roster_item(const Address& owner, const Address& contact);

 private:
  RosterItem load_item(const Address& owner, const Address& contact);
  bool has_roster(const Address& user);
  Status save(const RosterItem& item);  // refused when it would grow a full roster
  Status roster_room_for(const Address& owner, const Address& contact);
  void push_roster(const RosterItem& item, bool removed);
  void emit(const Address& to_user, const SubscriptionEvent& e);
  void notify(const Address& user, const PresenceUpdate& u, SessionId except);
  // Sends every open tuple of `presentity` to one sink; a closed aggregate when offline
  // and `include_offline`.
  void send_presence_of(SessionSink& sink, const Address& presentity, bool include_offline);
  void send_offline_of(const Address& to_user, const Address& presentity);

  Core& core_;
  std::unordered_map<Address, std::vector<Tuple>> tuples_;  // by bare user
};

}  // namespace parley::core

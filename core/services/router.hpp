#pragma once
// The router: delivers a message to local sessions through their adapters, to the room
// service, or to the adapter that owns a foreign address. Nothing is dropped silently:
// an undeliverable message is an error value; a message to a local user with no session
// is stored and delivered by flush_offline() at the next login.
#include <atomic>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/model/error.hpp"
#include "core/model/message.hpp"
#include "core/model/room.hpp"

namespace parley::core {

class Core;

// Implemented by an adapter that owns a foreign address space (irc://, xmpp:, sip:, psyc://).
class ForeignRoute {
 public:
  virtual ~ForeignRoute() = default;
  virtual Status deliver(const MessagePtr& m) = 0;
};

class Router {
 public:
  explicit Router(Core& core);

  // Routes m. Assigns id and timestamp when empty. For a room address, `m.origin.session`
  // must be a member session (RoomService::say does the checks).
  // Direct messages to a bare local user go to every session with non-negative priority
  // (RFC 6121 §8.5.2.1.1 allows this); to a full address, to that session only, falling
  // back to the bare rules when it is gone (§8.5.3.2.1).
  Status send(Message m);
  // Delivers the stored offline messages of this session's user, a batch at a time
  // (CoreOptions::offline_batch*). A message is deleted from storage only once delivered:
  // at once for a sink that cannot tell (SessionSink::on_stored_message), else when the
  // adapter confirms it (delivered()), and then the next batch follows. One session of a
  // user receives them at a time; when it ends with messages unconfirmed, those stay stored
  // and go to the next session of the user that asked, or wait for the next login.
  Status flush_offline(SessionId session);
  // The adapter confirms that the stored messages with these ids (as given to
  // on_stored_message, in order) reached the client of `session`: they are deleted from
  // storage. Ids of other messages are ignored.
  Status delivered(SessionId session, const std::vector<std::string>& ids);
  // Sessions::close, while the session is still registered: forgets what it was given.
  void session_closed(SessionId session);
  // A message a session was given but never confirmed (XEP-0198 §5: the stream ended
  // without resumption) goes through the bare-address rules again: to the user's other
  // sessions, else to offline storage. Hooks do not fire a second time.
  Status redeliver(const Message& m);

  void add_route(Protocol p, ForeignRoute* route) { routes_[p] = route; }
  void remove_route(Protocol p) { routes_.erase(p); }

  // A new message id: a random prefix drawn once per process, then a counter, so ids are
  // unique across restarts (history and offline storage keep them) without a store lookup.
  std::string next_id();

 private:
  Status deliver_local(const MessagePtr& m, bool redelivery = false);
  // Into the offline box of `bare`, within its quota (offline_quota.hpp).
  Status store_offline(const Address& bare, const Message& m, bool redelivery);
  Status send_offline_batch(const Address& user);

  // A flush of one user's offline messages under way.
  struct OfflineFlush {
    std::vector<SessionId> sessions;  // sessions that asked, in order; the first one receives
    std::int64_t after = 0;           // store key of the last message handed out
    std::deque<std::pair<std::string, std::int64_t>> pending;  // handed out, unconfirmed: id, key
  };

  Core& core_;
  std::map<Protocol, ForeignRoute*> routes_;
  std::string id_prefix_;
  std::unordered_map<Address, OfflineFlush> offline_;  // by bare user
  std::uint64_t counter_ = 0;
};

}  // namespace parley::core

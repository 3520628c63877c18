#pragma once
// The router: delivers a message to local sessions through their adapters, to the room
// service, or to the adapter that owns a foreign address. Nothing is dropped silently:
// an undeliverable message is an error value; a message to a local user with no session
// is stored and delivered by flush_offline() at the next login.
#include <atomic>
#include <map>
#include <string>

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
  // Delivers and deletes stored offline messages for this session's user.
  Status flush_offline(SessionId session);
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

  Core& core_;
  std::map<Protocol, ForeignRoute*> routes_;
  std::string id_prefix_;
  std::uint64_t counter_ = 0;
};

}  // namespace parley::core

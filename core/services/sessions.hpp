#pragma once
// The registry of connected sessions, of every protocol.
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/model/address.hpp"
#include "core/model/error.hpp"
#include "core/model/room.hpp"
#include "core/services/session_sink.hpp"

namespace parley::core {

class Core;

struct SessionInfo {
  SessionId id = 0;
  Address user;          // bare user address (account name, or guest nick)
  std::string resource;  // unique among the user's sessions (XMPP resource, "irc-<n>", ...)
  Protocol protocol = Protocol::local;
  bool guest = false;    // no account behind it
  std::string host;      // peer host for WHOIS / logs
  SessionSink* sink = nullptr;
  Timestamp since{};
  bool available = false;  // has published an open tuple
};

struct SessionOpen {
  Address user;  // bare
  std::string resource;  // empty: the core assigns one
  Protocol protocol = Protocol::local;
  bool guest = false;
  std::string host;
  SessionSink* sink = nullptr;
  // RFC 6120 §7.7.2.2: on a resource conflict, either refuse the new session (conflict) or
  // terminate the old one and let the new one in.
  bool replace_on_conflict = false;
};

class Sessions {
 public:
  explicit Sessions(Core& core) : core_(core) {}

  Result<SessionId> open(SessionOpen o);
  // Ends a session: leaves its rooms (quit, reason), closes its presence tuple, forgets it.
  // The sink is not called with on_terminate (the adapter asked for this).
  void close(SessionId id, const std::string& reason);
  // Ends a session from the core side: on_terminate(reason) on its sink, then close().
  void terminate(SessionId id, const std::string& reason);

  const SessionInfo* find(SessionId id) const;
  std::vector<SessionId> of_user(const Address& bare_user) const;
  // The session of a user with exactly this resource.
  const SessionInfo* find_resource(const Address& bare_user, const std::string& resource) const;
  bool user_online(const Address& bare_user) const { return !of_user(bare_user).empty(); }
  std::size_t size() const { return sessions_.size(); }
  void for_each(const std::function<void(const SessionInfo&)>& f) const;
  // Terminates every session (shutdown).
  void terminate_all(const std::string& reason);
  void set_available(SessionId id, bool available);

 private:
  Core& core_;
  SessionId next_id_ = 1;
  std::unordered_map<SessionId, SessionInfo> sessions_;
  std::unordered_map<Address, std::vector<SessionId>> by_user_;
};

}  // namespace parley::core

#include "core/services/sessions.hpp"

#include <algorithm>

#include "core/core.hpp"

namespace parley::core {

Result<SessionId> Sessions::open(SessionOpen o) {
  PARLEY_ASSERT_ON_CORE(core_);
  if (!o.user.is_user()) return make_error(Condition::bad_request, "a session belongs to a local user");
  if (o.sink == nullptr) return make_error(Condition::internal_server_error, "session without sink");
  Address bare = o.user.bare();
  SessionId id = next_id_++;
  if (o.resource.empty()) o.resource = std::string(to_string(o.protocol)) + "-" + std::to_string(id);
  if (const SessionInfo* old = find_resource(bare, o.resource)) {
    // RFC 6120 §7.7.2.2: refuse the newcomer or terminate the old session.
    if (!o.replace_on_conflict) return make_error(Condition::conflict, "resource in use");
    terminate(old->id, "replaced by a new session");
  }
  SessionInfo info;
  info.id = id;
  info.user = bare;
  info.resource = std::move(o.resource);
  info.protocol = o.protocol;
  info.guest = o.guest;
  info.host = std::move(o.host);
  info.sink = o.sink;
  info.since = Clock::now();
  core_.metrics().session_opened(info.protocol);
  sessions_.emplace(id, std::move(info));
  by_user_[bare].push_back(id);
  return id;
}

void Sessions::close(SessionId id, const std::string& reason) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  // While the session is still registered, so that rooms and presence can look it up.
  core_.rooms().leave_all(id, LeaveReason{LeaveReason::Kind::quit, {}, reason});
  core_.presence().session_closed(id);
  core_.router().session_closed(id);
  it = sessions_.find(id);  // the services may not erase, but do not trust a stale iterator
  if (it == sessions_.end()) return;
  Address user = it->second.user;
  const bool guest = it->second.guest;
  core_.metrics().session_closed(it->second.protocol);
  sessions_.erase(it);
  auto u = by_user_.find(user);
  if (u != by_user_.end()) {
    std::erase(u->second, id);
    if (u->second.empty()) by_user_.erase(u);
  }
  // A guest exists only while connected: its name is free for the next guest, who must not
  // inherit its room affiliations (issue 9).
  if (guest && !user_online(user)) core_.rooms().forget_user(user);
}

void Sessions::terminate(SessionId id, const std::string& reason) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  if (it->second.sink) it->second.sink->on_terminate(reason);
  close(id, reason);
}

const SessionInfo* Sessions::find(SessionId id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

std::vector<SessionId> Sessions::of_user(const Address& bare_user) const {
  auto it = by_user_.find(bare_user.bare());
  if (it == by_user_.end()) return {};
  return it->second;
}

const SessionInfo* Sessions::find_resource(const Address& bare_user, const std::string& resource) const {
  auto it = by_user_.find(bare_user.bare());
  if (it == by_user_.end()) return nullptr;
  for (SessionId id : it->second) {
    const SessionInfo* s = find(id);
    if (s && s->resource == resource) return s;
  }
  return nullptr;
}

void Sessions::for_each(const std::function<void(const SessionInfo&)>& f) const {
  for (const auto& [id, s] : sessions_) f(s);
}

void Sessions::terminate_all(const std::string& reason) {
  PARLEY_ASSERT_ON_CORE(core_);
  std::vector<SessionId> ids;
  ids.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) ids.push_back(id);
  for (SessionId id : ids) terminate(id, reason);
}

void Sessions::set_available(SessionId id, bool available) {
  PARLEY_ASSERT_ON_CORE(core_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) it->second.available = available;
}

}  // namespace parley::core

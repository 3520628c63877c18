#include "core/services/router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <string_view>

#include "core/core.hpp"
#include "core/services/offline_quota.hpp"
#include "core/store/message_codec.hpp"

namespace parley::core {

namespace {
// 64 random bits in base32 (13 characters, [a-z2-7]): the ids of one run share it.
std::string random_prefix() {
  std::random_device rd;  // getrandom(2) on Linux
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  for (int i = 0; i < 13; ++i, v >>= 5) out.push_back(kAlphabet[v & 31]);
  return out;
}
}  // namespace

Router::Router(Core& core) : core_(core), id_prefix_(random_prefix() + "-") {}

std::string Router::next_id() { return id_prefix_ + std::to_string(++counter_); }

Status Router::send(Message m) {
  PARLEY_ASSERT_ON_CORE(core_);
  bound_client_fields(m);
  if (m.id.empty()) m.id = next_id();
  if (m.timestamp == Timestamp{}) m.timestamp = Clock::now();
  if (m.to.is_room()) {
    // The room service checks membership and modes, fires "message/room" and fans out.
    std::string room = m.to.id();
    return core_.rooms().say(m.origin.session, room, std::move(m));
  }
  if (m.to.empty()) return make_error(Condition::bad_request, "message without recipient");

  HookContext ctx;
  ctx.payload = &m;
  if (core_.hooks().fire("message/direct", ctx) == Verdict::deny) return ctx.deny_error;

  MessagePtr p = std::make_shared<const Message>(std::move(m));
  if (p->to.is_user()) return deliver_local(p);

  auto it = routes_.find(p->to.protocol());
  if (it == routes_.end() || it->second == nullptr)
    return make_error(Condition::remote_server_not_found, "no route to " + std::string(to_string(p->to.protocol())));
  return it->second->deliver(p);
}

Status Router::redeliver(const Message& m) {
  PARLEY_ASSERT_ON_CORE(core_);
  if (!m.to.is_user()) return make_error(Condition::bad_request, "only messages to local users are redelivered");
  Message copy = m;
  copy.to = m.to.bare();
  return deliver_local(std::make_shared<const Message>(std::move(copy)), true);
}

Status Router::deliver_local(const MessagePtr& m, bool redelivery) {
  Sessions& sessions = core_.sessions();
  const Address bare = m->to.bare();

  // RFC 6121 §8.5.3.2.1: a full address goes to that resource only, or falls back to the
  // bare-address rules when that resource is gone.
  if (!m->to.resource().empty()) {
    if (const SessionInfo* s = sessions.find_resource(bare, m->to.resource())) {
      core_.metrics().routed(m->origin.protocol, s->protocol);
      s->sink->on_message(m);
      return {};
    }
  }

  auto ids = sessions.of_user(bare);
  if (!ids.empty()) {
    // RFC 6121 §8.5.2.1.1: every available resource with non-negative priority. Sessions
    // that never published presence (IRC without AWAY, a fresh XMPP stream) count only
    // when no session of the user has published anything.
    bool any_available = false;
    std::size_t delivered = 0;
    for (SessionId id : ids) {
      const SessionInfo* s = sessions.find(id);
      if (!s || !s->available) continue;
      any_available = true;
      const Tuple* t = core_.presence().tuple_of(bare, s->resource);
      if (t && t->priority < 0) continue;
      core_.metrics().routed(m->origin.protocol, s->protocol);
      s->sink->on_message(m);
      ++delivered;
    }
    if (delivered > 0) return {};
    if (!any_available) {
      for (SessionId id : ids)
        if (const SessionInfo* s = sessions.find(id)) {
          core_.metrics().routed(m->origin.protocol, s->protocol);
          s->sink->on_message(m);
        }
      return {};
    }
    // Every available resource has a negative priority: treat as offline (§8.5.2.1.1).
  }

  if (!core_.directory().exists(bare.id()))
    return make_error(Condition::item_not_found, "no such user: " + bare.id());
  return store_offline(bare, *m, redelivery);
}

Status Router::store_offline(const Address& bare, const Message& m, bool redelivery) {
  const CoreOptions& o = core_.options();
  OfflineLimits limits{o.offline_limit, o.offline_bytes, o.offline_sender_share};
  // A redelivered message was accepted once already: only the box as a whole bounds it.
  if (redelivery) limits.sender_share = 100;
  const SessionInfo* origin = m.origin.session ? core_.sessions().find(m.origin.session) : nullptr;
  const std::string sender =
      offline_sender_key(m, origin && origin->guest, origin ? origin->host : std::string());
  auto usage = core_.store().offline_usage(bare, sender);
  if (!usage) return usage.error();
  const std::string encoded = encode_message(m);
  if (auto st = check_offline_quota(limits, *usage, encoded.size()); !st) return st;
  auto st = core_.store().push_offline(bare, m, sender);
  if (st) core_.metrics().delivered(DeliveryPath::offline_stored);
  return st;
}

Status Router::flush_offline(SessionId session) {
  PARLEY_ASSERT_ON_CORE(core_);
  const SessionInfo* s = core_.sessions().find(session);
  if (!s) return make_error(Condition::item_not_found, "no such session");
  auto [it, fresh] = offline_.try_emplace(s->user);
  auto& asked = it->second.sessions;
  if (std::find(asked.begin(), asked.end(), session) == asked.end()) asked.push_back(session);
  if (!fresh) return {};  // another session of the user is receiving them
  return send_offline_batch(s->user);
}

Status Router::send_offline_batch(const Address& user) {
  for (;;) {
    auto it = offline_.find(user);
    if (it == offline_.end() || !it->second.pending.empty()) return {};
    OfflineFlush& f = it->second;
    const SessionInfo* s = nullptr;
    while (!f.sessions.empty() && !(s = core_.sessions().find(f.sessions.front())))
      f.sessions.erase(f.sessions.begin());
    if (!s) {
      offline_.erase(it);
      return {};
    }
    const std::size_t limit = std::max<std::size_t>(1, core_.options().offline_batch);
    auto batch = core_.store().peek_offline(user, f.after, limit);
    if (!batch || batch->empty()) {
      offline_.erase(it);
      if (!batch) return batch.error();
      return {};
    }
    SessionSink* sink = s->sink;
    std::vector<std::int64_t> done;  // delivered to a sink that does not confirm
    std::size_t bytes = 0;
    for (auto& stored : *batch) {
      if (bytes >= core_.options().offline_batch_bytes) break;
      bytes += stored.message.body.size() + 256;  // roughly what it costs rendered
      auto fit = offline_.find(user);  // a sink may have changed the map (it should not)
      if (fit == offline_.end()) return {};
      fit->second.after = stored.key;
      fit->second.pending.emplace_back(stored.message.id, stored.key);
      auto p = std::make_shared<const Message>(std::move(stored.message));
      core_.metrics().delivered(DeliveryPath::offline_sent);
      if (!sink->on_stored_message(p)) {
        fit = offline_.find(user);
        if (fit != offline_.end() && !fit->second.pending.empty()) fit->second.pending.pop_back();
        done.push_back(stored.key);
      }
    }
    if (auto st = core_.store().delete_offline(user, done); !st) {
      offline_.erase(user);
      return st;
    }
  }
}

Status Router::delivered(SessionId session, const std::vector<std::string>& ids) {
  PARLEY_ASSERT_ON_CORE(core_);
  const SessionInfo* s = core_.sessions().find(session);
  if (!s) return {};
  auto it = offline_.find(s->user);
  if (it == offline_.end() || it->second.sessions.empty() || it->second.sessions.front() != session)
    return {};
  auto& pending = it->second.pending;
  std::vector<std::int64_t> keys;
  for (const auto& id : ids) {
    // Ids given by clients need not be unique: the first one pending is the one meant,
    // since delivery keeps the order.
    auto p = std::find_if(pending.begin(), pending.end(), [&](const auto& e) { return e.first == id; });
    if (p == pending.end()) continue;
    keys.push_back(p->second);
    pending.erase(p);
  }
  if (keys.empty()) return {};
  const Address user = s->user;
  if (auto st = core_.store().delete_offline(user, keys); !st) {
    // They would come again at the next login; stop here rather than loop over them.
    offline_.erase(it);
    return st;
  }
  return send_offline_batch(user);
}

void Router::session_closed(SessionId session) {
  PARLEY_ASSERT_ON_CORE(core_);
  const SessionInfo* s = core_.sessions().find(session);
  if (!s) return;
  auto it = offline_.find(s->user);
  if (it == offline_.end()) return;
  OfflineFlush& f = it->second;
  auto pos = std::find(f.sessions.begin(), f.sessions.end(), session);
  if (pos == f.sessions.end()) return;
  const bool receiver = pos == f.sessions.begin();
  f.sessions.erase(pos);
  if (!receiver) return;
  // What it was given and did not confirm is still stored: start over with the next one.
  f.pending.clear();
  f.after = 0;
  const Address user = s->user;
  if (auto st = send_offline_batch(user); !st)
    spdlog::error("router: offline messages of {}: {}", user.to_string(), st.error().text);
}

}  // namespace parley::core

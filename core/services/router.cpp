#include "core/services/router.hpp"

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
      s->sink->on_message(m);
      ++delivered;
    }
    if (delivered > 0) return {};
    if (!any_available) {
      for (SessionId id : ids)
        if (const SessionInfo* s = sessions.find(id)) s->sink->on_message(m);
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
  return core_.store().push_offline(bare, m, sender);
}

Status Router::flush_offline(SessionId session) {
  const SessionInfo* s = core_.sessions().find(session);
  if (!s) return make_error(Condition::item_not_found, "no such session");
  auto msgs = core_.store().take_offline(s->user);
  if (!msgs) return msgs.error();
  for (auto& m : *msgs) s->sink->on_message(std::make_shared<const Message>(std::move(m)));
  return {};
}

}  // namespace parley::core

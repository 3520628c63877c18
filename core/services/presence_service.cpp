#include "core/services/presence_service.hpp"

#include <algorithm>

#include "core/core.hpp"

namespace parley::core {

namespace {

bool is_live(SubscriptionState s) {
  return s == SubscriptionState::pending || s == SubscriptionState::active;
}

}  // namespace

// ---- helpers -------------------------------------------------------------------------

bool PresenceService::has_roster(const Address& user) {
  // Guests and foreign users have no roster here: only accounts of the directory do.
  return user.is_user() && core_.directory().exists(user.id());
}

RosterItem PresenceService::load_item(const Address& owner, const Address& contact) {
  const Address o = owner.bare();
  const Address c = contact.bare();
  auto items = core_.store().roster(o);
  if (items)
    for (auto& it : *items)
      if (it.contact == c) return std::move(it);
  RosterItem fresh;
  fresh.owner = o;
  fresh.contact = c;
  return fresh;
}

Status PresenceService::save(const RosterItem& item) {
  if (auto st = roster_room_for(item.owner, item.contact); !st) return st;
  return core_.store().put_roster_item(item);
}

Status PresenceService::roster_room_for(const Address& owner, const Address& contact) {
  // A roster is bounded (CoreOptions::roster_size): every item is stored, loaded at each
  // login and walked at every presence change. Changing an existing item is always allowed.
  auto items = core_.store().roster(owner.bare());
  if (!items) return items.error();
  if (items->size() < core_.options().roster_size) return {};
  const Address c = contact.bare();
  for (const auto& it : *items)
    if (it.contact == c) return {};
  return make_error(Condition::resource_constraint,
                    "roster full (at most " + std::to_string(core_.options().roster_size) + " contacts)");
}

void PresenceService::push_roster(const RosterItem& item, bool removed) {
  for (SessionId id : core_.sessions().of_user(item.owner))
    if (const SessionInfo* s = core_.sessions().find(id)) s->sink->on_roster_push(item, removed);
}

void PresenceService::emit(const Address& to_user, const SubscriptionEvent& e) {
  if (!to_user.is_user()) return;  // foreign: the owning adapter sees it through hooks
  for (SessionId id : core_.sessions().of_user(to_user))
    if (const SessionInfo* s = core_.sessions().find(id)) s->sink->on_subscription(e);
}

void PresenceService::notify(const Address& user, const PresenceUpdate& u, SessionId except) {
  for (SessionId id : core_.sessions().of_user(user)) {
    if (id == except) continue;
    if (const SessionInfo* s = core_.sessions().find(id)) s->sink->on_presence(u);
  }
}

void PresenceService::send_presence_of(SessionSink& sink, const Address& presentity, bool include_offline) {
  Presentity p = this->presentity(presentity);
  Tuple agg = p.aggregate();
  for (const auto& t : p.tuples) sink.on_presence(PresenceUpdate{Address::user(p.user.id(), t.id), t, agg});
  if (p.tuples.empty() && include_offline) sink.on_presence(PresenceUpdate{p.user, agg, agg});
}

void PresenceService::send_offline_of(const Address& to_user, const Address& presentity) {
  // The watcher lost the right to see presentity: it must now see it offline
  // (RFC 6121 §3.2.3 / §3.3.3: the server sends unavailable presence from each resource).
  Presentity p = this->presentity(presentity);
  Tuple closed;
  closed.basic = Basic::closed;
  for (const auto& t : p.tuples) {
    Tuple c = t;
    c.basic = Basic::closed;
    notify(to_user, PresenceUpdate{Address::user(p.user.id(), t.id), c, closed}, 0);
  }
}

// ---- publication ---------------------------------------------------------------------

void PresenceService::publish(SessionId session, Tuple t) {
  PARLEY_ASSERT_ON_CORE(core_);
  const SessionInfo* s = core_.sessions().find(session);
  if (!s) return;
  const Address user = s->user;
  const bool guest = s->guest;
  t.id = s->resource;
  if (t.updated == Timestamp{}) t.updated = Clock::now();

  auto& v = tuples_[user];
  auto it = std::find_if(v.begin(), v.end(), [&](const Tuple& x) { return x.id == t.id; });
  if (t.basic == Basic::open) {
    if (it != v.end())
      *it = t;
    else
      v.push_back(t);
    core_.sessions().set_available(session, true);
  } else {
    if (it != v.end()) v.erase(it);
    if (v.empty()) tuples_.erase(user);
    core_.sessions().set_available(session, false);
  }

  PresenceUpdate u{Address::user(user.id(), t.id), t, presentity(user).aggregate()};
  notify(user, u, session);
  // No has_roster() here: the roster is read anyway, and only an account has one (items are
  // written after has_roster(), and delete_account takes the roster with the account), so
  // the directory read it would add (one per presence change) tells nothing more.
  if (guest || !user.is_user()) return;
  auto items = core_.store().roster(user);
  if (!items) return;
  for (const auto& item : *items)
    if (item.from == SubscriptionState::active && item.contact.is_user()) notify(item.contact, u, 0);
}

void PresenceService::session_closed(SessionId session) {
  PARLEY_ASSERT_ON_CORE(core_);
  const SessionInfo* s = core_.sessions().find(session);
  if (!s) return;
  const Tuple* t = tuple_of(s->user, s->resource);
  if (!t) return;  // never published: nobody saw it, nobody needs to be told
  Tuple closed = *t;
  closed.basic = Basic::closed;
  closed.updated = Clock::now();
  publish(session, closed);
}

Presentity PresenceService::presentity(const Address& user) const {
  Presentity p;
  p.user = user.bare();
  if (const auto* open = tuples_of(user)) p.tuples = *open;
  return p;
}

const std::vector<Tuple>* PresenceService::tuples_of(const Address& user) const {
  auto it = tuples_.find(user.resource().empty() ? user : user.bare());
  return it == tuples_.end() || it->second.empty() ? nullptr : &it->second;
}

const Tuple* PresenceService::tuple_of(const Address& user, const std::string& resource) const {
  if (const auto* open = tuples_of(user))
    for (const auto& t : *open)
      if (t.id == resource) return &t;
  return nullptr;
}

// ---- subscriptions -------------------------------------------------------------------
// Each direction is stored twice, once per side (RFC 6121 §2.1.2): the watcher's item has
// `to`, the presentity's item has `from`. A foreign party has no item of its own.

Status PresenceService::subscribe(const Address& watcher_in, const Address& presentity_in) {
  PARLEY_ASSERT_ON_CORE(core_);
  const Address watcher = watcher_in.bare();
  const Address target = presentity_in.bare();
  if (watcher.is_room() || target.is_room() || watcher.empty() || target.empty())
    return make_error(Condition::bad_request, "subscriptions are between users");
  if (watcher == target) return make_error(Condition::bad_request, "cannot subscribe to oneself");
  const bool watcher_local = watcher.is_user();
  const bool target_local = target.is_user();
  if (watcher_local && !has_roster(watcher))
    return make_error(Condition::not_allowed, "guests have no roster");
  if (target_local && !has_roster(target)) return make_error(Condition::item_not_found, "no such user");

  Subscription sub{watcher, target, SubscriptionState::pending, {}};
  HookContext ctx;
  ctx.payload = &sub;
  if (core_.hooks().fire("presence/subscribe", ctx) == Verdict::deny) return ctx.deny_error;

  if (!target_local) {
    // Foreign presentity: the owning adapter carries the request; we remember it pending.
    RosterItem w = load_item(watcher, target);
    if (w.to == SubscriptionState::active) return {};
    w.to = SubscriptionState::pending;
    if (auto st = save(w); !st) return st;
    push_roster(w, false);
    return {};
  }

  RosterItem p = load_item(target, watcher);
  if (p.from == SubscriptionState::active) {
    // RFC 6121 §3.1.3: already subscribed: answer "subscribed" on the presentity's behalf.
    emit(watcher, SubscriptionEvent{target, watcher, SubscriptionAction::subscribed, {}});
    return {};
  }
  // Both rosters must have room before either changes.
  if (watcher_local)
    if (auto st = roster_room_for(watcher, target); !st) return st;
  const bool preapproved = p.approved;
  p.from = preapproved ? SubscriptionState::active : SubscriptionState::pending;
  p.approved = false;
  if (auto st = save(p); !st) return st;

  RosterItem w;
  if (watcher_local) {
    w = load_item(watcher, target);
    w.to = p.from;
    if (auto st = save(w); !st) return st;
    push_roster(w, false);
  }

  if (preapproved) {
    // RFC 6121 §3.4: a pre-approved request is answered at once.
    push_roster(p, false);
    emit(watcher, SubscriptionEvent{target, watcher, SubscriptionAction::subscribed, {}});
    if (watcher_local)
      for (SessionId id : core_.sessions().of_user(watcher))
        if (const SessionInfo* s = core_.sessions().find(id)) send_presence_of(*s->sink, target, false);
  } else {
    emit(target, SubscriptionEvent{watcher, target, SubscriptionAction::subscribe, {}});
  }
  return {};
}

Status PresenceService::authorize(const Address& presentity_in, const Address& watcher_in, bool allow) {
  PARLEY_ASSERT_ON_CORE(core_);
  const Address target = presentity_in.bare();
  const Address watcher = watcher_in.bare();
  if (!target.is_user() || !has_roster(target)) return make_error(Condition::not_allowed, "no roster");
  if (watcher.is_room() || watcher.empty() || watcher == target)
    return make_error(Condition::bad_request, "invalid contact");
  const bool watcher_local = watcher.is_user() && has_roster(watcher);

  RosterItem p = load_item(target, watcher);
  if (allow) {
    if (p.from == SubscriptionState::active) return {};
    if (p.from != SubscriptionState::pending) {
      // No request yet: record a pre-approval (RFC 6121 §3.4).
      p.approved = true;
      if (auto st = save(p); !st) return st;
      push_roster(p, false);
      return {};
    }
    p.from = SubscriptionState::active;
    p.approved = false;
    if (auto st = save(p); !st) return st;
    push_roster(p, false);
    if (watcher_local) {
      RosterItem w = load_item(watcher, target);
      w.to = SubscriptionState::active;
      if (auto st = save(w); !st) return st;
      push_roster(w, false);
    }
    emit(watcher, SubscriptionEvent{target, watcher, SubscriptionAction::subscribed, {}});
    if (watcher.is_user())
      for (SessionId id : core_.sessions().of_user(watcher))
        if (const SessionInfo* s = core_.sessions().find(id)) send_presence_of(*s->sink, target, false);
    return {};
  }

  // Deny, or cancel an existing subscription (RFC 6121 §3.2): terminated/rejected.
  const bool was_active = p.from == SubscriptionState::active;
  const bool was_live = is_live(p.from);
  if (!was_live && !p.approved) return {};  // nothing to deny: do not create an item
  p.approved = false;
  if (was_live) p.from = SubscriptionState::terminated;
  if (auto st = save(p); !st) return st;
  push_roster(p, false);
  if (!was_live) return {};
  if (watcher_local) {
    RosterItem w = load_item(watcher, target);
    w.to = SubscriptionState::terminated;
    if (auto st = save(w); !st) return st;
    push_roster(w, false);
  }
  emit(watcher, SubscriptionEvent{target, watcher, SubscriptionAction::unsubscribed, "rejected"});
  if (was_active && watcher.is_user()) send_offline_of(watcher, target);
  return {};
}

Status PresenceService::unsubscribe(const Address& watcher_in, const Address& presentity_in) {
  PARLEY_ASSERT_ON_CORE(core_);
  const Address watcher = watcher_in.bare();
  const Address target = presentity_in.bare();
  if (watcher.is_room() || target.is_room() || watcher.empty() || target.empty() || watcher == target)
    return make_error(Condition::bad_request, "subscriptions are between users");
  const bool watcher_local = watcher.is_user() && has_roster(watcher);
  const bool target_local = target.is_user() && has_roster(target);
  if (watcher.is_user() && !watcher_local) return make_error(Condition::not_allowed, "guests have no roster");

  bool was_active = false;
  if (watcher_local) {
    RosterItem w = load_item(watcher, target);
    was_active = w.to == SubscriptionState::active;
    if (w.to != SubscriptionState::none) {
      w.to = SubscriptionState::none;
      if (auto st = save(w); !st) return st;
      push_roster(w, false);
    }
  }
  if (target_local) {
    RosterItem p = load_item(target, watcher);
    was_active = was_active || p.from == SubscriptionState::active;
    if (p.from != SubscriptionState::none) {
      p.from = SubscriptionState::none;
      if (auto st = save(p); !st) return st;
      push_roster(p, false);
    }
    emit(target, SubscriptionEvent{watcher, target, SubscriptionAction::unsubscribe, {}});
  }
  if (was_active && watcher.is_user()) send_offline_of(watcher, target);
  return {};
}

Status PresenceService::probe(SessionId session, const Address& presentity_in) {
  PARLEY_ASSERT_ON_CORE(core_);
  const SessionInfo* s = core_.sessions().find(session);
  if (!s) return make_error(Condition::item_not_found, "no such session");
  const Address target = presentity_in.bare();
  if (!target.is_user()) return make_error(Condition::bad_request, "not a local user");
  if (target != s->user && (s->guest || state(s->user, target) != SubscriptionState::active))
    return make_error(Condition::not_authorized, "not subscribed");
  send_presence_of(*s->sink, target, true);
  return {};
}

void PresenceService::probe_all(SessionId session) {
  PARLEY_ASSERT_ON_CORE(core_);
  const SessionInfo* s = core_.sessions().find(session);
  if (!s || s->guest || !has_roster(s->user)) return;
  SessionSink& sink = *s->sink;
  auto items = core_.store().roster(s->user);
  if (!items) return;
  for (const auto& item : *items)
    if (item.to == SubscriptionState::active && item.contact.is_user())
      send_presence_of(sink, item.contact, false);
}

std::vector<Subscription> PresenceService::watchers(const Address& presentity_in) {
  std::vector<Subscription> out;
  const Address target = presentity_in.bare();
  if (!target.is_user()) return out;
  auto items = core_.store().roster(target);
  if (!items) return out;
  for (const auto& it : *items)
    if (it.from != SubscriptionState::none)
      out.push_back(
          {it.contact, target, it.from, it.from == SubscriptionState::terminated ? "rejected" : ""});
  return out;
}

std::vector<Subscription> PresenceService::watching(const Address& watcher_in) {
  std::vector<Subscription> out;
  const Address watcher = watcher_in.bare();
  if (!watcher.is_user()) return out;
  auto items = core_.store().roster(watcher);
  if (!items) return out;
  for (const auto& it : *items)
    if (it.to != SubscriptionState::none)
      out.push_back({watcher, it.contact, it.to, it.to == SubscriptionState::terminated ? "rejected" : ""});
  return out;
}

SubscriptionState PresenceService::state(const Address& watcher_in, const Address& presentity_in) {
  const Address watcher = watcher_in.bare();
  const Address target = presentity_in.bare();
  if (watcher.is_user() && has_roster(watcher)) return load_item(watcher, target).to;
  if (target.is_user() && has_roster(target)) return load_item(target, watcher).from;
  return SubscriptionState::none;
}

// ---- roster management ---------------------------------------------------------------

Result<std::vector<RosterItem>> PresenceService::roster(const Address& owner) {
  PARLEY_ASSERT_ON_CORE(core_);
  if (!has_roster(owner.bare())) return make_error(Condition::not_allowed, "no roster");
  return core_.store().roster(owner.bare());
}

Status PresenceService::set_roster_item(const Address& owner, const Address& contact, std::string name,
                                        std::vector<std::string> groups) {
  if (!has_roster(owner.bare())) return make_error(Condition::not_allowed, "no roster");
  if (contact.empty() || contact.is_room() || contact.bare() == owner.bare())
    return make_error(Condition::bad_request, "invalid contact");
  RosterItem item = load_item(owner, contact);
  item.name = std::move(name);
  item.groups = std::move(groups);
  if (auto st = save(item); !st) return st;
  push_roster(item, false);
  return {};
}

Status PresenceService::remove_roster_item(const Address& owner_in, const Address& contact_in) {
  PARLEY_ASSERT_ON_CORE(core_);
  const Address owner = owner_in.bare();
  const Address contact = contact_in.bare();
  if (!has_roster(owner)) return make_error(Condition::not_allowed, "no roster");
  RosterItem item = load_item(owner, contact);
  // RFC 6121 §2.5.3: removing the item cancels the subscription in both directions.
  if (is_live(item.to)) (void)unsubscribe(owner, contact);
  if (is_live(item.from)) (void)authorize(owner, contact, false);
  item = load_item(owner, contact);
  if (auto st = core_.store().delete_roster_item(owner, contact); !st) return st;
  push_roster(item, true);
  return {};
}

}  // namespace parley::core

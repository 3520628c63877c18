#include "adapters/sip/presence_agent.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "adapters/sip/presence_mapping.hpp"
#include "core/core.hpp"
#include "protocols/sip/pidf.hpp"
#include "protocols/sip/text.hpp"

namespace parley::adapters::sip {

namespace sipt = protocols::sip;

namespace {

void erase_id(std::vector<std::uint64_t>& v, std::uint64_t id) {
  v.erase(std::remove(v.begin(), v.end(), id), v.end());
}

}  // namespace

PresenceAgent::PresenceAgent(Runtime& rt, const config::SipConfig& cfg, std::string domain,
                             std::shared_ptr<Registrar> reg, SendNotify send)
    : rt_(rt),
      cfg_(cfg),
      domain_(std::move(domain)),
      reg_(std::move(reg)),
      send_(std::move(send)),
      rng_(std::random_device{}()),
      sweep_(rt.core_strand),
      fed_timer_(rt.core_strand) {}

PresenceAgent::~PresenceAgent() = default;

void PresenceAgent::start() {
  arm_sweep();
  if (!cfg_.federation.empty()) arm_fed_tick();
}

void PresenceAgent::stop() {
  stopped_ = true;
  sweep_.cancel();
  fed_timer_.cancel();
  federated_ = 0;
  for (auto& [id, s] : subs_)
    if (s->timer) s->timer->cancel();
  subs_.clear();
  by_watcher_.clear();
  by_presentity_.clear();
  pubs_.clear();
}

void PresenceAgent::arm_sweep() {
  if (stopped_) return;
  sweep_.expires_after(std::chrono::seconds(1));
  sweep_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = w.lock();
    if (!self || self->stopped_) return;
    try {
      self->expire(SteadyClock::now());
    } catch (const std::exception& e) {
      spdlog::error("sip: publication sweep: {}", e.what());
    }
    self->arm_sweep();
  });
}

std::string PresenceAgent::aor(const std::string& user) const {
  return "sip:" + sipt::escape_user(user) + "@" + domain_;
}

std::string PresenceAgent::new_etag() {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng_()),
                static_cast<unsigned long long>(rng_()));
  return buf;
}

// ---- PUBLISH (RFC 3903 §6, after authentication and the Event/Content-Type checks) ----

void PresenceAgent::apply_session(core::SessionId session) {
  if (!rt_.core.sessions().find(session)) return;
  const Publication* latest = nullptr;
  for (const auto& [tag, p] : pubs_)
    if (p.session == session && (!latest || p.order > latest->order)) latest = &p;
  const auto* info = rt_.core.sessions().find(session);
  core::Tuple t;
  if (latest) t = latest->tuple;
  t.id = info->resource;
  std::string user = info->user.id();
  rt_.core.presence().publish(session, t);
  // The core tells watchers and the user's other sessions, not the publishing one; a SIP
  // watcher whose only binding is that session (someone watching themselves) hears it here.
  for (auto& [id, s] : subs_)
    if (s->package == EventPackage::presence && s->active && s->presentity == user && s->watcher == user)
      schedule(*s);
}

SipReply PresenceAgent::publish(const PublishRequest& r, SteadyClock::time_point now) {
  const auto& ex = cfg_.event_expires;
  std::uint32_t seconds = r.expires ? *r.expires : ex.default_;
  if (seconds != 0 && seconds < ex.min)  // §6 step 5
    return {423, "Interval Too Brief", "Min-Expires: " + std::to_string(ex.min) + "\r\n"};
  seconds = std::min(seconds, ex.max);

  std::optional<sipt::PidfDocument> doc;
  if (!r.body.empty()) {
    doc = sipt::parse_pidf(r.body);
    if (!doc) return {400, "Bad PIDF Document", {}};
  }

  core::Tuple tuple;
  if (doc) tuple = tuple_of(*doc, true);  // a PUBLISH of activities alone is an open presence

  if (r.if_match.empty()) {  // §6 step 6: initial publication
    if (!doc) return {400, "Missing Body", {}};
    if (seconds == 0) return {400, "Expires 0 Without SIP-If-Match", {}};
    auto session = reg_->session_of(r.user, r.source);
    if (!session) return {403, "Register First", {}};
    std::size_t mine =
        std::count_if(pubs_.begin(), pubs_.end(), [&](const auto& p) { return p.second.user == r.user; });
    if (mine >= cfg_.max_publications) return {403, "Too Many Publications", {}};
    auto tag = new_etag();
    pubs_[tag] = Publication{r.user, session, tuple, now + std::chrono::seconds(seconds), ++pub_order_};
    apply_session(session);
    return {200, "OK", "SIP-ETag: " + tag + "\r\nExpires: " + std::to_string(seconds) + "\r\n"};
  }

  auto it = pubs_.find(r.if_match);
  if (it == pubs_.end() || it->second.user != r.user)  // §6 step 4
    return {412, "Conditional Request Failed", {}};
  auto pub = std::move(it->second);
  pubs_.erase(it);
  if (seconds == 0) {  // remove
    apply_session(pub.session);
    return {200, "OK", "Expires: 0\r\n"};
  }
  if (doc) {  // modify
    pub.tuple = tuple;
    pub.order = ++pub_order_;
  }
  pub.expires_at = now + std::chrono::seconds(seconds);
  auto tag = new_etag();  // §6 step 7: a fresh entity tag for the refreshed or modified state
  auto session = pub.session;
  pubs_[tag] = std::move(pub);
  if (doc) apply_session(session);
  return {200, "OK", "SIP-ETag: " + tag + "\r\nExpires: " + std::to_string(seconds) + "\r\n"};
}

void PresenceAgent::expire(SteadyClock::time_point now) {
  std::vector<core::SessionId> touched;
  for (auto it = pubs_.begin(); it != pubs_.end();) {
    bool gone = !rt_.core.sessions().find(it->second.session);
    if (gone || it->second.expires_at <= now) {
      if (!gone) touched.push_back(it->second.session);
      it = pubs_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto s : touched) apply_session(s);
}

// ---- SUBSCRIBE / NOTIFY (RFC 6665, RFC 3856, RFC 3857) ----

SipReply PresenceAgent::subscribe(const std::string& watcher, const std::string& source,
                                  const std::string& target, EventPackage package) {
  (void)source;
  if (!core::is_valid_local_name(target) || !rt_.core.directory().exists(target))
    return {404, "Not Found", {}};
  if (package == EventPackage::winfo && target != watcher)  // RFC 3857 §5.2: one's own watchers only
    return {403, "Forbidden", {}};
  // Changes reach the agent through the watcher's bindings' sessions (the core notifies
  // the sessions of active watchers): an unregistered watcher gets the first NOTIFY (and
  // the terminal one) but no updates until it registers. Not refused: UAs (baresip)
  // subscribe while their REGISTER is still in flight.
  auto& mine = by_watcher_[watcher];
  std::size_t count = mine.size();
  if (package == EventPackage::winfo) count += by_presentity_[watcher].size();
  if (count >= cfg_.max_subscriptions) return {403, "Too Many Subscriptions", {}};

  auto s = std::make_unique<Sub>();
  s->id = next_sub_++;
  s->watcher = watcher;
  s->presentity = target;
  s->package = package;
  s->timer = std::make_unique<boost::asio::steady_timer>(rt_.core_strand);
  if (package == EventPackage::presence) {
    auto w = core::Address::user(watcher), p = core::Address::user(target);
    bool allowed = watcher == target || rt_.core.presence().state(w, p) == core::SubscriptionState::active;
    if (!allowed) {
      // RFC 8048 §5: SIP SUBSCRIBE -> XMPP subscribe; pre-approval makes it active at once.
      if (auto st = rt_.core.presence().subscribe(w, p); !st) return reply_for(st.error());
      allowed = rt_.core.presence().state(w, p) == core::SubscriptionState::active;
    }
    s->active = allowed;
    // SIP has no authorisation channel but XCAP (which we do not serve): watching someone
    // is taken as allowing them to watch back (a pre-approval, RFC 6121 §3.4, as PSYC
    // friendship does), so an XMPP contact a SIP user watches can see the SIP user.
    if (watcher != target) (void)rt_.core.presence().authorize(w, p, true);
  } else {
    s->active = true;
  }
  SipReply r{s->active ? std::uint16_t{200} : std::uint16_t{202}, s->active ? "OK" : "Accepted", {}};
  r.sub_id = s->id;
  r.sub_active = s->active;
  s->last_body = render(*s, 0);
  r.body = package == EventPackage::winfo ? render(*s, s->winfo_version).str() : s->last_body.str();
  r.content_type = package == EventPackage::presence ? "application/pidf+xml" : "application/watcherinfo+xml";
  s->last_active = s->active;
  s->last_sent = SteadyClock::now();
  s->seq = 1;  // the first NOTIFY rides with the accept
  if (package == EventPackage::presence)
    mine.push_back(s->id);
  else
    by_presentity_[target].push_back(s->id);
  subs_.emplace(s->id, std::move(s));
  return r;
}

SipReply PresenceAgent::subscribe_federated(const std::string& watcher_aor, const std::string& target,
                                            std::size_t max_watchers) {
  if (!core::is_valid_local_name(target) || !rt_.core.directory().exists(target))
    return {404, "Not Found", {}};
  auto w = core::Address::foreign(watcher_aor);
  if (!w) return {400, "Bad From", {}};
  if (federated_ >= max_watchers) return {503, "Service Unavailable", "Retry-After: 60\r\n"};
  auto p = core::Address::user(target);
  // RFC 8048 §5: SUBSCRIBE -> a subscription request the presentity answers (XMPP:
  // <presence type='subscribe'/> from juliet\40remote@sip.DOMAIN); pre-approved: active.
  bool allowed = rt_.core.presence().state(*w, p) == core::SubscriptionState::active;
  if (!allowed) {
    if (auto st = rt_.core.presence().subscribe(*w, p); !st) return reply_for(st.error());
    allowed = rt_.core.presence().state(*w, p) == core::SubscriptionState::active;
  }
  auto s = std::make_unique<Sub>();
  s->id = next_sub_++;
  s->watcher = watcher_aor;  // "sip:...": never a local name, so by_watcher_ keys cannot clash
  s->presentity = target;
  s->package = EventPackage::presence;
  s->federated = true;
  s->timer = std::make_unique<boost::asio::steady_timer>(rt_.core_strand);
  s->active = allowed;
  SipReply r{allowed ? std::uint16_t{200} : std::uint16_t{202}, allowed ? "OK" : "Accepted", {}};
  r.sub_id = s->id;
  r.sub_active = allowed;
  s->last_body = render(*s, 0);
  r.body = s->last_body.str();
  r.content_type = "application/pidf+xml";
  s->last_active = s->active;
  s->last_sent = SteadyClock::now();
  s->seq = 1;
  by_watcher_[watcher_aor].push_back(s->id);
  subs_.emplace(s->id, std::move(s));
  ++federated_;
  spdlog::info("sip: federated watcher {} subscribed to {} ({})", watcher_aor, target,
               allowed ? "active" : "pending");
  return r;
}

void PresenceAgent::arm_fed_tick() {
  if (stopped_) return;
  fed_timer_.expires_after(std::chrono::milliseconds(250));
  fed_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = w.lock();
    if (!self || self->stopped_) return;
    try {
      self->fed_tick();
    } catch (const std::exception& e) {
      spdlog::error("sip: federated watchers: {}", e.what());
    }
    self->arm_fed_tick();
  });
}

void PresenceAgent::fed_tick() {
  if (!federated_) return;
  std::vector<std::uint64_t> ids;
  for (const auto& [id, s] : subs_)
    if (s->federated) ids.push_back(id);
  for (auto id : ids) {
    auto it = subs_.find(id);
    if (it == subs_.end()) continue;
    Sub& s = *it->second;
    auto w = core::Address::foreign(s.watcher);
    auto state =
        w ? rt_.core.presence().state(*w, core::Address::user(s.presentity)) : core::SubscriptionState::none;
    if (state == core::SubscriptionState::active) {
      s.active = true;
      schedule(s);  // sends only when the state or the document changed
    } else if (state != core::SubscriptionState::pending) {
      terminate(s, s.active ? "deactivated" : "rejected");  // refused or revoked
    }
  }
}

const SharedText& PresenceAgent::pidf_of(const std::string& user) const {
  // Once per watcher of a change: the presentity's tuples are compared where they live
  // (no copy); the document is rendered once per change and shared (SharedText).
  const auto address = core::Address::user(user);
  static const std::vector<core::Tuple> kOffline;
  const auto* live = rt_.core.presence().tuples_of(address);
  const std::vector<core::Tuple>& tuples = live ? *live : kOffline;
  auto cached = pidf_cache_.find(user);
  if (cached != pidf_cache_.end() && cached->second.tuples == tuples) return cached->second.body;
  if (cached == pidf_cache_.end()) {
    if (pidf_cache_.size() >= kPidfCacheMax) pidf_cache_.clear();
    cached = pidf_cache_.emplace(user, RenderedPidf{}).first;
  }
  ++pidf_renders_;
  core::Presentity p;
  p.user = address.bare();
  p.tuples = tuples;
  // RFC 3863 §4.1.2: the presentity's pres: URI.
  cached->second.body =
      sipt::render_pidf(pidf_document(p, "pres:" + sipt::escape_user(user) + "@" + domain_));
  cached->second.tuples = std::move(p.tuples);
  return cached->second.body;
}

SharedText PresenceAgent::render(const Sub& s, std::uint32_t version) const {
  if (s.package == EventPackage::presence) {
    if (!s.active) return {};  // RFC 3856 §6.6.2: a pending subscription learns nothing
    return pidf_of(s.presentity);
  }
  std::vector<sipt::WatcherEntry> list;
  for (const auto& w : rt_.core.presence().watchers(core::Address::user(s.presentity))) {
    sipt::WatcherEntry e;
    e.id = w.watcher.id();
    // A federated watcher is already a URI (sip:juliet@remote); only local names get ours.
    e.uri = w.watcher.is_foreign() ? w.watcher.id() : aor(w.watcher.id());
    switch (w.state) {
      case core::SubscriptionState::active:
        e.status = "active", e.event = "approved";
        break;
      case core::SubscriptionState::pending:
        e.status = "pending", e.event = "subscribe";
        break;
      case core::SubscriptionState::terminated:
        e.status = "terminated", e.event = w.reason.empty() ? "deactivated" : w.reason;
        break;
      case core::SubscriptionState::none:
        continue;
    }
    if (e.event != "approved" && e.event != "subscribe" && e.event != "deactivated" &&
        e.event != "probation" && e.event != "rejected" && e.event != "timeout" && e.event != "giveup" &&
        e.event != "noresource")
      e.event = "deactivated";  // RFC 3858 §5.4's list only
    list.push_back(std::move(e));
  }
  return sipt::render_watcherinfo(aor(s.presentity), version, true, list);
}

void PresenceAgent::schedule(Sub& s) {
  auto now = SteadyClock::now();
  auto interval = std::chrono::milliseconds(cfg_.notify_interval_ms);
  if (now - s.last_sent >= interval) return send_now(s);
  if (s.timer_armed) return;  // the timer sends the state as it is then
  s.timer_armed = true;
  s.timer->expires_at(s.last_sent + interval);
  s.timer->async_wait([w = weak_from_this(), id = s.id](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = w.lock();
    if (!self || self->stopped_) return;
    auto it = self->subs_.find(id);
    if (it == self->subs_.end()) return;
    it->second->timer_armed = false;
    self->send_now(*it->second);
  });
}

void PresenceAgent::send_now(Sub& s) {
  // Compared without the winfo version (RFC 3858 §4.4 counts documents sent, so it is
  // only taken for a document that goes out).
  // The presence document is the cache's shared one: equal by pointer unless it changed.
  auto key = render(s, 0);
  if (key == s.last_body && s.active == s.last_active) return;  // e.g. a second binding heard it too
  s.last_body = key;
  s.last_active = s.active;
  s.last_sent = SteadyClock::now();
  OutNotify n;
  n.sub_id = s.id;
  n.seq = ++s.seq;
  n.state = s.active ? OutNotify::State::active : OutNotify::State::pending;
  n.body = s.package == EventPackage::winfo ? render(s, ++s.winfo_version) : std::move(key);
  n.content_type =
      s.package == EventPackage::presence ? "application/pidf+xml" : "application/watcherinfo+xml";
  send_(std::move(n));
}

void PresenceAgent::terminate(Sub& s, std::string reason) {
  OutNotify n;
  n.sub_id = s.id;
  n.seq = ++s.seq;
  n.state = OutNotify::State::terminated;
  n.reason = std::move(reason);
  send_(std::move(n));
  subscription_ended(s.id);  // s is gone
}

void PresenceAgent::subscription_ended(std::uint64_t sub_id) {
  auto it = subs_.find(sub_id);
  if (it == subs_.end()) return;
  auto& s = *it->second;
  if (s.timer) s.timer->cancel();
  auto drop = [&](auto& index, const std::string& key) {
    auto i = index.find(key);
    if (i == index.end()) return;
    erase_id(i->second, sub_id);
    if (i->second.empty()) index.erase(i);
  };
  drop(by_watcher_, s.watcher);
  drop(by_presentity_, s.presentity);
  if (s.federated) --federated_;
  subs_.erase(it);
}

void PresenceAgent::on_presence(const std::string& user, const core::PresenceUpdate& p) {
  auto it = by_watcher_.find(user);
  if (it == by_watcher_.end()) return;
  const auto& presentity = p.from.id();
  for (auto id : it->second) {
    auto s = subs_.find(id);
    if (s != subs_.end() && s->second->active && s->second->presentity == presentity) schedule(*s->second);
  }
}

void PresenceAgent::on_subscription(const std::string& user, const core::SubscriptionEvent& e) {
  using A = core::SubscriptionAction;
  if (e.action == A::subscribe || e.action == A::unsubscribe) {
    // Someone (un)subscribed to `user`: its watcher lists changed (RFC 3857).
    if (auto it = by_presentity_.find(user); it != by_presentity_.end())
      for (auto id : std::vector<std::uint64_t>(it->second))
        if (auto s = subs_.find(id); s != subs_.end()) schedule(*s->second);
    return;
  }
  // An answer from presentity e.from to watcher `user`.
  auto it = by_watcher_.find(user);
  if (it == by_watcher_.end()) return;
  for (auto id : std::vector<std::uint64_t>(it->second)) {
    auto s = subs_.find(id);
    if (s == subs_.end() || s->second->presentity != e.from.id()) continue;
    if (e.action == A::subscribed) {
      // RFC 8048 §5: XMPP subscribed -> NOTIFY active with the current state.
      s->second->active = true;
      schedule(*s->second);
    } else {
      // unsubscribed: refused (pending) or revoked (active) -> terminated.
      terminate(*s->second, s->second->active ? "deactivated" : "rejected");
    }
  }
}

}  // namespace parley::adapters::sip

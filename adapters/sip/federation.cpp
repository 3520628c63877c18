#include "adapters/sip/federation.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "adapters/sip/presence_mapping.hpp"
#include "core/core.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/sip/text.hpp"

namespace parley::adapters::sip {

namespace sipt = protocols::sip;

namespace {

// "192.0.2.1, 2001:db8::1", for log lines.
std::string ip_list(const std::vector<ProxyIp>& ips) {
  std::string out;
  for (const auto& a : ips) out += (out.empty() ? "" : ", ") + a.ip;
  return out;
}

constexpr std::size_t kMaxAorUser = 128;
constexpr std::size_t kMaxAorHost = 253;
constexpr auto kTick = std::chrono::milliseconds(250);

}  // namespace

std::optional<SipAor> parse_sip_aor(std::string_view uri) {
  if (uri.size() < 4 || !protocols::ascii_equal_fold(uri.substr(0, 4), "sip:")) return std::nullopt;
  uri.remove_prefix(4);
  auto at = uri.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == uri.size()) return std::nullopt;
  SipAor a{std::string(uri.substr(0, at)), std::string(uri.substr(at + 1))};
  if (a.user.size() > kMaxAorUser || a.host.size() > kMaxAorHost) return std::nullopt;
  // RFC 3261 §25.1 user: unreserved, escaped and a few marks; none of the delimiters.
  for (unsigned char c : a.user)
    if (c <= 0x20 || c >= 0x7f || c == '@' || c == ';' || c == '?' || c == '<' || c == '>' || c == ':' ||
        c == '"' || c == '\\')
      return std::nullopt;
  for (char& c : a.host) {
    c = protocols::ascii_lower(c);
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return std::nullopt;
  }
  return a;
}

NotifyVetting vet_notify_body(bool pidf_content_type, std::string_view body) {
  NotifyVetting v;
  if (body.empty()) return v;  // RFC 3856 §6.6.2: a pending subscription carries no state
  if (!pidf_content_type) return {415, "Unsupported Media Type", std::nullopt};
  if (body.size() > sipt::kMaxPresenceDocument) return {413, "Request Entity Too Large", std::nullopt};
  v.doc = sipt::parse_pidf(body);
  if (!v.doc) return {400, "Bad PIDF Document", std::nullopt};
  return v;
}

Federation::Federation(Runtime& rt, const config::SipConfig& cfg, std::string local_domain, Ops ops)
    : rt_(rt),
      cfg_(cfg),
      domain_(std::move(local_domain)),
      ops_(std::move(ops)),
      remotes_per_entry_(cfg_.federation.size(), 0),
      timer_(rt.core_strand),
      resolver_(rt.core_strand) {
  for (const auto& f : cfg_.federation) {
    // The loader checked it (config/sip_psyc_config.cpp); a config built in code that is
    // wrong gets a name that never resolves (logged at each attempt), not a crash.
    std::string why;
    auto a = protocols::parse_proxy_address(f.proxy, &why);
    if (!a) {
      spdlog::error("sip federation {}: {}", f.domain, why);
      a = protocols::ProxyAddress{protocols::Transport::udp, "proxy.invalid", 5060, false, true};
    }
    lookups_.emplace_back(*a);
  }
  lookup_warned_.resize(lookups_.size());
}

Federation::~Federation() = default;

const config::SipFederation* Federation::entry_for(std::string_view domain) const {
  for (const auto& f : cfg_.federation)
    if (protocols::ascii_equal_fold(f.domain, domain)) return &f;
  return nullptr;
}

FedTarget Federation::target(std::size_t entry) const {
  const auto& f = cfg_.federation[entry];
  const auto& l = lookups_[entry];
  return FedTarget{loose_route(l.proxy(), l.address()),
                   l.proxy().transport == protocols::Transport::tls ? l.proxy().host : std::string(), f.user,
                   f.password};
}

ProxyLookup::State Federation::need(std::size_t entry, FedClock::time_point now) {
  auto n = lookups_[entry].need(now);
  if (!n.start) return n.state;
  const auto& proxy = lookups_[entry].proxy();
  spdlog::debug("sip federation {}: looking up {}", cfg_.federation[entry].domain, proxy.host);
  resolver_.async_resolve(
      proxy.host, std::to_string(proxy.port), boost::asio::ip::resolver_base::numeric_service,
      [w = weak_from_this(), entry](const boost::system::error_code& ec,
                                    const boost::asio::ip::udp::resolver::results_type& r) {
        if (auto self = w.lock(); self && !self->stopped_) self->looked_up(entry, ec, r);
      });
  return n.state;
}

void Federation::looked_up(std::size_t entry, const boost::system::error_code& ec,
                           const boost::asio::ip::udp::resolver::results_type& results) {
  auto now = FedClock::now();
  auto& l = lookups_[entry];
  const auto& f = cfg_.federation[entry];
  if (ec) {
    l.failed(ec.message(), now);
    // Once a minute per entry at warning level (a misconfigured name fails a lookup up to
    // every 2 s while subscriptions keep coming due); in between at debug level.
    auto& w = lookup_warned_[entry];
    if (w.error != l.error() || now - w.at >= std::chrono::minutes(1)) {
      spdlog::warn(
          "sip federation {}: proxy {} does not resolve ({}); requests through it fail and the next "
          "attempt after the backoff looks it up again ({} failed lookups since the last warning)",
          f.domain, l.proxy().str(), l.error(), w.since);
      w = {now, l.error(), 0};
    } else {
      ++w.since;
      spdlog::debug("sip federation {}: proxy {} still does not resolve ({})", f.domain, l.proxy().str(),
                    l.error());
    }
  } else {
    std::vector<ProxyIp> all;
    for (const auto& e : results) {
      auto a = e.endpoint().address();
      all.push_back({a.to_string(), a.is_v6()});
    }
    lookup_warned_[entry] = {};
    auto usable = usable_addresses(all, l.proxy().transport, cfg_.listen);
    bool changed = usable != l.addresses();
    l.resolved(usable, now,
               "it resolves to " + ip_list(all) + ", no address family sip.listen has a " +
                   std::string(protocols::to_string(l.proxy().transport)) + ": address for");
    if (l.addresses().empty()) {
      spdlog::warn("sip federation {}: proxy {}: {}; requests through it fail", f.domain, l.proxy().str(),
                   l.error());
    } else {
      if (changed)
        spdlog::info("sip federation {}: proxy {} is at {}", f.domain, l.proxy().str(), ip_list(usable));
      if (changed && ops_.peers) ops_.peers(entry, l.addresses());
    }
  }
  tick(now);  // what waited for it goes (or fails) now
}

void Federation::proxy_failed(std::size_t entry, std::uint16_t code) {
  if (entry < lookups_.size()) lookups_[entry].request_failed(code == 0 || code == 408 || code == 503);
}

void Federation::send_held_messages(FedClock::time_point now) {
  std::vector<std::uint64_t> failed;
  for (auto& [id, o] : msgs_) {
    if (!o.held) continue;
    auto st = need(o.entry, now);
    if (st == ProxyLookup::State::pending) continue;
    if (st == ProxyLookup::State::failed) {
      failed.push_back(id);
      continue;
    }
    FedMessage m = std::move(*o.held);
    o.held.reset();
    m.target = target(o.entry);
    ops_.message(std::move(m));
  }
  for (auto id : failed) {
    auto it = msgs_.find(id);
    if (it == msgs_.end()) continue;
    it->second.held.reset();
    message_answered(id, 0,
                     "proxy " + lookups_[it->second.entry].proxy().host +
                         " does not resolve: " + lookups_[it->second.entry].error());
  }
}

void Federation::start() {
  if (cfg_.federation.empty()) return;
  stopped_ = false;
  std::uint64_t seed = std::random_device{}();
  for (std::size_t i = 0; i < cfg_.federation.size(); ++i) {
    const auto& f = cfg_.federation[i];
    for (const auto& p : f.publish) {
      if (!rt_.core.directory().exists(p.account)) {
        spdlog::warn("sip federation {}: publish: no account {}", f.domain, p.account);
        continue;
      }
      std::string aor = p.aor.empty() ? "sip:" + p.account + "@" + f.domain : p.aor;
      pubs_.push_back(
          Pub{p.account, aor, i, PublishSchedule(federation_backoff(f.backoff_max), seed++), 0, false});
    }
  }
  // Every named proxy is looked up now, whether or not anything is due through it yet.
  for (std::size_t i = 0; i < lookups_.size(); ++i) (void)need(i, FedClock::now());
  scan_rosters();
  rt_.core.router().add_route(core::Protocol::sip, this);
  // Later subscriptions to remote SIP presentities (XMPP <presence type='subscribe'/>).
  hook_ = rt_.core.hooks().add("presence/subscribe", 0, "sip-federation", [this](core::HookContext& ctx) {
    const auto* s = static_cast<const core::Subscription*>(ctx.payload);
    if (!s || !s->watcher.is_user() || !s->presentity.is_foreign() ||
        s->presentity.protocol() != core::Protocol::sip)
      return core::Verdict::pass;
    auto aor = parse_sip_aor(s->presentity.id());
    if (!aor || !entry_for(aor->host)) return core::Verdict::pass;
    if (!watch(s->watcher.id(), *aor)) {
      ctx.deny_error = core::make_error(core::Condition::resource_constraint,
                                        "too many remote SIP presentities watched through " + aor->host);
      return core::Verdict::deny;
    }
    return core::Verdict::pass;
  });
  tick(FedClock::now());
  arm();
}

std::size_t Federation::stop() {
  if (stopped_) return 0;
  stopped_ = true;
  hook_.reset();
  rt_.core.router().remove_route(core::Protocol::sip);
  timer_.cancel();
  resolver_.cancel();
  for (auto& [key, r] : remotes_)
    if (r.id) ops_.unsubscribe(r.id);
  remotes_.clear();
  std::fill(remotes_per_entry_.begin(), remotes_per_entry_.end(), 0);
  by_id_.clear();
  std::size_t withdrawn = 0;
  for (const auto& p : pubs_) {
    if (!p.sched.published()) continue;
    if (lookups_[p.entry].addresses().empty()) continue;  // its name no longer resolves
    spdlog::info("sip federation: withdrawing the publication of {} as {}", p.account, p.aor);
    ops_.publish(FedPublish{next_id_++, p.aor, 0, p.sched.etag(), {}, target(p.entry)});
    ++withdrawn;
  }
  pubs_.clear();
  msgs_.clear();
  return withdrawn;
}

void Federation::scan_rosters() {
  auto users = rt_.core.directory().list();
  if (!users) return;
  for (const auto& u : *users) {
    auto items = rt_.core.store().roster(core::Address::user(u));
    if (!items) continue;
    for (const auto& it : *items) {
      if (!it.contact.is_foreign() || it.contact.protocol() != core::Protocol::sip) continue;
      if (it.to != core::SubscriptionState::pending && it.to != core::SubscriptionState::active) continue;
      auto aor = parse_sip_aor(it.contact.id());
      if (aor && entry_for(aor->host) && !watch(u, *aor))
        spdlog::warn("sip federation: {} not watched for {}: max_subscriptions reached", aor->str(), u);
    }
  }
}

bool Federation::watch(const std::string& watcher, const SipAor& presentity) {
  const auto* f = entry_for(presentity.host);
  if (!f || stopped_) return false;
  auto key = presentity.str();
  auto it = remotes_.find(key);
  if (it == remotes_.end()) {
    std::size_t entry = static_cast<std::size_t>(f - cfg_.federation.data());
    if (remotes_per_entry_[entry] >= f->max_subscriptions) return false;
    Remote r{presentity, entry,
             {},         ResubscribeSchedule(federation_backoff(f->backoff_max), std::random_device{}()),
             0,          std::nullopt,
             {}};
    it = remotes_.emplace(key, std::move(r)).first;
    ++remotes_per_entry_[entry];
  }
  it->second.watchers.insert(watcher);
  return true;
}

std::size_t Federation::live_subscriptions() const {
  return static_cast<std::size_t>(std::count_if(remotes_.begin(), remotes_.end(),
                                                [](const auto& r) { return r.second.sched.established(); }));
}

void Federation::arm() {
  if (stopped_) return;
  timer_.expires_after(kTick);
  timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = w.lock();
    if (!self || self->stopped_) return;
    try {
      self->tick(FedClock::now());
    } catch (const std::exception& e) {
      spdlog::error("sip federation: tick: {}", e.what());
    }
    self->arm();
  });
}

void Federation::tick(FedClock::time_point now) {
  for (auto it = remotes_.begin(); it != remotes_.end();) {
    Remote& r = it->second;
    if (r.watchers.empty()) {  // nobody watches any more: RFC 6665 §4.1.2.3 unsubscribe
      if (r.id) {
        by_id_.erase(r.id);
        ops_.unsubscribe(r.id);
      }
      --remotes_per_entry_[r.entry];
      it = remotes_.erase(it);
      continue;
    }
    const auto& fe = cfg_.federation[r.entry];
    if (r.id && now - r.heard > std::chrono::seconds(fe.expires) + std::chrono::seconds(5)) {
      spdlog::info("sip federation: no NOTIFY for {} s from {}: subscribing afresh", fe.expires + 5,
                   r.aor.str());
      by_id_.erase(r.id);
      ops_.unsubscribe(r.id);
      r.id = 0;
      r.sched.ended(now);
      proxy_failed(r.entry, 0);
    }
    if (r.sched.due(now)) r.starting = true;
    if (r.starting) {
      auto st = need(r.entry, now);
      if (st == ProxyLookup::State::failed) {  // logged once per lookup; this one waits again
        r.starting = false;
        r.sched.ended(now);
        spdlog::debug("sip federation: not subscribing to {}: its proxy does not resolve", r.aor.str());
      } else if (st == ProxyLookup::State::ready) {
        r.starting = false;
        r.id = next_id_++;
        r.heard = now;
        by_id_[r.id] = it->first;
        const auto& f = cfg_.federation[r.entry];
        std::string from = f.user.empty() ? "sip:parley@" + domain_ : "sip:" + f.user + "@" + f.domain;
        ops_.subscribe(FedSubscribe{r.id, r.aor.str(), from, f.expires, target(r.entry)});
      }
    }
    if (r.last) deliver(r, false);  // sessions that opened since
    ++it;
  }
  for (auto& p : pubs_) {
    p.sched.set_body(pidf_for(p));
    if (!p.held) p.held = p.sched.due(now);
    if (!p.held) continue;
    auto st = need(p.entry, now);
    if (st == ProxyLookup::State::failed) {  // as if the PUBLISH had no answer: backoff
      p.held.reset();
      p.sched.answered(0, {}, 0, now);
      p.logged = false;
    } else if (st == ProxyLookup::State::ready) {
      p.id = next_id_++;
      ops_.publish(FedPublish{p.id, p.aor, cfg_.federation[p.entry].expires, std::move(p.held->etag),
                              std::move(p.held->body), target(p.entry)});
      p.held.reset();
    }
  }
  send_held_messages(now);
}

void Federation::deliver(Remote& r, bool to_all) {
  auto contact = core::Address::foreign(r.aor.str());
  if (!contact || !r.last) return;
  core::PresenceUpdate u{*contact, *r.last, *r.last};
  std::set<core::SessionId> told;
  for (const auto& w : r.watchers)
    for (auto sid : rt_.core.sessions().of_user(core::Address::user(w))) {
      told.insert(sid);
      if (!to_all && r.told.count(sid)) continue;
      if (const auto* s = rt_.core.sessions().find(sid); s && s->sink) s->sink->on_presence(u);
    }
  r.told = std::move(told);
}

void Federation::notified(std::uint64_t id, SubState state, std::optional<sipt::PidfDocument> doc) {
  auto k = by_id_.find(id);
  if (k == by_id_.end()) return;
  auto it = remotes_.find(k->second);
  if (it == remotes_.end()) return;
  Remote& r = it->second;
  r.heard = FedClock::now();
  if (!r.sched.established()) {
    r.sched.established(FedClock::now());
    spdlog::info("sip federation: subscribed to {} ({})", r.aor.str(),
                 state == SubState::active    ? "active"
                 : state == SubState::pending ? "pending"
                                              : "terminated");
  }
  if (state != SubState::active || !doc) return;
  // The remote server authorised us: pending roster subscriptions become active; a
  // watcher whose roster no longer watches is dropped.
  auto contact = core::Address::foreign(r.aor.str());
  if (!contact) return;
  for (auto w = r.watchers.begin(); w != r.watchers.end();) {
    auto owner = core::Address::user(*w);
    auto items = rt_.core.store().roster(owner);
    const core::RosterItem* item = nullptr;
    if (items)
      for (const auto& i : *items)
        if (i.contact == *contact) item = &i;
    if (!item ||
        (item->to != core::SubscriptionState::pending && item->to != core::SubscriptionState::active)) {
      w = r.watchers.erase(w);
      continue;
    }
    if (item->to == core::SubscriptionState::pending) {
      core::RosterItem up = *item;
      up.to = core::SubscriptionState::active;
      if (rt_.core.store().put_roster_item(up))
        for (auto sid : rt_.core.sessions().of_user(owner))
          if (const auto* s = rt_.core.sessions().find(sid); s && s->sink) s->sink->on_roster_push(up, false);
    }
    ++w;
  }
  r.last = tuple_of(*doc);
  deliver(r, true);
}

void Federation::subscription_ended(std::uint64_t id, std::uint16_t code, const std::string& why) {
  auto k = by_id_.find(id);
  if (k == by_id_.end()) return;
  auto it = remotes_.find(k->second);
  by_id_.erase(k);
  if (it == remotes_.end()) return;
  Remote& r = it->second;
  auto now = FedClock::now();
  r.id = 0;
  r.sched.ended(now);
  proxy_failed(r.entry, code);
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(r.sched.retry_at() - now).count();
  spdlog::info("sip federation: subscription to {} ended ({} {}); next attempt in {} ms", r.aor.str(), code,
               why, wait);
}

void Federation::published(std::uint64_t id, std::uint16_t code, std::string etag, std::uint32_t expires) {
  for (auto& p : pubs_) {
    if (p.id != id || !p.sched.in_flight()) continue;
    p.id = 0;
    auto now = FedClock::now();
    p.sched.answered(code, std::move(etag), expires, now);
    if (code >= 200 && code < 300) {
      spdlog::debug("sip federation: published {} as {} ({})", p.account, p.aor, code);
      if (!p.logged) spdlog::info("sip federation: publishing {} as {}", p.account, p.aor);
      p.logged = true;
    } else {
      p.logged = false;
      if (code != 412) proxy_failed(p.entry, code);  // 412: the server forgot the entity tag
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(p.sched.retry_at() - now).count();
      spdlog::warn("sip federation: PUBLISH of {} as {} failed ({}); next attempt in {} ms", p.account, p.aor,
                   code, std::max<long long>(0, wait));
    }
    return;
  }
}

SipReply Federation::receive_message(const std::string& from_uri, const std::string& to, std::string body,
                                     std::string subject, std::string call_id) {
  auto aor = parse_sip_aor(from_uri);
  if (!aor || !entry_for(aor->host)) return {403, "Forbidden", {}};
  if (!core::is_valid_local_name(to) || !rt_.core.directory().exists(to)) return {404, "Not Found", {}};
  auto from = core::Address::foreign(aor->str());
  if (!from) return {400, "Bad From", {}};
  core::Message m;
  m.kind = core::MessageKind::direct;
  m.from = *from;
  m.to = core::Address::user(to);
  m.body = std::move(body);
  if (!subject.empty()) m.subject = std::move(subject);
  m.thread = call_id.size() <= 64 ? std::move(call_id) : std::string();  // RFC 7572 §6
  m.origin.protocol = core::Protocol::sip;
  if (auto st = rt_.core.router().send(std::move(m)); !st) return reply_for(st.error());
  return {200, "OK", {}};
}

std::string Federation::from_aor(std::size_t entry, const std::string& account) const {
  const auto& f = cfg_.federation[entry];
  for (const auto& p : f.publish)
    if (p.account == account) return p.aor.empty() ? "sip:" + account + "@" + f.domain : p.aor;
  return "sip:" + sipt::escape_user(account) + "@" + domain_;
}

core::Status Federation::deliver(const core::MessagePtr& m) {
  if (stopped_) return core::make_error(core::Condition::service_unavailable, "sip federation stopped");
  auto aor = parse_sip_aor(m->to.id());
  const auto* f = aor ? entry_for(aor->host) : nullptr;
  if (!f)
    return core::make_error(core::Condition::remote_server_not_found,
                            "no sip.federation entry for " + (aor ? aor->host : m->to.id()));
  if (!m->from.is_user()) return core::make_error(core::Condition::not_allowed, "only local users send here");
  // Pager mode carries text; chat states without a body are not sent (RFC 3994 would
  // need one MESSAGE each, through a proxy that bills them as messages).
  if (m->body.empty()) return {};
  if (msgs_.size() >= kMaxFedMessagesInFlight)
    return core::make_error(core::Condition::resource_constraint, "too many SIP MESSAGEs in flight");
  std::size_t entry = static_cast<std::size_t>(f - cfg_.federation.data());
  // Unresolvable just now (the last lookup failed < 2 s ago): what a MESSAGE nobody
  // answered gets (RFC 7572 §5, error_for_status(0)); a lookup running: it waits for it.
  auto st = need(entry, FedClock::now());
  if (st == ProxyLookup::State::failed)
    return error_for_status(0, "proxy " + lookups_[entry].proxy().host + " does not resolve");
  FedMessage out;
  out.id = next_id_++;
  out.uri = aor->str();
  out.from_uri = from_aor(entry, m->from.id());
  out.body = m->kind == core::MessageKind::action ? "* " + m->from.id() + " " + m->body : m->body;
  if (out.body.size() > cfg_.max_message) out.body.resize(cfg_.max_message);  // RFC 3428 §8 pager size
  if (m->subject) out.subject = sipt::header_safe(*m->subject);
  OutMsg o{m->origin.session, m->origin_id.empty() ? m->id : m->origin_id, out.uri, entry, std::nullopt};
  if (st == ProxyLookup::State::pending) {
    std::uint64_t id = out.id;
    o.held = std::move(out);
    msgs_[id] = std::move(o);
    return {};
  }
  out.target = target(entry);
  msgs_[out.id] = std::move(o);
  ops_.message(std::move(out));
  return {};
}

void Federation::message_answered(std::uint64_t id, std::uint16_t code, const std::string& why) {
  auto it = msgs_.find(id);
  if (it == msgs_.end()) return;
  OutMsg o = std::move(it->second);
  msgs_.erase(it);
  if (code >= 200 && code < 300) return;
  if (code == 0 || code == 408 || code == 503) proxy_failed(o.entry, code);
  spdlog::info("sip federation: MESSAGE to {} failed: {} {}", o.to, code, why);
  if (!o.origin) return;
  if (const auto* s = rt_.core.sessions().find(o.origin); s && s->sink)
    s->sink->on_error(o.ref_id, error_for_status(code, why));
}

std::string Federation::pidf_for(const Pub& p) const {
  auto who = rt_.core.presence().presentity(core::Address::user(p.account));
  return sipt::render_pidf(pidf_document(who, "pres:" + p.aor.substr(4)));  // RFC 3863 §4.1.2
}

}  // namespace parley::adapters::sip

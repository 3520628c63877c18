#include "adapters/sip/registrar.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "adapters/common/post_guarded.hpp"
#include "core/core.hpp"
#include "protocols/sip/pidf.hpp"
#include "protocols/sip/text.hpp"

namespace parley::adapters::sip {

namespace sipt = protocols::sip;

SipReply reply_for(const core::Error& e) {
  using C = core::Condition;
  switch (e.condition) {
    case C::item_not_found:
    case C::malformed_address:
    case C::remote_server_not_found:
      return {404, "Not Found", {}};
    case C::recipient_unavailable:
      return {480, "Temporarily Unavailable", {}};
    case C::forbidden:
    case C::not_allowed:
    case C::registration_required:
      return {403, "Forbidden", {}};
    case C::not_authorized:
      return {403, "Forbidden", {}};
    case C::policy_violation:
    case C::resource_constraint:
      return {503, "Service Unavailable", "Retry-After: 30\r\n"};
    case C::not_acceptable:
      return {488, "Not Acceptable Here", {}};
    case C::bad_request:
      return {400, "Bad Request", {}};
    case C::service_unavailable:
      return {503, "Service Unavailable", {}};
    default:
      return {500, "Server Internal Error", {}};
  }
}

core::Error error_for_status(std::uint16_t code, std::string_view reason) {
  using C = core::Condition;
  std::string text = "SIP " + std::to_string(code) + " " + sipt::header_safe(reason, 64);
  C c = C::undefined_condition;
  if (code == 0)
    c = C::recipient_unavailable;  // no answer at all (timeout, transport error)
  else if (code == 404 || code == 410 || code == 604)
    c = C::item_not_found;
  else if (code == 480 || code == 408 || code == 486 || code == 600)
    c = C::recipient_unavailable;
  else if (code == 401 || code == 407)
    c = C::not_authorized;
  else if (code == 403 || code == 603)
    c = C::forbidden;
  else if (code == 413 || code == 415 || code == 488 || code == 606)
    c = C::not_acceptable;
  else if (code == 400)
    c = C::bad_request;
  else if (code >= 500)
    c = C::service_unavailable;
  return core::make_error(c, std::move(text));
}

// ---- one binding: a core session whose deliveries become MESSAGEs ----

struct Registrar::Binding final : core::SessionSink {
  Registrar& reg;
  std::string user, uri, call_id, resource, source;
  std::uint32_t cseq = 0;
  SteadyClock::time_point expires_at;
  core::SessionId session = 0;

  Binding(Registrar& r, std::string u, std::string contact)
      : reg(r), user(std::move(u)), uri(std::move(contact)) {}

  void on_message(const core::MessagePtr& m) override {
    // Direct messages only (a binding joins no rooms); no echo of what this user sent;
    // of bodiless stanzas only chat states (XEP-0085 -> RFC 3994 isComposing).
    if (m->to.is_room() || m->origin.session == session) return;
    if (m->from.bare() == core::Address::user(user)) return;  // a copy of the user's own message
    OutMessage out;
    if (m->body.empty()) {
      if (m->chat_state == core::ChatState::none) return;
      sipt::IsComposing c;
      c.active = m->chat_state == core::ChatState::composing;
      c.content_type = "text/plain";
      c.refresh = c.active ? 60 : 0;
      out.body = sipt::render_is_composing(c);
      out.content_type = "application/im-iscomposing+xml";
    }
    out.target = uri;
    out.from_uri = "sip:" + sipt::escape_user(m->from.id()) + "@" + reg.domain_;
    out.to_uri = "sip:" + sipt::escape_user(user) + "@" + reg.domain_;
    if (!m->body.empty())
      out.body = m->kind == core::MessageKind::action ? "* " + m->from.id() + " " + m->body : m->body;
    if (out.body.size() > reg.cfg_.max_message)
      out.body.resize(reg.cfg_.max_message);  // RFC 3428 §8 pager size
    if (m->subject) out.subject = sipt::header_safe(*m->subject);
    out.ref_id = m->origin_id.empty() ? m->id : m->origin_id;
    out.origin = m->origin.session;
    reg.send_(std::move(out));
  }
  void on_presence(const core::PresenceUpdate& p) override {
    if (reg.events_) reg.events_->on_presence(user, p);
  }
  void on_subscription(const core::SubscriptionEvent& e) override {
    if (reg.events_) reg.events_->on_subscription(user, e);
  }
  void on_room_join(const core::Room&, const core::Member&, bool) override {}
  void on_room_leave(const core::Room&, const core::Member&, const core::LeaveReason&, bool) override {}
  void on_terminate(const std::string& reason) override {
    session = 0;  // the core closed it already
    // Not from inside the core's loop over sessions: drop the binding afterwards.
    post_guarded(reg.rt_.core_strand, "sip: binding terminated",
                 [w = reg.weak_from_this(), user = user, uri = uri, reason] {
                   if (auto r = w.lock()) r->remove(user, uri, reason);
                 });
  }
};

Registrar::Registrar(Runtime& rt, const config::SipConfig& cfg, std::string domain, Send send)
    : rt_(rt), cfg_(cfg), domain_(std::move(domain)), send_(std::move(send)), sweep_(rt.core_strand) {}

Registrar::~Registrar() = default;

void Registrar::start() { arm_sweep(); }

void Registrar::arm_sweep() {
  if (stopped_) return;
  sweep_.expires_after(std::chrono::seconds(1));
  sweep_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = w.lock();
    if (!self || self->stopped_) return;
    try {
      self->expire(SteadyClock::now());
    } catch (const std::exception& e) {
      spdlog::error("sip: expiry sweep: {}", e.what());
    }
    self->arm_sweep();
  });
}

void Registrar::stop(const std::string& reason) {
  stopped_ = true;
  sweep_.cancel();
  auto users = std::move(users_);
  users_.clear();
  total_ = 0;
  for (auto& [user, list] : users)
    for (auto& b : list)
      if (b->session) {
        auto id = b->session;
        b->session = 0;
        rt_.core.sessions().close(id, reason);
      }
}

std::size_t Registrar::bindings(const std::string& user) const {
  auto it = users_.find(user);
  return it == users_.end() ? 0 : it->second.size();
}

core::SessionId Registrar::session_of(const std::string& user, const std::string& source) const {
  auto it = users_.find(user);
  if (it == users_.end() || it->second.empty()) return 0;
  for (const auto& b : it->second)
    if (b->source == source && b->session) return b->session;
  return it->second.front()->session;
}

void Registrar::remove(const std::string& user, const std::string& uri, const std::string& reason) {
  auto it = users_.find(user);
  if (it == users_.end()) return;
  auto& list = it->second;
  for (auto b = list.begin(); b != list.end(); ++b) {
    if ((*b)->uri != uri) continue;
    auto id = (*b)->session;
    (*b)->session = 0;
    auto keep = std::move(*b);  // alive while the core closes its session
    list.erase(b);
    --total_;
    if (id) rt_.core.sessions().close(id, reason);
    break;
  }
  if (list.empty()) users_.erase(user);
}

void Registrar::expire(SteadyClock::time_point now) {
  std::vector<std::pair<std::string, std::string>> gone;
  for (auto& [user, list] : users_)
    for (auto& b : list)
      if (b->expires_at <= now) gone.emplace_back(user, b->uri);
  for (auto& [user, uri] : gone) remove(user, uri, "registration expired");
}

std::string Registrar::contacts_header(const std::string& user, SteadyClock::time_point now) const {
  std::string out;
  auto it = users_.find(user);
  if (it == users_.end()) return out;
  for (const auto& b : it->second) {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(b->expires_at - now).count();
    out += "Contact: <" + b->uri + ">;expires=" + std::to_string(std::max<long long>(0, left)) + "\r\n";
  }
  return out;
}

// RFC 3261 §10.3 steps 6-8, after authentication (steps 1-5 are the libre side's).
SipReply Registrar::register_bindings(const RegisterRequest& r, SteadyClock::time_point now) {
  const auto& ex = cfg_.register_expires;
  // Step 6: "Contact: *" only alone and with Expires: 0; it removes every binding.
  bool star = std::any_of(r.contacts.begin(), r.contacts.end(), [](const ContactParam& c) { return c.star; });
  if (star) {
    if (r.contacts.size() != 1 || !r.expires || *r.expires != 0) return {400, "Invalid Contact *", {}};
    auto it = users_.find(r.user);
    std::vector<std::string> uris;
    if (it != users_.end())
      for (auto& b : it->second) uris.push_back(b->uri);
    for (auto& u : uris) remove(r.user, u, "unregistered");
    return {200, "OK", {}};
  }
  // Step 7: every contact's expiry first, so a refused request changes nothing.
  struct Change {
    const ContactParam* c;
    std::uint32_t seconds;
  };
  std::vector<Change> changes;
  for (const auto& c : r.contacts) {
    std::uint32_t s = c.expires ? *c.expires : r.expires ? *r.expires : ex.default_;
    if (s != 0 && s < ex.min)  // §10.3 step 7 / §21.4.21: too brief, tell the minimum
      return {423, "Interval Too Brief", "Min-Expires: " + std::to_string(ex.min) + "\r\n"};
    changes.push_back({&c, std::min(s, ex.max)});
  }
  auto& list = users_[r.user];
  std::size_t adding = 0;
  for (const auto& ch : changes) {
    bool known = std::any_of(list.begin(), list.end(), [&](const auto& b) { return b->uri == ch.c->uri; });
    if (!known && ch.seconds) ++adding;
  }
  if (list.size() + adding > cfg_.max_bindings) {
    if (list.empty()) users_.erase(r.user);
    return {403, "Too Many Registrations", {}};
  }
  for (const auto& ch : changes) {
    auto& cur = users_[r.user];  // remove() may have erased the user's entry
    auto b = std::find_if(cur.begin(), cur.end(), [&](const auto& x) { return x->uri == ch.c->uri; });
    if (b != cur.end()) {
      // Step 8: same Call-ID with a CSeq not higher is an out-of-order request.
      if ((*b)->call_id == r.call_id && r.cseq <= (*b)->cseq) {
        if (cur.empty()) users_.erase(r.user);
        return {500, "Out of Order", "Retry-After: 1\r\n"};
      }
      if (ch.seconds == 0) {
        remove(r.user, ch.c->uri, "unregistered");
        continue;
      }
      (*b)->call_id = r.call_id;
      (*b)->cseq = r.cseq;
      (*b)->expires_at = now + std::chrono::seconds(ch.seconds);
      continue;
    }
    if (ch.seconds == 0) continue;  // removing what is not there
    auto nb = std::make_unique<Binding>(*this, r.user, ch.c->uri);
    nb->call_id = r.call_id;
    nb->cseq = r.cseq;
    nb->source = r.source;
    nb->expires_at = now + std::chrono::seconds(ch.seconds);
    nb->resource = "sip-" + std::to_string(next_resource_++);
    core::SessionOpen o;
    o.user = core::Address::user(r.user);
    o.resource = nb->resource;
    o.protocol = core::Protocol::sip;
    o.host = r.source;
    o.sink = nb.get();
    auto id = rt_.core.sessions().open(std::move(o));
    if (!id) {
      auto rep = reply_for(id.error());
      if (auto it = users_.find(r.user); it != users_.end() && it->second.empty()) users_.erase(it);
      return rep;
    }
    nb->session = *id;
    auto& users_list = users_[r.user];  // open() may have run hooks; look the list up again
    users_list.push_back(std::move(nb));
    ++total_;
    core::Tuple t;
    t.id = users_list.back()->resource;
    rt_.core.presence().publish(*id, t);  // registered = reachable (RFC 3856 §6.4 leaves it to policy)
    (void)rt_.core.router().flush_offline(*id);
  }
  if (auto it = users_.find(r.user); it != users_.end() && it->second.empty()) users_.erase(it);
  return {200, "OK", contacts_header(r.user, now)};
}

SipReply Registrar::receive_message(const std::string& user, const std::string& source, const std::string& to,
                                    std::string body, std::string subject, std::string call_id,
                                    core::ChatState chat_state) {
  auto it = users_.find(user);
  if (it == users_.end() || it->second.empty()) return {403, "Register First", {}};
  // The binding the request came from, else the user's first one.
  const Binding* from = it->second.front().get();
  for (const auto& b : it->second)
    if (b->source == source) from = b.get();
  // `to` is a local name, or a federated contact's URI ("sip:juliet@remote", the plugin
  // made it from a Request-URI at a sip.federation[] domain), which the core routes there.
  core::Address target;
  if (to.rfind("sip:", 0) == 0) {
    auto a = core::Address::foreign(to);
    if (!a) return {404, "Not Found", {}};
    target = std::move(*a);
  } else {
    if (!core::is_valid_local_name(to) || !rt_.core.directory().exists(to)) return {404, "Not Found", {}};
    target = core::Address::user(to);
  }
  core::Message m;
  m.kind = core::MessageKind::direct;
  m.from = core::Address::user(user, from->resource);
  m.to = std::move(target);
  m.body = std::move(body);
  m.chat_state = chat_state;
  if (!subject.empty()) m.subject = std::move(subject);
  m.thread = call_id.size() <= 64 ? std::move(call_id) : std::string();  // RFC 7572 §6: Call-ID ~ thread
  m.origin.protocol = core::Protocol::sip;
  m.origin.session = from->session;
  if (auto st = rt_.core.router().send(std::move(m)); !st) return reply_for(st.error());
  return {200, "OK", {}};
}

void Registrar::delivery_failed(core::SessionId origin, const std::string& ref_id, std::uint16_t code,
                                const std::string& reason) {
  if (!origin) return;
  const auto* s = rt_.core.sessions().find(origin);
  if (!s || !s->sink) return;
  s->sink->on_error(ref_id, error_for_status(code, reason));
}

}  // namespace parley::adapters::sip

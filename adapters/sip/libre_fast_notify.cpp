#include "adapters/sip/libre_fast_notify.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "adapters/sip/libre_pl.hpp"
#include "adapters/sip/libre_strans.hpp"

namespace parley::adapters::sip {

namespace sipt = protocols::sip;

namespace {

// A next hop we can send to ourselves: sip: (not sips:), UDP, no maddr.
bool udp_hop(const struct uri& u) {
  if (pl_strcasecmp(&u.scheme, "sip") != 0) return false;
  struct pl v {};
  if (msg_param_decode(&u.params, "maddr", &v) == 0) return false;
  if (msg_param_decode(&u.params, "transport", &v) == 0 && pl_strcasecmp(&v, "udp") != 0) return false;
  return true;
}

bool hop_address(const struct uri& u, struct sa& dst) {
  return sa_set(&dst, &u.host, u.port ? u.port : 5060) == 0;  // IP literals only: no DNS here
}

bool collect_route(const struct sip_hdr* hdr, const struct sip_msg*, void* arg) {
  auto* routes = static_cast<std::vector<std::string>*>(arg);
  if (routes->size() >= 16) return true;  // bounded; 16 is plenty for any real route set
  routes->push_back(str(hdr->val));
  return false;
}

std::string print(const char* fmt, const struct sa* a) {
  char buf[96] = {};
  if (re_snprintf(buf, sizeof buf, fmt, a) < 0) return {};
  return buf;
}

}  // namespace

FastNotifier::FastNotifier(struct sip* sip, Limits limits, Ended ended)
    : sip_(sip), limits_(limits), ended_(std::move(ended)) {
  tmr_init(&tmr_);
}

FastNotifier::~FastNotifier() { close(); }

bool FastNotifier::attach(const UdpPort& port) {
  auto r = UdpReceiver::attach(port, &FastNotifier::consume_c, &FastNotifier::busy_c, this);
  if (!r) return false;
  rx_.push_back(std::move(r));
  return true;
}

std::size_t FastNotifier::busy_c(void* arg) { return static_cast<FastNotifier*>(arg)->txns_.size(); }

bool FastNotifier::consume_c(void* arg, int fd, const struct sa& src, std::string_view d) {
  auto* self = static_cast<FastNotifier*>(arg);
  // A request: the PUBLISH fast path's, if one is set (`Stack::fast_publish`).
  if (!d.empty() && d.front() != 'S') return self->request_ && self->request_(self->request_arg_, fd, src, d);
  return self->consume(d);
}

bool FastNotifier::consume(std::string_view d) {
  if (closed_) return false;
  auto r = sipt::parse_minimal_response(d);
  if (!r) return false;  // requests, and anything it cannot read: libre's
  auto key = sipt::fast_branch_key(r->branch);
  if (!key) return false;  // not one of ours: libre's client transactions
  // Ours from here on: libre has no transaction for it and would only drop it after a
  // full decode. A late retransmission of a final response (timer K's job, RFC 3261
  // §17.1.2.2) finds nothing and is absorbed here too.
  auto it = txns_.find(*key);
  if (it == txns_.end() || r->cseq != it->second.cseq || r->cseq_method != "NOTIFY") return true;
  if (r->status < 200) {  // Proceeding: timer E goes on at T2
    it->second.proceeding = true;
    return true;
  }
  const std::uint64_t sub = it->second.sub_id;
  txns_.erase(it);
  answered(sub, *key, r->status);
  return true;
}

std::optional<sipt::NotifyDialog> FastNotifier::dialog_of(const struct sip_msg* msg, const std::string& cuser,
                                                          const std::string& ltag, struct sa& dst) const {
  const struct sip_hdr* ch = sip_msg_hdr(msg, SIP_HDR_CONTACT);
  struct sip_addr contact {};
  if (!ch || sip_addr_decode(&contact, &ch->val) || !udp_hop(contact.uri)) return std::nullopt;
  sipt::NotifyDialog d;
  d.request_uri = str(contact.auri);
  (void)sip_msg_hdr_apply(msg, true, SIP_HDR_RECORD_ROUTE, &collect_route, &d.route);
  if (d.route.size() >= 16) return std::nullopt;
  if (d.route.empty()) {
    if (!hop_address(contact.uri, dst)) return std::nullopt;
  } else {
    // RFC 3261 §12.2.1.1: a loose router (;lr) first hop gets the request; a strict
    // router would need the Request-URI rewritten: libre does that, not us.
    struct sip_addr first {};
    struct pl val {
      d.route.front().data(), d.route.front().size()
    };
    struct pl lr {};
    if (sip_addr_decode(&first, &val) || !udp_hop(first.uri) ||
        msg_param_exists(&first.uri.params, "lr", &lr) != 0 || !hop_address(first.uri, dst))
      return std::nullopt;
  }
  d.via_host = print("%J", &msg->dst);
  d.contact = "<sip:" + cuser + "@" + d.via_host + ">";
  d.from = str(msg->to.val) + ";tag=" + ltag;
  d.to = str(msg->from.val);
  d.call_id = str(msg->callid);
  const struct sip_hdr* eh = sip_msg_hdr(msg, SIP_HDR_EVENT);
  struct sipevent_event ev {};
  if (!eh || sipevent_event_decode(&ev, &eh->val)) return std::nullopt;
  d.event = str(ev.event);
  if (pl_isset(&ev.id)) d.event += ";id=" + str(ev.id);  // RFC 6665 §8.2.1: the NOTIFY echoes id
  if (d.via_host.empty()) return std::nullopt;
  return d;
}

bool FastNotifier::accept(const struct sip_msg* msg, struct sip_strans** st, std::uint64_t sub_id,
                          std::uint16_t code, const std::string& reason, const std::string& cuser,
                          const std::string& content_type, const OutNotify& first) {
  if (closed_ || msg->tp != SIP_TRANSP_UDP || !pl_isset(&msg->from.tag) || pl_isset(&msg->to.tag) ||
      sa_is_any(&msg->dst) || dialogs_.count(sub_id))
    return false;
  const UdpReceiver* rx = nullptr;
  for (const auto& r : rx_)
    if (sa_cmp(&r->local(), &msg->dst, SA_ALL)) rx = r.get();
  if (!rx) return false;
  // The To tag libre's reply writes for a request without one (sip/reply.c): msg->tag.
  char ltag[17];
  std::snprintf(ltag, sizeof ltag, "%016llx", static_cast<unsigned long long>(msg->tag));
  auto d = std::make_unique<Dialog>();
  auto spec = dialog_of(msg, cuser, ltag, d->dst);
  if (!spec) return false;
  auto head = sipt::render_notify_head(*spec);
  if (!head || by_tag_.count(ltag)) return false;
  std::uint32_t expires = pl_isset(&msg->expires) ? pl_u32(&msg->expires) : limits_.default_expires;
  expires = std::min(expires, limits_.max_expires);
  (void)strans_leave_merge_index(st ? *st : nullptr);  // answered: no longer "ongoing"
  // RFC 6665 §4.2.1.1: 200/202 with Expires and our Contact; Record-Route echoed.
  if (sip_treplyf(st, nullptr, sip_, msg, true, code, reason.c_str(),
                  "Contact: %s\r\nExpires: %u\r\nContent-Length: 0\r\n\r\n", spec->contact.c_str(), expires))
    return false;
  d->self = this;
  d->sub_id = sub_id;
  d->fd = rx->fd();
  d->spec = std::move(*spec);
  d->head = std::move(*head);
  d->ltag = ltag;
  d->rtag = str(msg->from.tag);
  d->content_type = content_type;
  d->rseq = msg->cseq.num;
  tmr_init(&d->expiry);
  d->state = first.state;
  d->reason = first.reason;
  d->body = first.body;
  d->core_knows_end = first.state == OutNotify::State::terminated;
  Dialog& ref = *d;
  by_tag_.emplace(ltag, sub_id);
  dialogs_.emplace(sub_id, std::move(d));
  if (expires) arm_expiry(ref, expires);
  send(ref);
  return true;
}

void FastNotifier::notify(OutNotify&& n) {
  auto it = dialogs_.find(n.sub_id);
  if (it == dialogs_.end()) return;
  Dialog& d = *it->second;
  if (n.seq <= d.seq) return;  // an older state than one already taken
  d.seq = n.seq;
  if (d.state == OutNotify::State::terminated) return;  // ending already
  d.state = n.state;
  d.reason = std::move(n.reason);
  d.body = std::move(n.body);
  if (d.state == OutNotify::State::terminated) {
    d.core_knows_end = true;
    tmr_cancel(&d.expiry);
  }
  if (d.in_flight)
    d.dirty = true;  // RFC 6665 §4.2.2: one NOTIFY at a time; the latest state goes next
  else
    send(d);
}

bool FastNotifier::in_dialog(const struct sip_msg* msg) {
  if (closed_ || !pl_isset(&msg->to.tag) || pl_strcmp(&msg->met, "SUBSCRIBE") != 0) return false;
  auto t = by_tag_.find(str(msg->to.tag));
  if (t == by_tag_.end()) return false;
  auto it = dialogs_.find(t->second);
  if (it == dialogs_.end()) return false;
  Dialog& d = *it->second;
  if (!pl_is(msg->callid, d.spec.call_id) || !pl_is(msg->from.tag, d.rtag)) return false;
  auto answer = [&](std::uint16_t code, const char* reason, const std::string& extra) {
    (void)sip_treplyf(nullptr, nullptr, sip_, msg, false, code, reason, "%sContent-Length: 0\r\n\r\n",
                      extra.c_str());
    return true;
  };
  if (d.state == OutNotify::State::terminated) return answer(481, "Subscription Does Not Exist", {});
  if (msg->cseq.num <= d.rseq) return answer(500, "Bad Sequence", {});  // RFC 3261 §12.2.2
  d.rseq = msg->cseq.num;
  std::uint32_t expires = pl_isset(&msg->expires) ? pl_u32(&msg->expires) : limits_.default_expires;
  if (expires != 0 && expires < limits_.min_expires)  // RFC 6665 §4.2.1.4
    return answer(423, "Interval Too Brief", "Min-Expires: " + std::to_string(limits_.min_expires) + "\r\n");
  expires = std::min(expires, limits_.max_expires);
  // A refresh is a target refresh request (RFC 6665 §4.1.2.1): a new Contact moves the
  // remote target when there is no route set (with one, the first route stays the hop).
  if (d.spec.route.empty()) {
    const struct sip_hdr* ch = sip_msg_hdr(msg, SIP_HDR_CONTACT);
    struct sip_addr c {};
    struct sa dst {};
    if (ch && !sip_addr_decode(&c, &ch->val) && !pl_is(c.auri, d.spec.request_uri) && udp_hop(c.uri) &&
        hop_address(c.uri, dst)) {
      auto spec = d.spec;
      spec.request_uri = str(c.auri);
      if (auto head = sipt::render_notify_head(spec)) {
        d.spec = std::move(spec);
        d.head = std::move(*head);
        d.dst = dst;
      }
    }
  }
  answer(200, "OK", "Contact: " + d.spec.contact + "\r\nExpires: " + std::to_string(expires) + "\r\n");
  if (expires == 0) {
    end_from_sip(d, "timeout");  // RFC 6665 §4.2.1.4: an unsubscribe ends with a terminated NOTIFY
    return true;
  }
  arm_expiry(d, expires);
  // RFC 6665 §4.2.2: a refresh is followed by a NOTIFY with the current state.
  if (d.in_flight)
    d.dirty = true;
  else
    send(d);
  return true;
}

void FastNotifier::send(Dialog& d) {
  char buf[64];
  std::string_view state;
  if (d.state == OutNotify::State::terminated) {
    state_.assign("terminated;reason=").append(d.reason.empty() ? std::string_view("deactivated") : d.reason);
    state = state_;
  } else {
    const std::uint64_t now = tmr_jiffies();
    const std::uint64_t left = d.expires_at > now ? (d.expires_at - now + 999) / 1000 : 0;
    const int n = std::snprintf(buf, sizeof buf, "%s;expires=%llu",
                                d.state == OutNotify::State::active ? "active" : "pending",
                                static_cast<unsigned long long>(left));
    state = std::string_view(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  }
  // Random, not a counter: a watcher who sees its own branches must not be able to guess
  // another's and end that subscription with a forged 481 (libre's branches are random too).
  std::uint64_t key = ::rand_u64();
  while (key == 0 || txns_.count(key)) key = ::rand_u64();
  Txn t;
  t.sub_id = d.sub_id;
  t.cseq = ++d.lseq;
  t.fd = d.fd;
  t.dst = d.dst;
  sipt::render_notify(t.wire, d.head, key, t.cseq, state, d.content_type, d.body);
  // A failed send is left to timer E, as a lost datagram would be.
  (void)::sendto(t.fd, t.wire.data(), t.wire.size(), MSG_DONTWAIT, &t.dst.u.sa, t.dst.len);
  const std::uint64_t now = tmr_jiffies();
  t.deadline = now + 64ull * limits_.t1_ms;  // timer F
  t.interval = limits_.t1_ms;
  due_.push({now + t.interval, key});
  txns_.emplace(key, std::move(t));
  d.in_flight = key;
  d.dirty = false;
  if (d.state == OutNotify::State::terminated) d.term_sent = true;
  arm_timer();
}

void FastNotifier::answered(std::uint64_t sub_id, std::uint64_t key, std::uint16_t status) {
  auto it = dialogs_.find(sub_id);
  if (it == dialogs_.end()) return;
  Dialog& d = *it->second;
  if (d.in_flight != key) return;
  d.in_flight = 0;
  if (status >= 300 || d.term_sent) {
    // RFC 6665 §4.2.2: a NOTIFY answered with a failure (481, or timer F: 408) ends the
    // subscription; so does the answer to the terminated NOTIFY.
    const bool tell = !d.core_knows_end;
    drop(sub_id);
    if (tell) ended_(sub_id);
    return;
  }
  if (d.dirty) send(d);
}

void FastNotifier::end_from_sip(Dialog& d, const char* reason) {
  if (d.state == OutNotify::State::terminated) return;
  tmr_cancel(&d.expiry);
  d.state = OutNotify::State::terminated;
  d.reason = reason;
  d.core_knows_end = true;
  const std::uint64_t id = d.sub_id;
  if (d.in_flight)
    d.dirty = true;
  else
    send(d);
  ended_(id);
}

void FastNotifier::arm_expiry(Dialog& d, std::uint32_t seconds) {
  d.expires_at = tmr_jiffies() + 1000ull * seconds;
  tmr_start(&d.expiry, 1000ull * seconds, &FastNotifier::on_expiry, &d);
}

void FastNotifier::on_expiry(void* arg) {
  auto* d = static_cast<Dialog*>(arg);
  d->self->end_from_sip(*d, "timeout");  // RFC 6665 §4.2.2
}

void FastNotifier::drop(std::uint64_t sub_id) {
  auto it = dialogs_.find(sub_id);
  if (it == dialogs_.end()) return;
  Dialog& d = *it->second;
  tmr_cancel(&d.expiry);
  by_tag_.erase(d.ltag);
  if (d.in_flight) txns_.erase(d.in_flight);
  dialogs_.erase(it);
}

void FastNotifier::arm_timer() {
  if (due_.empty() || closed_) return;
  const std::uint64_t now = tmr_jiffies();
  const std::uint64_t at = std::max(due_.top().at, now + kTimerSlackMs);
  // Armed for no later: kept (moving the head timer later would still make it libre's
  // new earliest, which wakes the libre thread when the core strand sends in try_run_here).
  if (tmr_at_ != 0 && tmr_at_ <= at) return;
  tmr_at_ = at;
  tmr_start(&tmr_, at - now, &FastNotifier::on_timer, this);
}

// Timers E and F of every NOTIFY in flight (RFC 3261 §17.1.2.2).
void FastNotifier::on_timer(void* arg) {
  auto* self = static_cast<FastNotifier*>(arg);
  self->tmr_at_ = 0;
  const std::uint64_t now = tmr_jiffies();
  while (!self->due_.empty() && self->due_.top().at <= now) {
    const Due x = self->due_.top();
    self->due_.pop();
    auto it = self->txns_.find(x.key);
    if (it == self->txns_.end()) continue;  // answered since
    Txn& t = it->second;
    if (now >= t.deadline) {  // timer F: the watcher is gone
      const std::uint64_t sub = t.sub_id;
      self->txns_.erase(it);
      self->answered(sub, x.key, 408);
      continue;
    }
    (void)::sendto(t.fd, t.wire.data(), t.wire.size(), MSG_DONTWAIT, &t.dst.u.sa, t.dst.len);
    t.interval = t.proceeding ? self->limits_.t2_ms : std::min(2 * t.interval, self->limits_.t2_ms);
    self->due_.push({now + t.interval, x.key});
  }
  self->arm_timer();
}

void FastNotifier::close() {
  if (closed_) return;
  closed_ = true;
  tmr_cancel(&tmr_);
  for (auto& [id, d] : dialogs_) {
    tmr_cancel(&d->expiry);
    if (d->state == OutNotify::State::terminated && d->term_sent) continue;
    // Shutdown: one terminated NOTIFY each, not retransmitted (the stack is closing).
    std::string wire;
    sipt::render_notify(wire, d->head, ::rand_u64(), ++d->lseq, "terminated;reason=deactivated", {}, {});
    (void)::sendto(d->fd, wire.data(), wire.size(), MSG_DONTWAIT, &d->dst.u.sa, d->dst.len);
  }
  dialogs_.clear();
  by_tag_.clear();
  txns_.clear();
  due_ = {};
  rx_.clear();  // the helpers leave the sockets before libre closes them
}

}  // namespace parley::adapters::sip

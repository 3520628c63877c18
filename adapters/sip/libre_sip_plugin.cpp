// The SIP plugin's libre side. Threads (docs/ARCHITECTURE.md): every sip_* call and every
// libre object lives on the libre thread (LibreLoop); a request is checked there (size,
// rate, method, headers, nonce MAC and age), its fields are copied, and the decision that
// needs accounts or sessions (digest response, nonce count, bindings, routing) is posted
// to the core strand; the answer comes back to the libre thread and completes the server
// transaction kept for it (which absorbs retransmissions meanwhile).
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <re.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adapters/common/auth.hpp"
#include "adapters/common/libre_bridge.hpp"
#include "adapters/sip/federation.hpp"
#include "adapters/sip/libre_fast_notify.hpp"
#include "adapters/sip/libre_federation.hpp"
#include "adapters/sip/libre_pl.hpp"
#include "adapters/sip/libre_strans.hpp"
#include "adapters/sip/libre_tcp_admission.hpp"
#include "adapters/sip/presence_agent.hpp"
#include "adapters/sip/publish_transactions.hpp"
#include "adapters/sip/registrar.hpp"
#include "adapters/sip/sip_plugin.hpp"
#include "adapters/sip/udp_buffers.hpp"
#include "core/core.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/common/token_bucket.hpp"
#include "protocols/sip/digest.hpp"
#include "protocols/sip/pidf.hpp"
#include "protocols/sip/publish_wire.hpp"
#include "protocols/sip/text.hpp"

namespace parley::adapters::sip {

namespace {

namespace sipt = protocols::sip;

std::uint64_t unix_seconds() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

constexpr const char* kAllow = "Allow: REGISTER, MESSAGE, OPTIONS, PUBLISH, SUBSCRIBE, NOTIFY\r\n";
constexpr const char* kAllowEvents = "Allow-Events: presence, presence.winfo\r\n";

std::string address_of(const sa& a, bool with_port) {
  char buf[64] = {};
  if (sa_ntop(&a, buf, sizeof buf) != 0) return "?";
  if (!with_port) return buf;
  return std::string(buf) + ":" + std::to_string(sa_port(&a));
}

// From the core strand to the libre thread, for a reply and/or a batch of `notifies`
// NOTIFYs: a small batch runs here when the libre thread sleeps (LibreLoop::try_run_here:
// no wake-up of it at all; at 10 watchers that was one of ~3.5 sleeps per PUBLISH), a
// large one is posted as before, so a big fan-out's sends stay off the core strand.
// false: dropped (the loop's queue is full or it stopped).
constexpr std::size_t kSendHereMax = 15;  // below UdpReceiver::kBusyAt: the 1 ms tick's range
bool to_libre_small(LibreLoop& loop, std::size_t notifies, std::function<void()>& fn) {
  if (notifies <= kSendHereMax && loop.try_run_here(fn)) return true;
  return post_to_libre(loop, std::move(fn));
}

// What the core needs to check a digest response (copied out of the libre message).
struct DigestInput {
  std::string user, realm, nonce, uri, response, cnonce, qop, method;
  std::uint32_t nc = 0;
  std::uint64_t issued = 0;
  sipt::DigestAlgorithm algorithm = sipt::DigestAlgorithm::md5;
};

// The core side: registrar + nonce counts, owned jointly by the plugin and posted tasks.
struct CoreSide {
  std::shared_ptr<Registrar> registrar;
  std::shared_ptr<PresenceAgent> agent;
  std::shared_ptr<Federation> federation;  // sip.federation[] (adapters/sip/federation.hpp)
  sipt::NonceCounts counts;
  // NOTIFYs the agent produced in this strand turn, handed to the libre thread together
  // (SipPlugin::queue_notify): one hand-off per presence change, not one per watcher.
  std::vector<OutNotify> notify_batch;
  // The NOTIFY fast path's short tick when the core strand sent the batch itself
  // (Stack::remote_tick_c): made at the first one, on the strand.
  std::unique_ptr<boost::asio::steady_timer> answer_tick;
};

struct Settings {
  config::SipConfig cfg;
  std::string domain;
  std::string tls_cert_pem, tls_key_pem;          // for tls: listeners; empty when there are none
  std::vector<sipt::DigestAlgorithm> algorithms;  // sip.digest_algorithms, in order
  struct Peer {
    std::string ip, domain;  // ip: an IP-literal proxy's; a named one's come from its lookups
    std::uint16_t port = 0;
    bool udp = true;
  };
  // sip.federation[] by entry: whose proxy may relay MESSAGEs without digest, and is not
  // rate limited (the addresses: Stack::peer_ips_)
  std::vector<Peer> peers;
};

// ---- the libre thread's state ----
class Stack {
 public:
  Stack(Runtime& rt, LibreLoop& loop, std::shared_ptr<const Settings> s,
        std::shared_ptr<const sipt::NonceIssuer> n, std::weak_ptr<CoreSide> core)
      : rt_(rt), loop_(loop), s_(std::move(s)), nonces_(std::move(n)), core_(std::move(core)) {}

  std::string open() {
    // Hash tables by Via branch (client and server transactions) and by connection: a
    // fan-out keeps every NOTIFY's client transaction in the table for its 5 s timer K
    // after the 200 (RFC 3261 §17.1.2.2): ~100,000 at 20,000 NOTIFY/s. 32 buckets made each
    // response's lookup a walk of hundreds, 16,384 one of ~6 (1.3 µs per NOTIFY in perf);
    // 65,536 (1 MiB) keeps it near one. Powers of two (libre masks the hash).
    int err = sip_alloc(&sip_, nullptr, 65536, 4096, 1024, "parley", nullptr, nullptr);
    if (err) return std::string("sip_alloc: ") + std::strerror(err);
    UdpListenCapture udp_sockets;  // SIP's UDP sockets, for the NOTIFY fast path
    for (const auto& a : s_->cfg.listen) {
      sa laddr{};
      if (sa_set_str(&laddr, a.host.c_str(), a.port)) return "sip.listen: bad address " + a.str();
      if (a.tls()) {
        // RFC 3261 §26.2: TLS with the server's certificate (sip.tls, else the daemon's).
        if (!tls_) {
          if ((err = tls_alloc(&tls_, TLS_METHOD_SSLV23, nullptr, nullptr)))
            return std::string("sip: tls_alloc: ") + std::strerror(err);
          if ((err = tls_set_certificate_pem(tls_, s_->tls_cert_pem.c_str(), s_->tls_cert_pem.size(),
                                             s_->tls_key_pem.c_str(), s_->tls_key_pem.size())))
            return "sip.tls: the certificate or key is not usable";
        }
        err = sip_transp_add(sip_, SIP_TRANSP_TLS, &laddr, tls_);
      } else {
        auto tp = a.transport == protocols::Transport::udp ? SIP_TRANSP_UDP : SIP_TRANSP_TCP;
        err = sip_transp_add(sip_, tp, &laddr);
      }
      if (err) return "sip.listen: cannot listen on " + a.str() + ": " + std::strerror(err);
      if (a.transport == protocols::Transport::udp && s_->cfg.udp_buffer > 0) {
        auto b = set_udp_buffers(&laddr.u.sa, laddr.len, s_->cfg.udp_buffer);
        if (!b.error.empty())
          spdlog::warn("sip: {}: udp_buffer not set: {}", a.str(), b.error);
        else if (static_cast<std::size_t>(b.rcvbuf) < s_->cfg.udp_buffer)  // Linux reports twice the request
          spdlog::warn("sip: {}: receive buffer {} bytes, below sip.udp_buffer (net.core.rmem_max caps it)",
                       a.str(), b.rcvbuf);
      }
      spdlog::info("sip: listening on {}", a.str());
    }
    admit_tcp();
    open_fast_notify(udp_sockets.taken());
    err = sip_listen(&lsnr_, sip_, true, &Stack::on_request_c, this);
    if (err) return std::string("sip_listen: ") + std::strerror(err);
    // libre's event framework after ours: it gets the requests on_request_c passes on
    // (in-dialog SUBSCRIBE refreshes and unsubscribes of our notifiers; NOTIFY, which it
    // answers 481 as we subscribe to nothing).
    err = sipevent_listen(&evsock_, sip_, 16384, 16, nullptr, nullptr);
    if (err) return std::string("sipevent_listen: ") + std::strerror(err);
    if (auto c = core_.lock(); c && c->federation)
      fed_ = std::make_unique<FedClient>(rt_, loop_, c->federation, sip_, evsock_, tls_);
    return {};
  }

  // The UDP NOTIFY fast path (libre_fast_notify.hpp). PARLEY_SIP_NOTIFY=libre keeps every
  // subscription on libre's notifier (a diagnostic and bench switch).
  void open_fast_notify(const std::vector<UdpPort>& ports) {
    const char* env = std::getenv("PARLEY_SIP_NOTIFY");
    if (ports.empty() || (env && std::string_view(env) == "libre")) return;
    if (!udp_listen_interposed()) {
      spdlog::warn("sip: udp_listen not interposed; NOTIFYs over UDP take libre's notifier");
      return;
    }
    FastNotifier::Limits l;
    l.min_expires = s_->cfg.event_expires.min;
    l.default_expires = s_->cfg.event_expires.default_;
    l.max_expires = s_->cfg.event_expires.max;
    fast_ = std::make_unique<FastNotifier>(sip_, l, [this](std::uint64_t id) { ended(id); });
    for (const auto& p : ports)
      if (!fast_->attach(p)) spdlog::warn("sip: a UDP socket stays off the NOTIFY fast path");
    if (!fast_->sockets()) {
      fast_.reset();
      return;
    }
    fast_->set_remote_tick(&Stack::remote_tick_c, this);
    spdlog::info("sip: NOTIFYs over UDP take the fast path ({} sockets)", fast_->sockets());
    // The PUBLISH fast path rides on the same sockets. PARLEY_SIP_PUBLISH=libre leaves every
    // PUBLISH to libre (a diagnostic and bench switch).
    const char* penv = std::getenv("PARLEY_SIP_PUBLISH");
    if (!(penv && std::string_view(penv) == "libre")) {
      fast_->set_request_hook(&Stack::fast_publish_c, this);
      spdlog::info("sip: PUBLISHes over UDP take the fast path");
    }
  }

  // ---- the UDP PUBLISH fast path (protocols/sip/publish_wire.hpp, publish_transactions.hpp)
  // A PUBLISH that parse_fast_publish takes and that passes every check on_request makes
  // before the core (rate, size, Event, Content-Type, Expires, Request-URI host, the
  // digest's form, nonce MAC and age, sip.max_pending) is held in pubs_ instead of a libre
  // server transaction, and goes to the core with the same to_core as libre's path; the
  // answer comes back to reply(), which renders and sends it here (fast_reply). Anything
  // else returns false: libre decodes it and on_request answers it as before (its 4xx
  // included), so no answer differs by path. Same thread as on_request: the libre thread,
  // or the core strand under LibreLoop::try_run_here (UdpReceiver's remote tick).
  static bool fast_publish_c(void* arg, int fd, const sa& src, std::string_view d) {
    auto* self = static_cast<Stack*>(arg);
    try {
      return self->fast_publish(fd, src, d);
    } catch (const std::exception& e) {
      spdlog::error("sip: PUBLISH fast path: {}", e.what());
      return false;
    }
  }

  bool fast_publish(int fd, const sa& src, std::string_view d) {
    if (closed_ || d.size() > s_->cfg.max_request || d.substr(0, 8) != "PUBLISH ") return false;
    auto p = sipt::parse_fast_publish(d);
    if (!p) return false;
    // RFC 3261 §17.2.3: the same branch and sent-by is the same transaction. A PUBLISH
    // this path took is retransmitted with the same bytes, so it comes here again.
    std::string key = sipt::publish_transaction_key(*p);
    const std::uint64_t now = tmr_jiffies();
    const PublishTransactions::Entry* e = nullptr;
    switch (pubs_.seen(key, now, &e)) {
      case PublishTransactions::Seen::pending:  // the core has it: absorbed (§17.2.2 Trying)
        return true;
      case PublishTransactions::Seen::answered:  // §17.2.2 Completed: the same response again
        (void)::sendto(e->dest.fd, e->wire.data(), e->wire.size(), 0,
                       reinterpret_cast<const sockaddr*>(&e->dest.addr), e->dest.len);
        return true;
      case PublishTransactions::Seen::fresh:
        break;
    }
    const std::string ip = address_of(src, false);
    if (!rate_ok(ip, false)) return true;  // dropped, as on_request drops it over UDP
    // on_request's checks for a PUBLISH; any that would answer goes to libre's path.
    if (!p->body.empty() && p->body.size() > sipt::kMaxPresenceDocument) return false;            // 413
    if (p->expires && *p->expires != 0 && *p->expires < s_->cfg.event_expires.min) return false;  // 423
    if (p->host != s_->domain) {
      sa literal{};
      if (sa_set_str(&literal, std::string(p->host).c_str(), 0) != 0) return false;  // 404
    }
    Refusal refused;
    auto din = checked_credentials(p->authorization, "PUBLISH", refused);
    if (!din) return false;
    if (pending_.size() + pubs_.pending() >= s_->cfg.max_pending) return false;  // 503

    // The response's destination (RFC 3261 §18.2.2, RFC 3581 §4): the source address, at
    // the source port with rport, else at sent-by's port (5060 by default).
    PublishTransactions::Dest dest;
    dest.fd = fd;
    sa to = src;
    if (!p->rport_end) sa_set_port(&to, p->sent_by_port ? p->sent_by_port : 5060);
    if (to.len > sizeof dest.addr) return false;
    std::memcpy(&dest.addr, &to.u, to.len);
    dest.len = to.len;
    char tag[17];
    std::snprintf(tag, sizeof tag, "%016llx", static_cast<unsigned long long>(::rand_u64()));
    const std::uint64_t id = next_id_;
    if (!pubs_.hold(std::move(key), id, sipt::render_publish_echo(*p, tag, ip, sa_port(&src)), dest, now))
      return false;  // full: libre's server transactions take it
    ++next_id_;
    (void)rate_ok(ip, true);
    spdlog::debug("sip: PUBLISH {} (CSeq {}) from {} on the fast path", id, p->cseq, ip);

    PublishRequest pr;
    pr.user.assign(p->user);
    pr.source = address_of(src, true);
    if (p->if_match) pr.if_match.assign(*p->if_match);
    pr.expires = p->expires;
    pr.body.assign(p->body);
    to_core(id, std::move(*din), ip, [pr = std::move(pr)](CoreSide& c, const std::string& user) -> SipReply {
      if (pr.user != user) return {403, "Forbidden", {}};  // one publishes only oneself
      return c.agent->publish(pr);
    });
    return true;
  }

  // The core's answer to a fast-path PUBLISH: rendered with the request's echo, sent, and
  // kept for retransmissions until timer J.
  void fast_reply(std::uint64_t id, const SipReply& r) {
    const PublishTransactions::Entry* held = pubs_.held(id);
    if (!held) return;
    auto wire = sipt::render_publish_response(r.code, r.reason, held->echo, r.headers);
    if (!wire) wire = sipt::render_publish_response(500, "Server Internal Error", held->echo, {});
    const auto* e = pubs_.answer(id, std::move(*wire), tmr_jiffies());
    if (!e) return;
    (void)::sendto(e->dest.fd, e->wire.data(), e->wire.size(), 0,
                   reinterpret_cast<const sockaddr*>(&e->dest.addr), e->dest.len);
  }

  // UdpReceiver::RemoteTick: a batch the core strand sent through try_run_here has its
  // answers read by the core strand too, after `us` (a steady_timer there, then
  // try_run_here again; posted to the libre thread when that one is busy). The libre
  // thread sleeps on: at N = 10 watchers the core strand's wake-up for the next PUBLISH is
  // then the only one per PUBLISH. On the core strand, in try_run_here, only.
  static bool remote_tick_c(void* arg, std::uint64_t us) {
    auto* self = static_cast<Stack*>(arg);
    auto c = self->core_.lock();
    if (!c || self->loop_.on_libre_thread()) return false;
    if (!c->answer_tick) c->answer_tick = std::make_unique<boost::asio::steady_timer>(self->rt_.core_strand);
    c->answer_tick->expires_after(std::chrono::microseconds(us));  // cancels the one pending
    c->answer_tick->async_wait(
        [self, loop = &self->loop_, w = self->core_](const boost::system::error_code& ec) {
          if (ec || !w.lock()) return;  // re-armed or cancelled; or the plugin stopped
          try {
            std::function<void()> fn = [self] { self->remote_tick(false); };
            if (!loop->try_run_here(fn)) (void)post_to_libre(*loop, [self] { self->remote_tick(true); });
          } catch (const std::exception& e) {
            spdlog::error("sip: answer tick: {}", e.what());
          }
        });
    return true;
  }

  void remote_tick(bool on_libre) {
    if (!closed_ && fast_) fast_->remote_tick(on_libre);
  }

  // server.connections for SIP's TCP and TLS listeners (libre_tcp_admission.hpp), and a
  // sweep that gives back the counts of connections libre closed.
  void admit_tcp() {
    const bool stream = std::any_of(s_->cfg.listen.begin(), s_->cfg.listen.end(),
                                    [](const auto& a) { return a.transport != protocols::Transport::udp; });
    if (!stream) return;
    if (!tcp_admission_interposed()) {
      spdlog::warn("sip: TCP connections are not under server.connections (tcp_accept not interposed)");
      return;
    }
    set_tcp_admission({rt_.connections, [&metrics = rt_.core.metrics()](std::string_view why) {
                         metrics.rejected(core::Protocol::sip, core::Rejection::refused_connection);
                         spdlog::debug("sip: refused connection from {}", why);
                       }});
    admission_on_ = true;
    tmr_start(&sweep_tmr_, kSweepMs, &Stack::on_sweep, this);
  }
  static void on_sweep(void* arg) {
    auto* self = static_cast<Stack*>(arg);
    sweep_tcp_admissions();
    tmr_start(&self->sweep_tmr_, kSweepMs, &Stack::on_sweep, self);
  }

  FedClient* fed() { return closed_ ? nullptr : fed_.get(); }
  std::size_t fed_publishes() { return fed() ? fed_->publishes_in_flight() : 0; }
  // Entry `entry`'s proxy name now resolves to `ips` (Federation::looked_up).
  void set_peer_ips(std::size_t entry, std::vector<std::string> ips) {
    if (entry < peer_ips_.size()) peer_ips_[entry] = std::move(ips);
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    tmr_cancel(&sweep_tmr_);
    if (admission_on_) clear_tcp_admission();
    if (fast_) fast_->close();
    fast_.reset();  // its UDP helpers leave the sockets before sip_close frees them
    for (auto& [id, p] : pending_) {
      mem_deref(p.st);
      mem_deref(p.msg);
    }
    pending_.clear();
    pubs_.clear();
    for (auto& [id, n] : nots_) mem_deref(n.not_);
    nots_.clear();
    if (fed_) fed_->close();
    evsock_ = static_cast<sipevent_sock*>(mem_deref(evsock_));
    lsnr_ = static_cast<sip_lsnr*>(mem_deref(lsnr_));
    if (sip_) sip_close(sip_, true);
    sip_ = static_cast<struct sip*>(mem_deref(sip_));
    fed_.reset();
    tls_ = static_cast<struct tls*>(mem_deref(tls_));
    sends_.clear();
  }

  // From the core strand (via post_to_libre): complete a held request.
  void reply(std::uint64_t id, const SipReply& r) {
    if (closed_) return;
    auto it = pending_.find(id);
    if (it == pending_.end()) return fast_reply(id, r);
    Pending p = it->second;
    pending_.erase(it);
    if (r.sub_id && r.code >= 200 && r.code < 300) {
      accept_subscription(p.msg, &p.st, r);
    } else {
      if (r.code >= 200) (void)strans_leave_merge_index(p.st);  // answered: no longer "ongoing"
      (void)sip_treplyf(&p.st, nullptr, sip_, p.msg, false, r.code, r.reason.c_str(),
                        "%sContent-Length: 0\r\n\r\n", r.headers.c_str());
    }
    mem_deref(p.st);
    mem_deref(p.msg);
  }

  // `n` NOTIFYs are about to be notify()'d (the fast path's short tick starts now; the core
  // strand's own when it runs this in try_run_here).
  void batch_coming(std::size_t n) {
    if (fast_ && n) fast_->batch_coming(n, !loop_.on_libre_thread());
  }

  // From the core strand: one NOTIFY. The sequence check keeps an older state from
  // following a newer one; libre's notifier keeps one NOTIFY in flight and sends only
  // the latest body after it (RFC 6665 §4.2.2 leaves the pacing to the notifier).
  void notify(OutNotify&& n) {
    if (closed_) return;
    if (fast_ && fast_->owns(n.sub_id)) return fast_->notify(std::move(n));
    auto it = nots_.find(n.sub_id);
    if (it == nots_.end() || n.seq <= it->second.seq) return;
    it->second.seq = n.seq;
    deliver(it, n);
  }

  void send_message(const OutMessage& m) {
    if (closed_) return;
    // Only IP-literal contacts: the stack has no DNS client (a later slice adds one with
    // federation), and a registered contact is normally the UA's address.
    struct uri u {};
    struct pl target {
      m.target.c_str(), m.target.size()
    };
    sa dst{};
    if (uri_decode(&u, &target) || sa_set_str(&dst, str(u.host).c_str(), u.port ? u.port : 5060)) {
      failed(m, 0, "contact is not an IP address");
      return;
    }
    auto ctx = std::make_unique<SendCtx>();
    ctx->self = this;
    ctx->ref_id = m.ref_id;
    ctx->origin = m.origin;
    SendCtx* raw = ctx.get();
    sends_.emplace(raw, std::move(ctx));
    std::uint64_t tag = ::rand_u64(), cid = ::rand_u64();
    std::string subject = m.subject.empty() ? "" : "Subject: " + m.subject + "\r\n";
    int err =
        sip_requestf(nullptr, sip_, true, "MESSAGE", m.target.c_str(), nullptr, nullptr, nullptr,
                     &Stack::on_response_c, raw,
                     "To: <%s>\r\nFrom: <%s>;tag=%016llx\r\nCall-ID: %016llx@parley\r\nCSeq: 1 MESSAGE\r\n"
                     "%sContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n\r\n%b",
                     m.to_uri.c_str(), m.from_uri.c_str(), static_cast<unsigned long long>(tag),
                     static_cast<unsigned long long>(cid), subject.c_str(), m.content_type.c_str(),
                     m.body.size(), m.body.data(), m.body.size());
    if (err) {
      sends_.erase(raw);
      failed(m, 0, std::strerror(err));
    }
  }

 private:
  struct Pending {
    sip_msg* msg = nullptr;  // mem_ref'd
    sip_strans* st = nullptr;
  };
  struct SendCtx {
    Stack* self = nullptr;
    std::string ref_id;
    core::SessionId origin = 0;
  };
  struct NotCtx {
    Stack* self = nullptr;
    std::uint64_t sub_id = 0;
  };
  struct Notifier {
    sipnot* not_ = nullptr;
    std::uint64_t seq = 1;  // the first NOTIFY goes out with the accept
    std::unique_ptr<NotCtx> ctx;
  };

  static sipevent_reason reason_of(const std::string& r) {
    if (r == "rejected") return SIPEVENT_REJECTED;
    if (r == "timeout") return SIPEVENT_TIMEOUT;
    if (r == "noresource") return SIPEVENT_NORESOURCE;
    if (r == "probation") return SIPEVENT_PROBATION;
    if (r == "giveup") return SIPEVENT_GIVEUP;
    return SIPEVENT_DEACTIVATED;
  }

  void deliver(std::unordered_map<std::uint64_t, Notifier>::iterator it, const OutNotify& n) {
    mbuf* mb = nullptr;
    if (!n.body.empty()) {
      mb = mbuf_alloc(n.body.size());
      if (!mb) return;
      (void)mbuf_write_mem(mb, reinterpret_cast<const uint8_t*>(n.body.data()), n.body.size());
      mb->pos = 0;
    }
    if (n.state == OutNotify::State::terminated) {
      (void)sipevent_notify(it->second.not_, mb, SIPEVENT_TERMINATED, reason_of(n.reason), 0);
      mem_deref(it->second.not_);  // the notifier keeps itself alive until the NOTIFY is answered
      nots_.erase(it);
    } else {
      (void)sipevent_notify(it->second.not_, mb,
                            n.state == OutNotify::State::active ? SIPEVENT_ACTIVE : SIPEVENT_PENDING,
                            SIPEVENT_DEACTIVATED, 0);
    }
    mem_deref(mb);
  }

  // RFC 6665 §4.2.1.2: 200/202 with Expires, then at once a NOTIFY with the state.
  void accept_subscription(const sip_msg* msg, sip_strans** st, const SipReply& r) {
    bool fetch = pl_isset(&msg->expires) && pl_u32(&msg->expires) == 0;  // RFC 6665 §4.4.3: a fetch
    OutNotify first;
    first.sub_id = r.sub_id;
    first.seq = 1;
    first.state = fetch          ? OutNotify::State::terminated
                  : r.sub_active ? OutNotify::State::active
                                 : OutNotify::State::pending;
    first.reason = "timeout";
    first.body = r.body;
    std::string cuser = str(msg->uri.user);
    if (cuser.empty()) cuser = "parley";
    if (fast_ && fast_->accept(msg, st, r.sub_id, r.code, r.reason, cuser, r.content_type, first)) {
      if (fetch) ended(r.sub_id);
      return;
    }
    *st = static_cast<sip_strans*>(mem_deref(*st));  // sipevent_accept answers with its own
    sipevent_event ev{};
    const sip_hdr* eh = sip_msg_hdr(msg, SIP_HDR_EVENT);
    auto n = Notifier{};
    n.ctx = std::make_unique<NotCtx>(NotCtx{this, r.sub_id});
    const auto& ex = s_->cfg.event_expires;
    int err = !eh || sipevent_event_decode(&ev, &eh->val)
                  ? EINVAL
                  : sipevent_accept(&n.not_, evsock_, msg, nullptr, &ev, r.code, r.reason.c_str(), ex.min,
                                    ex.default_, ex.max, cuser.c_str(), r.content_type.c_str(), nullptr,
                                    nullptr, false, &Stack::on_not_close_c, n.ctx.get(), nullptr);
    if (err) {
      (void)sip_treplyf(nullptr, nullptr, sip_, msg, false, 500, "Server Internal Error",
                        "Content-Length: 0\r\n\r\n");
      ended(r.sub_id);
      return;
    }
    auto it = nots_.emplace(r.sub_id, std::move(n)).first;
    deliver(it, first);
    if (fetch) ended(r.sub_id);
  }

  // The core forgets the subscription (the libre side already did, or is doing so).
  void ended(std::uint64_t sub_id) {
    post_to_asio(rt_.core_strand, "sip: subscription ended", [w = core_, sub_id] {
      if (auto c = w.lock()) c->agent->subscription_ended(sub_id);
    });
  }

  // sipevent: the subscription timed out, was unsubscribed (Expires: 0), or a NOTIFY failed.
  static void on_not_close_c(int, const sip_msg*, void* arg) {
    auto* ctx = static_cast<NotCtx*>(arg);
    Stack* self = ctx->self;
    std::uint64_t id = ctx->sub_id;
    self->ended(id);
    // Not from inside libre's own call on this notifier: release it on the next turn.
    (void)post_to_libre(self->loop_, [self, id] {
      if (self->closed_) return;
      auto it = self->nots_.find(id);
      if (it == self->nots_.end()) return;
      mem_deref(it->second.not_);
      self->nots_.erase(it);
    });
  }

  void failed(const OutMessage& m, std::uint16_t code, std::string why) {
    post_to_asio(rt_.core_strand, "sip: delivery failed",
                 [w = core_, origin = m.origin, ref = m.ref_id, code, why = std::move(why)] {
                   if (auto c = w.lock()) c->registrar->delivery_failed(origin, ref, code, why);
                 });
  }

  static void on_response_c(int err, const sip_msg* msg, void* arg) {
    auto* ctx = static_cast<SendCtx*>(arg);
    Stack* self = ctx->self;
    if (!err && msg && msg->scode < 200) return;  // provisional: the final one follows
    std::uint16_t code = err || !msg ? 0 : msg->scode;
    std::string reason = err || !msg ? std::string(std::strerror(err)) : str(msg->reason);
    if (code < 200 || code >= 300) {
      OutMessage m;
      m.ref_id = ctx->ref_id;
      m.origin = ctx->origin;
      self->failed(m, code, reason);
    }
    self->sends_.erase(ctx);
  }

  static bool on_request_c(const sip_msg* msg, void* arg) {
    auto* self = static_cast<Stack*>(arg);
    try {
      // In-dialog SUBSCRIBE (refresh, unsubscribe) and NOTIFY go on to libre's sipevent
      // listener, after the same rate and size bounds.
      bool in_dialog = (pl_strcmp(&msg->met, "SUBSCRIBE") == 0 && pl_isset(&msg->to.tag)) ||
                       pl_strcmp(&msg->met, "NOTIFY") == 0;
      if (!self->closed_ && in_dialog) {
        if (!self->rate_ok(msg)) return true;  // dropped
        if (msg->mb && msg->mb->end > self->s_->cfg.max_request) {
          self->stateless(msg, 413, "Request Entity Too Large");
          return true;
        }
        if (self->fast_ && self->fast_->in_dialog(msg)) return true;  // a fast-path dialog's
        return false;
      }
      self->on_request(msg);
    } catch (const std::exception& e) {
      spdlog::error("sip: request handler: {}", e.what());
    }
    return true;  // every other request is ours
  }

  void stateless(const sip_msg* msg, std::uint16_t code, const char* reason,
                 const std::string& headers = {}) {
    (void)sip_replyf(sip_, msg, code, reason, "%sContent-Length: 0\r\n\r\n", headers.c_str());
  }

  bool rate_ok(const sip_msg* msg) { return rate_ok(address_of(msg->src, false), true); }
  // `take`: false only looks (the PUBLISH fast path takes its token once it holds the request).
  bool rate_ok(std::string ip, bool take) {
    // A federated presence server sends the NOTIFYs of every remote contact watched there.
    for (const auto& ips : peer_ips_)
      if (std::find(ips.begin(), ips.end(), ip) != ips.end()) return true;
    auto now = protocols::TokenBucket::Clock::now();
    if (buckets_.size() > 65'536) buckets_.clear();  // bounded: forgetting only forgives
    auto [it, fresh] =
        buckets_.try_emplace(std::move(ip), s_->cfg.requests_per_second, 2ull * s_->cfg.requests_per_second);
    if (it->second.wait(now).count() > 0) return false;
    if (take) it->second.take(1, now);
    return true;
  }

  // RFC 3261 §22.4 / RFC 7616: what an Authorization header must be before the core checks
  // the password (the account's HA1 and the nonce count are the core's). Both the PUBLISH
  // fast path and on_request use it; `refusal` says how on_request answers a failure.
  struct Refusal {
    std::uint16_t code = 401;
    const char* reason = "Unauthorized";
    bool challenge = true;  // with WWW-Authenticate
    bool stale = false;     // RFC 7616 §3.3: retry, same password
  };
  std::optional<DigestInput> checked_credentials(std::string_view authorization, std::string method,
                                                 Refusal& refusal) const {
    auto creds = sipt::parse_digest_credentials(authorization);
    if (!creds) {
      refusal = {400, "Bad Authorization Header", false};
      return std::nullopt;
    }
    auto alg = sipt::parse_digest_algorithm(creds->algorithm);
    auto nc = sipt::parse_nonce_count(creds->nc);
    if (!alg || creds->realm != s_->domain || creds->qop != "auth" || !nc) return std::nullopt;
    auto check = nonces_->check(creds->nonce, unix_seconds(), s_->cfg.nonce_lifetime);
    if (check.verdict == sipt::NonceIssuer::Verdict::invalid) return std::nullopt;
    if (check.verdict == sipt::NonceIssuer::Verdict::stale) {
      refusal.stale = true;
      return std::nullopt;
    }
    // The digest uri is inside the hash, so it cannot be altered; it need not equal the
    // Request-URI (sipp puts the server's address there; a proxy may rewrite the R-URI).
    // Replays are what the nonce count refuses.
    if (creds->uri.rfind("sip", 0) != 0) {
      refusal = {400, "Bad Digest URI", false};
      return std::nullopt;
    }
    if (!core::is_valid_local_name(creds->username)) {
      refusal = {403, "Forbidden", false};
      return std::nullopt;
    }
    return DigestInput{std::move(creds->username),
                       std::move(creds->realm),
                       std::move(creds->nonce),
                       std::move(creds->uri),
                       std::move(creds->response),
                       std::move(creds->cnonce),
                       std::move(creds->qop),
                       std::move(method),
                       *nc,
                       check.issued,
                       *alg};
  }

  std::string challenges(bool stale) const {
    std::string out;
    auto nonce = nonces_->issue(unix_seconds());
    for (auto a : s_->algorithms)
      out += "WWW-Authenticate: " + sipt::digest_challenge(a, s_->domain, nonce, stale) + "\r\n";
    return out;
  }

  void on_request(const sip_msg* msg) {
    if (closed_) return;
    if (!rate_ok(msg)) {  // a flood from one address costs it its answers, not us our CPU
      if (msg->tp != SIP_TRANSP_UDP) stateless(msg, 503, "Service Unavailable", "Retry-After: 5\r\n");
      return;
    }
    if (pl_strcmp(&msg->met, "ACK") == 0) return;
    if (msg->mb && msg->mb->end > s_->cfg.max_request) return stateless(msg, 413, "Request Entity Too Large");
    if (!pl_isset(&msg->callid) || !pl_isset(&msg->from.auri) || !pl_isset(&msg->to.auri) || !msg->cseq.num ||
        pl_strcmp(&msg->cseq.met, str(msg->met).c_str()) != 0)
      return stateless(msg, 400, "Missing or Bad Mandatory Header");
    bool is_register = pl_strcmp(&msg->met, "REGISTER") == 0;
    bool is_message = pl_strcmp(&msg->met, "MESSAGE") == 0;
    bool is_publish = pl_strcmp(&msg->met, "PUBLISH") == 0;
    bool is_subscribe = pl_strcmp(&msg->met, "SUBSCRIBE") == 0;
    if (pl_strcmp(&msg->met, "OPTIONS") == 0)
      return stateless(msg, 200, "OK",
                       std::string(kAllow) + kAllowEvents +
                           "Accept: text/plain, application/im-iscomposing+xml, application/pidf+xml\r\n");
    if (!is_register && !is_message && !is_publish && !is_subscribe)
      return stateless(msg, 405, "Method Not Allowed", kAllow);

    bool composing = false;
    if (is_message) {  // RFC 3428 §7: checks that need no account come first
      composing = msg_ctype_cmp(&msg->ctyp, "application", "im-iscomposing+xml");  // RFC 3994
      if (!composing && !msg_ctype_cmp(&msg->ctyp, "text", "plain"))
        return stateless(msg, 415, "Unsupported Media Type",
                         "Accept: text/plain, application/im-iscomposing+xml\r\n");
      if (mbuf_get_left(msg->mb) > s_->cfg.max_message)
        return stateless(msg, 413, "Request Entity Too Large");
    }
    EventPackage package = EventPackage::presence;
    if (is_publish || is_subscribe) {  // RFC 6665 §8.2.1 / RFC 3903 §6 steps 2-5, before any account
      const sip_hdr* eh = sip_msg_hdr(msg, SIP_HDR_EVENT);
      sipevent_event ev{};
      if (!eh || sipevent_event_decode(&ev, &eh->val)) return stateless(msg, 489, "Bad Event", kAllowEvents);
      if (pl_strcasecmp(&ev.event, "presence") == 0)
        package = EventPackage::presence;
      else if (is_subscribe && pl_strcasecmp(&ev.event, "presence.winfo") == 0)
        package = EventPackage::winfo;
      else
        return stateless(msg, 489, "Bad Event", is_publish ? "Allow-Events: presence\r\n" : kAllowEvents);
      if (is_publish && mbuf_get_left(msg->mb) > 0) {
        if (!msg_ctype_cmp(&msg->ctyp, "application", "pidf+xml"))
          return stateless(msg, 415, "Unsupported Media Type", "Accept: application/pidf+xml\r\n");
        if (mbuf_get_left(msg->mb) > sipt::kMaxPresenceDocument)
          return stateless(msg, 413, "Request Entity Too Large");
      }
      if (is_subscribe && mbuf_get_left(msg->mb) > 0) return stateless(msg, 415, "Unsupported Media Type");
      if (pl_isset(&msg->expires)) {
        auto e = pl_u32(&msg->expires);
        if (e != 0 && e < s_->cfg.event_expires.min)
          return stateless(msg, 423, "Interval Too Brief",
                           "Min-Expires: " + std::to_string(s_->cfg.event_expires.min) + "\r\n");
      }
      std::string host = str(msg->uri.host);
      sa literal{};
      if (host != s_->domain && sa_set_str(&literal, host.c_str(), 0) != 0)
        return stateless(msg, 404, "Not Found");
    }

    if (is_message && !composing && federated(msg)) return federated_message(msg);
    if (is_subscribe && package == EventPackage::presence && federated(msg)) return federated_subscribe(msg);

    // RFC 3261 §22.4 / RFC 7616: authenticate every REGISTER and MESSAGE.
    const sip_hdr* auth = sip_msg_hdr(msg, SIP_HDR_AUTHORIZATION);
    if (!auth) return stateless(msg, 401, "Unauthorized", challenges(false));
    Refusal refused;
    auto checked = checked_credentials(std::string_view(auth->val.p, auth->val.l), str(msg->met), refused);
    if (!checked)
      return stateless(msg, refused.code, refused.reason, refused.challenge ? challenges(refused.stale) : "");

    auto held = hold_for_core(msg);
    if (!held) return;
    const std::uint64_t id = *held;

    DigestInput d = std::move(*checked);
    std::string source = address_of(msg->src, true);
    std::string ip = address_of(msg->src, false);

    if (is_register) {
      RegisterRequest r;
      r.user = str(msg->to.uri.user);
      r.source = source;
      r.call_id = str(msg->callid);
      r.cseq = msg->cseq.num;
      if (pl_isset(&msg->expires)) r.expires = pl_u32(&msg->expires);
      bool bad = false;
      std::pair<RegisterRequest*, bool*> acc{&r, &bad};
      sip_msg_hdr_apply(
          msg, true, SIP_HDR_CONTACT,
          [](const sip_hdr* h, const sip_msg*, void* arg) -> bool {
            auto* rr = static_cast<std::pair<RegisterRequest*, bool*>*>(arg);
            ContactParam c;
            if (pl_strcmp(&h->val, "*") == 0) {
              c.star = true;
            } else {
              sip_addr a{};
              if (sip_addr_decode(&a, &h->val) || a.auri.l > 512 || rr->first->contacts.size() >= 32) {
                *rr->second = true;
                return true;
              }
              c.uri = str(a.auri);
              pl e{};
              if (!msg_param_decode(&a.params, "expires", &e)) c.expires = pl_u32(&e);
            }
            rr->first->contacts.push_back(std::move(c));
            return false;
          },
          &acc);
      if (bad) return reply(id, {400, "Bad Contact", {}, 0, false, {}, {}});
      to_core(id, std::move(d), ip, [r = std::move(r)](CoreSide& c, const std::string& user) -> SipReply {
        // RFC 3261 §10.3 step 6: only the account itself may change its bindings.
        if (r.user != user) return {403, "Forbidden", {}};
        return c.registrar->register_bindings(r);
      });
      return;
    }
    std::string_view raw(reinterpret_cast<const char*>(mbuf_buf(msg->mb)), mbuf_get_left(msg->mb));
    if (is_publish) {
      PublishRequest pr;
      pr.user = str(msg->uri.user);
      pr.source = source;
      if (const sip_hdr* m = sip_msg_xhdr(msg, "SIP-If-Match"))
        pr.if_match = sipt::header_safe(str(m->val), 64);
      if (pl_isset(&msg->expires)) pr.expires = pl_u32(&msg->expires);
      pr.body.assign(raw);
      to_core(id, std::move(d), ip, [pr = std::move(pr)](CoreSide& c, const std::string& user) -> SipReply {
        if (pr.user != user) return {403, "Forbidden", {}};  // one publishes only oneself
        return c.agent->publish(pr);
      });
      return;
    }
    if (is_subscribe) {
      to_core(
          id, std::move(d), ip,
          [target = str(msg->uri.user), source, package](CoreSide& c, const std::string& user) -> SipReply {
            return c.agent->subscribe(user, source, target, package);
          });
      return;
    }
    core::ChatState chat_state = core::ChatState::none;
    std::optional<std::string> body;
    if (composing) {  // RFC 3994 -> XEP-0085: active is composing, idle is paused
      auto c = sipt::parse_is_composing(raw);
      if (!c) return reply(id, {400, "Bad isComposing Document", {}});
      chat_state = c->active ? core::ChatState::composing : core::ChatState::paused;
      body = std::string();
    } else {
      body = sipt::clean_text_body(raw);
      if (!body || body->empty()) return reply(id, {400, body ? "Empty Body" : "Body Not UTF-8", {}});
    }
    const sip_hdr* subj = sip_msg_hdr(msg, SIP_HDR_SUBJECT);
    std::string subject = subj ? sipt::header_safe(std::string_view(subj->val.p, subj->val.l)) : "";
    std::string to = str(msg->uri.user);
    {
      // Our users (our domain, or one of our addresses), or a contact of a federated domain
      // (sip.federation[]): that one leaves as a MESSAGE through the entry's proxy
      // (Federation is the core's route for sip: addresses).
      std::string host = str(msg->uri.host);
      sa literal{};
      const bool federated =
          host != s_->domain && std::any_of(s_->peers.begin(), s_->peers.end(), [&](const auto& peer) {
            return protocols::ascii_equal_fold(peer.domain, host);
          });
      if (federated)
        to = "sip:" + to + "@" + host;
      else if (host != s_->domain && sa_set_str(&literal, host.c_str(), 0) != 0)
        return reply(id, {404, "Not Found", "Warning: 399 parley \"no route to that domain\"\r\n"});
    }
    to_core(id, std::move(d), ip,
            [to, source, body = std::move(*body), subject, cid = str(msg->callid), chat_state](
                CoreSide& c, const std::string& user) {
              return c.registrar->receive_message(user, source, to, body, subject, cid, chat_state);
            });
  }

  // A MESSAGE relayed by a federation entry's proxy from a user of its domain
  // (adapters/sip/federation.hpp): UDP from the proxy's address and port, TCP/TLS from its
  // address, and From at the entry's domain.
  bool federated(const sip_msg* msg) const {
    if (s_->peers.empty()) return false;
    const std::string ip = address_of(msg->src, false), host = str(msg->from.uri.host);
    for (std::size_t i = 0; i < s_->peers.size() && i < peer_ips_.size(); ++i) {
      const auto& p = s_->peers[i];
      if (protocols::ascii_equal_fold(p.domain, host) && (msg->tp == SIP_TRANSP_UDP) == p.udp &&
          (!p.udp || sa_port(&msg->src) == p.port) &&
          std::find(peer_ips_[i].begin(), peer_ips_[i].end(), ip) != peer_ips_[i].end())
        return true;
    }
    return false;
  }

  // A server transaction the core strand answers later (reply(id, ...)); nullopt when it
  // has been answered here already: 503 over sip.max_pending, 500 when libre refused it.
  std::optional<std::uint64_t> hold_for_core(const sip_msg* msg) {
    if (pending_.size() + pubs_.pending() >= s_->cfg.max_pending) {
      stateless(msg, 503, "Service Unavailable", "Retry-After: 5\r\n");
      return std::nullopt;
    }
    Pending p;
    if (sip_strans_alloc(&p.st, sip_, msg, nullptr, nullptr)) {
      stateless(msg, 500, "Server Internal Error");
      return std::nullopt;
    }
    p.msg = static_cast<sip_msg*>(mem_ref(const_cast<sip_msg*>(msg)));
    const std::uint64_t id = next_id_++;
    pending_.emplace(id, p);
    return id;
  }

  void federated_message(const sip_msg* msg) {
    std::string_view raw(reinterpret_cast<const char*>(mbuf_buf(msg->mb)), mbuf_get_left(msg->mb));
    auto body = sipt::clean_text_body(raw);
    if (!body || body->empty()) return stateless(msg, 400, body ? "Empty Body" : "Body Not UTF-8");
    if (str(msg->uri.host) != s_->domain) return stateless(msg, 404, "Not Found");
    auto held = hold_for_core(msg);
    if (!held) return;
    const std::uint64_t id = *held;
    const sip_hdr* subj = sip_msg_hdr(msg, SIP_HDR_SUBJECT);
    std::string subject = subj ? sipt::header_safe(std::string_view(subj->val.p, subj->val.l)) : "";
    std::string from = "sip:" + str(msg->from.uri.user) + "@" + str(msg->from.uri.host);
    Stack* self = this;
    LibreLoop* loop = &loop_;
    post_to_asio(rt_.core_strand, "sip: federated message",
                 [self, loop, w = core_, id, from, to = str(msg->uri.user), body = std::move(*body), subject,
                  cid = str(msg->callid)]() mutable {
                   auto c = w.lock();
                   if (!c) return;
                   SipReply r = c->federation
                                    ? c->federation->receive_message(from, to, std::move(body),
                                                                     std::move(subject), std::move(cid))
                                    : SipReply{404, "Not Found", {}};
                   if (!post_to_libre(*loop, [self, id, r = std::move(r)] { self->reply(id, r); }))
                     spdlog::warn("sip: libre queue full or stopped; a reply was dropped");
                 });
  }

  // A SUBSCRIBE (presence) relayed by a federation entry's proxy from a user of its domain,
  // same source check as federated_message: the presence agent takes it as a foreign
  // watcher, pending until the local user allows it (no digest: the proxy vouches).
  void federated_subscribe(const sip_msg* msg) {
    auto held = hold_for_core(msg);
    if (!held) return;
    const std::uint64_t id = *held;
    std::string host = protocols::ascii_fold(str(msg->from.uri.host));
    std::string from = "sip:" + str(msg->from.uri.user) + "@" + host;
    Stack* self = this;
    LibreLoop* loop = &loop_;
    post_to_asio(rt_.core_strand, "sip: federated subscribe",
                 [self, loop, w = core_, id, from, host, to = str(msg->uri.user)] {
                   auto c = w.lock();
                   if (!c) return;
                   const auto* e = c->federation ? c->federation->entry_for(host) : nullptr;
                   SipReply r = !e || !parse_sip_aor(from)
                                    ? SipReply{403, "Forbidden", {}}
                                    : c->agent->subscribe_federated(from, to, e->max_subscriptions);
                   if (!post_to_libre(*loop, [self, id, r = std::move(r)] { self->reply(id, r); }))
                     spdlog::warn("sip: libre queue full or stopped; a reply was dropped");
                 });
  }

  // On the core strand: the digest response, the nonce count, then `then`; the answer
  // goes back to the libre thread.
  template <class F>
  void to_core(std::uint64_t id, DigestInput d, std::string ip, F then) {
    Stack* self = this;
    LibreLoop* loop = &loop_;
    auto issuer = nonces_;
    auto settings = s_;
    post_to_asio(
        rt_.core_strand, "sip: request",
        [self, loop, issuer, settings, w = core_, rt = &rt_, id, d = std::move(d), ip = std::move(ip),
         then = std::move(then)]() mutable {
          auto c = w.lock();
          if (!c) return;  // the plugin stopped: the libre loop is gone with it
          SipReply r = [&]() -> SipReply {
            if (rt->auth) {
              auto v = rt->auth->throttle().check(ip, d.user);
              if (v.refused) {
                auto s = std::chrono::duration_cast<std::chrono::seconds>(v.retry_after).count();
                return {503, "Service Unavailable",
                        "Retry-After: " + std::to_string(std::max<long long>(1, s)) + "\r\n"};
              }
            }
            auto ha1 = rt->core.directory().digest_ha1(d.user, d.realm,
                                                       d.algorithm == sipt::DigestAlgorithm::sha256);
            // An unknown user costs the same hash as a known one.
            char nc_hex[9];
            std::snprintf(nc_hex, sizeof nc_hex, "%08x", d.nc);
            std::string expected = sipt::digest_response(d.algorithm, ha1 ? *ha1 : std::string(64, '0'),
                                                         d.nonce, nc_hex, d.cnonce, d.qop, d.method, d.uri);
            std::string given = d.response;
            for (char& ch : given) ch = protocols::ascii_lower(ch);
            if (!ha1 || !sipt::constant_time_equal(expected, given)) {
              if (rt->auth) rt->auth->throttle().failure(ip, d.user);
              return {403, "Forbidden", {}};
            }
            // RFC 7616 §3.4: a count that does not grow is a replay: challenge again.
            if (!c->counts.accept(d.user, d.nonce, d.issued, d.nc)) {
              std::string h;
              auto nonce = issuer->issue(unix_seconds());
              for (auto a : settings->algorithms)
                h += "WWW-Authenticate: " + sipt::digest_challenge(a, settings->domain, nonce, true) + "\r\n";
              return {401, "Unauthorized", h};
            }
            return then(*c, d.user);
          }();
          // The NOTIFYs this request caused (a PUBLISH's fan-out) ride with its reply: one
          // libre wake-up for both (the batch's own flush then finds nothing to do), or none
          // when a small batch runs here while the libre thread sleeps (to_libre_small).
          std::vector<OutNotify> notifies;
          notifies.swap(c->notify_batch);
          const std::size_t count = notifies.size();
          std::function<void()> fn = [self, id, r = std::move(r), notifies = std::move(notifies)]() mutable {
            self->batch_coming(notifies.size());
            self->reply(id, r);
            for (auto& n : notifies) self->notify(std::move(n));
          };
          if (!to_libre_small(*loop, count, fn))
            spdlog::warn("sip: libre queue full or stopped; a reply and {} NOTIFYs were dropped", count);
        });
  }

  Runtime& rt_;
  LibreLoop& loop_;
  std::shared_ptr<const Settings> s_;
  std::shared_ptr<const sipt::NonceIssuer> nonces_;
  std::weak_ptr<CoreSide> core_;
  struct sip* sip_ = nullptr;
  struct tls* tls_ = nullptr;
  sip_lsnr* lsnr_ = nullptr;
  sipevent_sock* evsock_ = nullptr;
  bool closed_ = false;
  static constexpr std::uint64_t kSweepMs = 2000;
  struct tmr sweep_tmr_ {};
  bool admission_on_ = false;
  std::unordered_map<std::uint64_t, Notifier> nots_;  // by the agent's subscription id
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::unordered_map<SendCtx*, std::unique_ptr<SendCtx>> sends_;
  std::unordered_map<std::string, protocols::TokenBucket> buckets_;
  std::unique_ptr<FedClient> fed_;
  // By federation entry: the addresses its proxy may send from (an IP literal's at once,
  // a name's after each lookup; Settings::peers has the rest).
  std::vector<std::vector<std::string>> peer_ips_ = initial_peer_ips(*s_);
  static std::vector<std::vector<std::string>> initial_peer_ips(const Settings& s) {
    std::vector<std::vector<std::string>> out;
    for (const auto& p : s.peers)
      out.push_back(p.ip.empty() ? std::vector<std::string>{} : std::vector{p.ip});
    return out;
  }
  std::unique_ptr<FastNotifier> fast_;  // null: every subscription on libre's notifier
  PublishTransactions pubs_;            // the PUBLISH fast path's server transactions
};

class SipPlugin final : public core::Plugin {
 public:
  SipPlugin(Runtime& rt, const config::Config& cfg) : rt_(rt), cfg_(cfg) {}
  ~SipPlugin() override { stop(); }
  std::string_view name() const override { return "sip"; }

  core::Status start() override {
    auto s = std::make_shared<Settings>();
    s->cfg = cfg_.sip;
    s->domain = config::sip_domain(cfg_);
    if (std::any_of(cfg_.sip.listen.begin(), cfg_.sip.listen.end(), [](const auto& a) { return a.tls(); })) {
      if (auto why = tls_pems(*s); !why.empty())
        return core::make_error(core::Condition::internal_server_error, why);
    }
    for (const auto& a : cfg_.sip.digest_algorithms)
      if (auto alg = sipt::parse_digest_algorithm(a)) s->algorithms.push_back(*alg);
    for (const auto& f : cfg_.sip.federation) {  // one per entry, in order (Ops::peers counts on it)
      auto a = protocols::parse_proxy_address(f.proxy);
      s->peers.push_back({a && !a->name ? a->host : std::string(), f.domain, a ? a->port : std::uint16_t{0},
                          !a || a->transport == protocols::Transport::udp});
    }
    settings_ = s;
    if (rt_.core.directory().digest_realm() != s->domain)
      spdlog::warn("sip: digest realm {} differs from the directory's; registrations will fail", s->domain);
    nonces_ = std::make_shared<const sipt::NonceIssuer>();
    core_ = std::make_shared<CoreSide>();
    auto* loop = &loop_;
    core_->registrar = std::make_shared<Registrar>(rt_, cfg_.sip, s->domain, [this, loop](OutMessage m) {
      Stack* st = stack_.get();
      if (!post_to_libre(*loop, [st, m = std::move(m)] { st->send_message(m); }))
        spdlog::warn("sip: libre queue full or stopped; a MESSAGE was dropped");
    });
    core_->agent = std::make_shared<PresenceAgent>(rt_, cfg_.sip, s->domain, core_->registrar,
                                                   [this](OutNotify n) { queue_notify(std::move(n)); });
    core_->registrar->set_events(core_->agent.get());
    if (!cfg_.sip.federation.empty()) {
      Federation::Ops ops;
      ops.subscribe = [this, loop](FedSubscribe f) {
        Stack* st = stack_.get();
        if (!post_to_libre(*loop, [st, f = std::move(f)] {
              if (auto* c = st->fed()) c->subscribe(f);
            }))
          spdlog::warn("sip: libre queue full or stopped; a federation SUBSCRIBE was dropped");
      };
      ops.unsubscribe = [this, loop](std::uint64_t id) {
        Stack* st = stack_.get();
        (void)post_to_libre(*loop, [st, id] {
          if (auto* c = st->fed()) c->unsubscribe(id);
        });
      };
      ops.publish = [this, loop](FedPublish f) {
        Stack* st = stack_.get();
        if (!post_to_libre(*loop, [st, f = std::move(f)] {
              if (auto* c = st->fed()) c->publish(f);
            }))
          spdlog::warn("sip: libre queue full or stopped; a federation PUBLISH was dropped");
      };
      ops.message = [this, loop](FedMessage f) {
        Stack* st = stack_.get();
        std::uint64_t id = f.id;
        if (!post_to_libre(*loop, [st, f = std::move(f)] {
              if (auto* c = st->fed()) c->message(f);
            })) {
          spdlog::warn("sip: libre queue full or stopped; a federation MESSAGE was dropped");
          // Answered on a later turn: deliver() is still running on this strand.
          post_to_asio(rt_.core_strand, "sip federation: message dropped", [w = std::weak_ptr(core_), id] {
            if (auto c = w.lock(); c && c->federation) c->federation->message_answered(id, 503, "Queue Full");
          });
        }
      };
      ops.peers = [this, loop](std::size_t entry, std::vector<ProxyIp> ips) {
        Stack* st = stack_.get();
        std::vector<std::string> list;
        for (auto& a : ips) list.push_back(std::move(a.ip));
        if (!post_to_libre(*loop, [st, entry, list = std::move(list)]() mutable {
              st->set_peer_ips(entry, std::move(list));
            }))
          spdlog::warn("sip: libre queue full or stopped; a federation proxy's new addresses were dropped");
      };
      core_->federation = std::make_shared<Federation>(rt_, cfg_.sip, s->domain, std::move(ops));
    }
    if (auto why = loop_.start(); !why.empty())
      return core::make_error(core::Condition::internal_server_error, why);
    stack_ = std::make_unique<Stack>(rt_, loop_, settings_, nonces_, core_);
    std::promise<std::string> opened;
    auto result = opened.get_future();
    Stack* st = stack_.get();
    if (!post_to_libre(loop_, [st, &opened] { opened.set_value(st->open()); }))
      return core::make_error(core::Condition::internal_server_error, "sip: cannot reach the libre thread");
    if (auto why = result.get(); !why.empty()) {
      post_to_libre(loop_, [st] { st->close(); });
      loop_.stop();
      stack_.reset();
      return core::make_error(core::Condition::internal_server_error, why);
    }
    core_->registrar->start();
    core_->agent->start();
    if (core_->federation) core_->federation->start();
    started_ = true;
    return {};
  }

  // On the core strand: NOTIFYs go to the libre thread in batches. The first of a batch
  // queues the flush behind the strand's current work (the rest of a fan-out, a PUBLISH's
  // own reply), so a presence change reaching N watchers costs one libre wake-up and one
  // queue entry instead of N (issue 12's bench: the per-NOTIFY mutex, std::function and
  // futex wake were ~2 µs). Order is kept: a batch is posted after the accept of every
  // subscription it contains (that reply was posted by an earlier strand turn), and the
  // libre side still drops any NOTIFY older than one it has sent.
  void queue_notify(OutNotify n) {
    constexpr std::size_t kMaxBatch = 16384;  // bounded: a larger fan-out goes in several
    auto& batch = core_->notify_batch;
    batch.push_back(std::move(n));
    if (batch.size() >= kMaxBatch) return flush_notifies(*core_);
    if (batch.size() > 1) return;  // the flush is queued
    post_to_asio(rt_.core_strand, "sip: notify batch", [this, w = std::weak_ptr(core_)] {
      if (auto c = w.lock()) flush_notifies(*c);
    });
  }

  void flush_notifies(CoreSide& c) {
    if (c.notify_batch.empty()) return;
    Stack* st = stack_.get();
    std::vector<OutNotify> batch;
    batch.swap(c.notify_batch);
    std::size_t n = batch.size();
    std::function<void()> fn = [st, batch = std::move(batch)]() mutable {
      st->batch_coming(batch.size());
      for (auto& x : batch) st->notify(std::move(x));
    };
    if (!to_libre_small(loop_, n, fn))
      spdlog::warn("sip: libre queue full or stopped; {} NOTIFYs were dropped", n);
  }

  void stop() override {
    if (!started_) return;
    started_ = false;
    std::size_t withdrawals = core_ && core_->federation ? core_->federation->stop() : 0;
    Stack* st = stack_.get();
    if (withdrawals) await_publishes(st);
    post_to_libre(loop_, [st] { st->close(); });
    loop_.stop();  // runs the close, leaves re_main, joins
    stack_.reset();
    if (core_) {
      core_->registrar->set_events(nullptr);
      core_->agent->stop();
      core_->registrar->stop("server shutting down");
    }
    core_.reset();
  }

 private:
  // The federation's PUBLISH withdrawals (Expires: 0) were queued to the libre thread:
  // give their transactions up to kWithdrawWait to be answered before the stack closes
  // (a dead server costs shutdown that long, no more).
  void await_publishes(Stack* st) {
    constexpr auto kWithdrawWait = std::chrono::seconds(2);
    auto deadline = std::chrono::steady_clock::now() + kWithdrawWait;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::make_shared<std::promise<std::size_t>>();
      auto answer = left->get_future();
      if (!post_to_libre(loop_, [st, left] { left->set_value(st->fed_publishes()); })) return;
      if (answer.wait_until(deadline) != std::future_status::ready) break;
      if (answer.get() == 0) {
        spdlog::info("sip federation: publications withdrawn");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    spdlog::warn("sip federation: publications not withdrawn within {} s; closing anyway",
                 std::chrono::duration_cast<std::chrono::seconds>(kWithdrawWait).count());
  }

  // The PEM pair for libre: sip.tls's files, else the daemon's identity (xmpp.c2s.tls or
  // the generated self-signed pair), taken from its OpenSSL context. Main thread, at start.
  std::string tls_pems(Settings& s) {
    if (!cfg_.sip.tls.cert.empty()) {
      auto read = [](const std::string& path, std::string& out) {
        std::ifstream in(path, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        out = ss.str();
        return in.good() || in.eof();
      };
      if (!read(cfg_.sip.tls.cert, s.tls_cert_pem) || !read(cfg_.sip.tls.key, s.tls_key_pem) ||
          s.tls_cert_pem.empty() || s.tls_key_pem.empty())
        return "sip.tls: cannot read " + cfg_.sip.tls.cert + " or " + cfg_.sip.tls.key;
      return {};
    }
    auto ctx = rt_.tls ? rt_.tls->current() : nullptr;
    if (!ctx) return "sip.listen: a tls: listener needs a certificate (sip.tls or the server's)";
    SSL_CTX* native = ctx->native_handle();
    X509* cert = SSL_CTX_get0_certificate(native);
    EVP_PKEY* key = SSL_CTX_get0_privatekey(native);
    if (!cert || !key) return "sip.listen: the server's TLS context has no certificate";
    auto pem = [](auto write) {
      BIO* bio = BIO_new(BIO_s_mem());
      std::string out;
      if (bio && write(bio) == 1) {
        char* data = nullptr;
        long n = BIO_get_mem_data(bio, &data);
        out.assign(data, static_cast<std::size_t>(n));
      }
      BIO_free(bio);
      return out;
    };
    s.tls_cert_pem = pem([&](BIO* b) { return PEM_write_bio_X509(b, cert); });
    s.tls_key_pem =
        pem([&](BIO* b) { return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
    if (s.tls_cert_pem.empty() || s.tls_key_pem.empty()) return "sip: cannot export the server's certificate";
    return {};
  }

  Runtime& rt_;
  const config::Config& cfg_;
  LibreLoop loop_;
  std::shared_ptr<const Settings> settings_;
  std::shared_ptr<const sipt::NonceIssuer> nonces_;
  std::shared_ptr<CoreSide> core_;
  std::unique_ptr<Stack> stack_;
  bool started_ = false;
};

}  // namespace

std::unique_ptr<core::Plugin> make_sip_plugin(adapters::Runtime& rt, const config::Config& cfg) {
  return std::make_unique<SipPlugin>(rt, cfg);
}

}  // namespace parley::adapters::sip

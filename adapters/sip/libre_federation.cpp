#include "adapters/sip/libre_federation.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <re.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "adapters/sip/libre_pl.hpp"
#include "protocols/sip/text.hpp"

// libre exports it (tls/openssl/tls.c) but declares it only under USE_OPENSSL, which its
// pkg-config flags do not set.
extern "C" struct ssl_ctx_st* tls_openssl_context(const struct tls* tls);

namespace parley::adapters::sip {

namespace {

// TLS to a federation proxy. libre 1.1.0's SIP transport opens an outgoing TLS connection
// with the tls: listener's context and checks nothing: tls_alloc sets no verify mode and
// sip/transp.c conn_send calls tls_start_tcp without a host (no chain check, no name
// check, no SNI). An SSL object copies its context's verify mode, callback and
// X509_VERIFY_PARAM (the host name or IP to match) when it is created (SSL_new), and libre
// creates it inside the request call on this thread (sip_requestf / sipevent_subscribe ->
// sip_request -> conn_send -> tls_start_tcp: the route is an IP literal, so no lookup
// defers the send). So around each request this file starts through a tls: proxy, the
// context asks for a chain to a trusted CA (the system's: SSL_CTX_set_default_verify_paths,
// which honours SSL_CERT_FILE / SSL_CERT_DIR) whose certificate matches the proxy's
// configured HOST NAME (RFC 5922 §7.2: subjectAltName DNS, else the CN; an IP literal
// proxy: an IP subjectAltName), never the address it resolved to; then the context is put
// back, so TLS accepted from UAs stays as it was. A connection libre already holds to that
// address is reused as it is (checked when it was opened). Not covered: a connection
// libre opens on its own for an in-dialog request (a subscription refresh after the
// proxy closed the connection) is not checked; docs/PLUGINS.md says so.
class TlsVerifyScope {
 public:
  TlsVerifyScope(SSL_CTX* ctx, const std::string& host) : ctx_(host.empty() ? nullptr : ctx) {
    if (!ctx_) return;
    X509_VERIFY_PARAM* p = SSL_CTX_get0_param(ctx_);
    X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_ip_asc(p, host.c_str()) != 1) {  // not an IP literal: a name
      ERR_clear_error();
      X509_VERIFY_PARAM_set1_host(p, host.c_str(), host.size());
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, &TlsVerifyScope::verify);
  }
  ~TlsVerifyScope() {
    if (!ctx_) return;
    X509_VERIFY_PARAM* p = SSL_CTX_get0_param(ctx_);
    X509_VERIFY_PARAM_set1_host(p, nullptr, 0);
    X509_VERIFY_PARAM_set1_ip(p, nullptr, 0);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  }
  TlsVerifyScope(const TlsVerifyScope&) = delete;
  TlsVerifyScope& operator=(const TlsVerifyScope&) = delete;

 private:
  // The handshake stops on a refused certificate; say which and why (the request then
  // fails like one without an answer, and the federation backs off).
  static int verify(int ok, X509_STORE_CTX* x) {
    if (ok) return 1;
    X509* cert = X509_STORE_CTX_get_current_cert(x);
    char subject[256] = "?";
    if (cert) X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    const char* host = X509_VERIFY_PARAM_get0_host(X509_STORE_CTX_get0_param(x), 0);
    char* ip = X509_VERIFY_PARAM_get1_ip_asc(X509_STORE_CTX_get0_param(x));
    spdlog::warn("sip federation: TLS certificate of the proxy refused (expected {}): {} (depth {}, {})",
                 host ? host
                 : ip ? ip
                      : "?",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)),
                 X509_STORE_CTX_get_error_depth(x), protocols::sip::header_safe(subject, 200));
    OPENSSL_free(ip);
    return 0;
  }
  SSL_CTX* ctx_;
};

// The credentials libre's client digest asks for, as a libre object: sip_auth keeps a
// reference (aref), so a subscriber that libre keeps alive to unsubscribe after we let
// go of it (RFC 6665 §4.1.2.3) can still answer a challenge.
struct Creds {
  char* user = nullptr;
  char* password = nullptr;
};

void creds_destructor(void* arg) {
  auto* c = static_cast<Creds*>(arg);
  mem_deref(c->user);
  mem_deref(c->password);
}

Creds* make_creds(const std::string& user, const std::string& password) {
  auto* c = static_cast<Creds*>(mem_zalloc(sizeof(Creds), creds_destructor));
  if (!c) return nullptr;
  if (str_dup(&c->user, user.c_str()) || str_dup(&c->password, password.c_str()))
    return static_cast<Creds*>(mem_deref(c));
  return c;
}

// RFC 3261 §22.2: libre asks for credentials for the realm of a 401/407 challenge.
int auth_h(char** user, char** pass, const char* realm, void* arg) {
  (void)realm;
  auto* c = static_cast<const Creds*>(arg);
  if (!c || !c->user || !*c->user) return EAUTH;  // no credentials configured: the 401 stands
  int err = str_dup(user, c->user);
  if (!err) err = str_dup(pass, c->password);
  return err;
}

}  // namespace

struct FedClient::Sub {
  FedClient* self = nullptr;
  std::uint64_t id = 0;
  std::string uri, route;
  sipsub* sub = nullptr;
};

struct FedClient::Pub {
  FedClient* self = nullptr;
  FedPublish p;
  std::string route;
  sip_auth* auth = nullptr;
  std::uint32_t cseq = 1;
  unsigned long long callid = 0, tag = 0;
  int auth_tries = 0;
};

struct FedClient::Msg {
  FedClient* self = nullptr;
  FedMessage m;
  std::string route;
  sip_auth* auth = nullptr;
  std::uint32_t cseq = 1;
  unsigned long long callid = 0, tag = 0;
  int auth_tries = 0;
};

FedClient::FedClient(Runtime& rt, LibreLoop& loop, std::weak_ptr<Federation> core, struct ::sip* sip,
                     sipevent_sock* evsock, struct tls* tls)
    : rt_(rt), loop_(loop), core_(std::move(core)), sip_(sip), evsock_(evsock), tls_(tls) {
  // The trust store for checking tls: proxies (TlsVerifyScope); the server side never
  // asks for client certificates, so this changes nothing for UAs.
  if (tls_ && SSL_CTX_set_default_verify_paths(tls_openssl_context(tls_)) != 1)
    spdlog::warn("sip federation: the system's CA certificates could not be loaded; tls: proxies will fail");
}

SSL_CTX* FedClient::ssl_context() const { return tls_ ? tls_openssl_context(tls_) : nullptr; }

FedClient::~FedClient() = default;  // close() ran on the libre thread

void FedClient::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& [id, s] : subs_) s->sub = static_cast<sipsub*>(mem_deref(s->sub));  // libre unsubscribes
  for (auto& [id, p] : pubs_) p->auth = static_cast<sip_auth*>(mem_deref(p->auth));
  for (auto& [id, m] : msgs_) m->auth = static_cast<sip_auth*>(mem_deref(m->auth));
  // The contexts stay until the destructor: sip_close may still answer pending requests.
}

void FedClient::subscribe(const FedSubscribe& in) {
  if (closed_) return;
  auto s = std::make_unique<Sub>();
  s->self = this;
  s->id = in.id;
  s->uri = in.uri;
  s->route = in.target.route;
  const char* routev[] = {s->route.c_str()};
  Sub* raw = s.get();
  subs_[in.id] = std::move(s);

  // NOTIFY (RFC 6665 §4.1.3): vetted here; a bad body is refused and reaches nobody.
  auto notify_h = [](struct ::sip* sip, const sip_msg* msg, void* arg) {
    auto* sub = static_cast<Sub*>(arg);
    std::string_view body(reinterpret_cast<const char*>(mbuf_buf(msg->mb)), mbuf_get_left(msg->mb));
    auto v = vet_notify_body(msg_ctype_cmp(&msg->ctyp, "application", "pidf+xml"), body);
    if (v.code != 200) {
      (void)sip_treply(nullptr, sip, msg, v.code, v.reason);
      spdlog::warn("sip federation: NOTIFY for {} refused: {} {} ({} bytes)", sub->uri, v.code, v.reason,
                   body.size());
      return;
    }
    (void)sip_treply(nullptr, sip, msg, 200, "OK");
    auto state = Federation::SubState::active;
    sipevent_substate ss{};
    if (const sip_hdr* h = sip_msg_hdr(msg, SIP_HDR_SUBSCRIPTION_STATE);
        h && !sipevent_substate_decode(&ss, &h->val))
      state = ss.state == SIPEVENT_PENDING      ? Federation::SubState::pending
              : ss.state == SIPEVENT_TERMINATED ? Federation::SubState::terminated
                                                : Federation::SubState::active;
    FedClient* self = sub->self;
    if (self->closed_) return;
    post_to_asio(self->rt_.core_strand, "sip federation: notify",
                 [w = self->core_, id = sub->id, state, doc = std::move(v.doc)]() mutable {
                   if (auto c = w.lock()) c->notified(id, state, std::move(doc));
                 });
  };
  // The subscription ended: refused, refresh failed, terminated by the notifier.
  auto close_h = [](int err, const sip_msg* msg, const sipevent_substate* ss, void* arg) {
    auto* sub = static_cast<Sub*>(arg);
    FedClient* self = sub->self;
    if (self->closed_) return;
    std::uint16_t code = msg ? msg->scode : 0;
    std::string why = err           ? std::string(std::strerror(err))
                      : ss          ? std::string("terminated;reason=") + sipevent_reason_name(ss->reason)
                      : msg && code ? protocols::sip::header_safe(str(msg->reason), 64)
                                    : std::string();
    std::uint64_t id = sub->id;
    post_to_asio(self->rt_.core_strand, "sip federation: subscription ended",
                 [w = self->core_, id, code, why] {
                   if (auto c = w.lock()) c->subscription_ended(id, code, why);
                 });
    // Not from inside libre's own call on this subscriber: release it on the next turn.
    (void)post_to_libre(self->loop_, [self, id] {
      if (self->closed_) return;
      auto it = self->subs_.find(id);
      if (it == self->subs_.end()) return;
      mem_deref(it->second->sub);
      self->subs_.erase(it);
    });
  };
  Creds* creds = make_creds(in.target.user, in.target.password);
  TlsVerifyScope verify(ssl_context(), in.target.tls_host);
  int err =
      raw->route.empty() || !creds
          ? EINVAL
          : sipevent_subscribe(&raw->sub, evsock_, in.uri.c_str(), nullptr, in.from_uri.c_str(), "presence",
                               nullptr, in.expires, "parley-federation", routev, 1, auth_h, creds, true,
                               nullptr, notify_h, close_h, raw, "Accept: application/pidf+xml\r\n");
  mem_deref(creds);  // the subscriber's sip_auth holds it
  if (err) {
    subs_.erase(in.id);
    post_to_asio(rt_.core_strand, "sip federation: subscribe failed",
                 [w = core_, id = in.id, why = std::string(std::strerror(err))] {
                   if (auto c = w.lock()) c->subscription_ended(id, 0, why);
                 });
  }
}

void FedClient::unsubscribe(std::uint64_t id) {
  if (closed_) return;
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  mem_deref(it->second->sub);  // RFC 6665 §4.1.2.3: libre sends Expires: 0 in the dialog
  subs_.erase(it);
}

namespace {

void send_publish(FedClient::Pub* p);

void publish_response(int err, const sip_msg* msg, void* arg);

void send_message(FedClient::Msg* m);

void message_response(int err, const sip_msg* msg, void* arg);

}  // namespace

void FedClient::message(const FedMessage& in) {
  if (closed_) return;
  auto m = std::make_unique<Msg>();
  m->self = this;
  m->m = in;
  m->route = in.target.route;
  m->callid = ::rand_u64();
  m->tag = ::rand_u64();
  Msg* raw = m.get();
  Creds* creds = make_creds(in.target.user, in.target.password);
  int err = raw->route.empty() || !creds ? EINVAL : sip_auth_alloc(&raw->auth, auth_h, creds, true);
  mem_deref(creds);
  if (err) {
    post_to_asio(rt_.core_strand, "sip federation: message failed",
                 [w = core_, id = in.id, why = std::string(std::strerror(err))] {
                   if (auto c = w.lock()) c->message_answered(id, 0, why);
                 });
    return;
  }
  msgs_[in.id] = std::move(m);
  send_message(raw);
}

void FedClient::answered(Msg* m, int err, const sip_msg* msg) {
  std::uint16_t code = err || !msg ? 0 : msg->scode;
  std::string why =
      code ? protocols::sip::header_safe(str(msg->reason), 64) : std::string(std::strerror(err));
  std::uint64_t id = m->m.id;
  post_to_asio(rt_.core_strand, "sip federation: message answered", [w = core_, id, code, why] {
    if (auto c = w.lock()) c->message_answered(id, code, why);
  });
  mem_deref(m->auth);
  msgs_.erase(id);  // m is gone
}

void FedClient::publish(const FedPublish& in) {
  if (closed_) return;
  auto p = std::make_unique<Pub>();
  p->self = this;
  p->p = in;
  p->route = in.target.route;
  p->callid = ::rand_u64();
  p->tag = ::rand_u64();
  Pub* raw = p.get();
  Creds* creds = make_creds(in.target.user, in.target.password);
  int err = raw->route.empty() || !creds ? EINVAL : sip_auth_alloc(&raw->auth, auth_h, creds, true);
  mem_deref(creds);  // the sip_auth holds it
  if (err) {
    post_to_asio(rt_.core_strand, "sip federation: publish failed", [w = core_, id = in.id] {
      if (auto c = w.lock()) c->published(id, 0, {}, 0);
    });
    return;
  }
  pubs_[in.id] = std::move(p);
  send_publish(raw);
}

void FedClient::published(Pub* p, int err, const sip_msg* msg) {
  std::uint16_t code = err || !msg ? 0 : msg->scode;
  std::string etag;
  std::uint32_t expires = 0;
  if (msg && code >= 200 && code < 300) {
    if (const sip_hdr* h = sip_msg_xhdr(msg, "SIP-ETag"))
      etag = protocols::sip::header_safe(str(h->val), 128);
    if (pl_isset(&msg->expires)) expires = pl_u32(&msg->expires);
  }
  if (p->p.expires == 0)  // a withdrawal at shutdown (Federation::stop)
    spdlog::info("sip federation: withdrawal of {} answered {}", p->p.aor, code);
  else if (code && (code < 200 || code >= 300))
    spdlog::debug("sip federation: PUBLISH {} answered {} {}", p->p.aor, code, str(msg->reason));
  else if (!code)
    spdlog::debug("sip federation: PUBLISH {}: {}", p->p.aor, std::strerror(err));
  std::uint64_t id = p->p.id;
  post_to_asio(rt_.core_strand, "sip federation: published", [w = core_, id, code, etag, expires]() mutable {
    if (auto c = w.lock()) c->published(id, code, std::move(etag), expires);
  });
  mem_deref(p->auth);
  pubs_.erase(id);  // p is gone
}

namespace {

void send_publish(FedClient::Pub* p) {
  struct uri route {};
  struct pl rpl {};
  pl_set_str(&rpl, p->route.c_str());
  int err = uri_decode(&route, &rpl);
  std::string if_match = p->p.etag.empty() ? "" : "SIP-If-Match: " + p->p.etag + "\r\n";
  std::string ctype = p->p.body.empty() ? "" : "Content-Type: application/pidf+xml\r\n";
  TlsVerifyScope verify(p->self->ssl_context(), p->p.target.tls_host);
  if (!err)
    err = sip_requestf(nullptr, p->self->sip_handle(), true, "PUBLISH", p->p.aor.c_str(), &route, p->auth,
                       nullptr, publish_response, p,
                       "From: <%s>;tag=%016llx\r\nTo: <%s>\r\nCall-ID: %016llx@parley\r\nCSeq: %u PUBLISH\r\n"
                       "Event: presence\r\nExpires: %u\r\n%s%s"
                       "Content-Length: %zu\r\n\r\n%b",
                       p->p.aor.c_str(), p->tag, p->p.aor.c_str(), p->callid, p->cseq, p->p.expires,
                       if_match.c_str(), ctype.c_str(), p->p.body.size(), p->p.body.data(), p->p.body.size());
  if (err) p->self->published(p, err, nullptr);
}

// RFC 3428 §4: From the sender's AOR, To and Request-URI the recipient; a new Call-ID per
// MESSAGE (no dialog), the CSeq grows only for the authenticated retry. libre's request
// layer writes Via and Max-Forwards itself: none here (Kamailio refuses a request with two).
void send_message(FedClient::Msg* m) {
  struct uri route {};
  struct pl rpl {};
  pl_set_str(&rpl, m->route.c_str());
  int err = uri_decode(&route, &rpl);
  std::string subject = m->m.subject.empty() ? "" : "Subject: " + m->m.subject + "\r\n";
  TlsVerifyScope verify(m->self->ssl_context(), m->m.target.tls_host);
  if (!err)
    err = sip_requestf(nullptr, m->self->sip_handle(), true, "MESSAGE", m->m.uri.c_str(), &route, m->auth,
                       nullptr, message_response, m,
                       "From: <%s>;tag=%016llx\r\nTo: <%s>\r\nCall-ID: %016llx@parley\r\nCSeq: %u MESSAGE\r\n"
                       "%sContent-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n%b",
                       m->m.from_uri.c_str(), m->tag, m->m.uri.c_str(), m->callid, m->cseq, subject.c_str(),
                       m->m.body.size(), m->m.body.data(), m->m.body.size());
  if (err) m->self->answered(m, err, nullptr);
}

void message_response(int err, const sip_msg* msg, void* arg) {
  auto* m = static_cast<FedClient::Msg*>(arg);
  if (m->self->is_closed()) return;
  if (!err && msg && msg->scode < 200) return;  // provisional
  if (!err && msg && (msg->scode == 401 || msg->scode == 407) && m->auth_tries++ < 2 &&
      sip_auth_authenticate(m->auth, msg) == 0) {
    ++m->cseq;
    send_message(m);
    return;
  }
  m->self->answered(m, err, msg);
}

void publish_response(int err, const sip_msg* msg, void* arg) {
  auto* p = static_cast<FedClient::Pub*>(arg);
  if (p->self->is_closed()) return;
  if (!err && msg && msg->scode < 200) return;  // provisional
  // RFC 3261 §22.2: answer a challenge once or twice with the entry's credentials.
  if (!err && msg && (msg->scode == 401 || msg->scode == 407) && p->auth_tries++ < 2 &&
      sip_auth_authenticate(p->auth, msg) == 0) {
    ++p->cseq;
    send_publish(p);
    return;
  }
  p->self->published(p, err, msg);
}

}  // namespace

}  // namespace parley::adapters::sip

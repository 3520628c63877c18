#include "adapters/xmpp/c2s_connection.hpp"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "adapters/common/auth.hpp"
#include "adapters/xmpp/handler_registry.hpp"
#include "adapters/xmpp/link.hpp"
#include "adapters/xmpp/sm_queue.hpp"
#include "adapters/xmpp/stream_open.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

namespace asio = boost::asio;
using px::StreamError;
using px::XmlWriter;
namespace ns = px::ns;

namespace {
// The namespaces of an ordinary c2s stream header, shared by every stream that declares
// exactly those (nearly all): one object instead of one per session.
const std::shared_ptr<px::StreamNamespaces>& standard_namespaces() {
  static const auto ns = std::make_shared<px::StreamNamespaces>();
  return ns;
}

protocols::Connection::Limits conn_limits(const Context& ctx) {
  protocols::Connection::Limits c;
  // The framer consumes as it goes: this bounds what one read leaves behind when input is
  // held (flood control), 64 KiB of plaintext plus a TLS record OpenSSL had buffered.
  c.max_read_buffer = 96 * 1024;
  c.handshake_timeout_ms = ctx.handshake_timeout_ms;  // TLS handshake and the first stream header
  c.close_timeout_ms = ctx.close_timeout_ms;
  return c;
}

// Until SASL succeeds the framer holds at most the pre-authentication stanza size: an
// unknown peer cannot park the full stanza limit per connection.
px::FramerLimits preauth_limits(const Context& ctx) {
  px::FramerLimits l = ctx.limits;
  l.max_stanza = std::min(l.max_stanza, ctx.preauth_stanza);
  return l;
}
}  // namespace

C2sConnection::C2sConnection(protocols::Socket socket, std::shared_ptr<asio::ssl::context> direct_tls,
                             Context& ctx)
    : Connection(std::move(socket), std::move(direct_tls), conn_limits(ctx)),
      ctx_(ctx),
      framer_(preauth_limits(ctx)),
      ns_(standard_namespaces()),
      bytes_in_(ctx.flood.bytes_per_second, ctx.flood.burst),
      stanzas_in_(ctx.flood.stanzas_per_second, ctx.flood.stanza_burst) {}

C2sConnection::C2sConnection(protocols::Connection::Detached d, std::unique_ptr<protocols::Framing> framing,
                             Context& ctx, std::size_t write_queue)
    : Connection(std::move(d), std::move(framing),
                 [&] {
                   auto l = conn_limits(ctx);
                   l.max_write_queue = write_queue;
                   return l;
                 }()),
      ctx_(ctx),
      framer_(preauth_limits(ctx)),
      ns_(standard_namespaces()),
      bytes_in_(ctx.flood.bytes_per_second, ctx.flood.burst),
      stanzas_in_(ctx.flood.stanzas_per_second, ctx.flood.stanza_burst) {}

C2sConnection::~C2sConnection() = default;

// ---- input ----------------------------------------------------------------------------------

std::size_t C2sConnection::on_data(std::string_view data) {
  std::size_t used = 0, charged = 0;
  while (used < data.size() && !input_blocked() && !tls_starting_ && state_ != State::closed && !closed()) {
    auto step = framer_.feed(data.substr(used));
    used += step.consumed;
    switch (step.status) {
      case px::StreamFramer::Status::need_more: break;
      case px::StreamFramer::Status::header:
        on_header();
        framer_.release_header();
        break;
      case px::StreamFramer::Status::stream_end:
        send("</stream:stream>");
        close_after_flush("client closed the stream");
        state_ = State::closed;
        return data.size();
      case px::StreamFramer::Status::error:
        ctx_.rt.core.metrics().rejected(core::Protocol::xmpp, framer_.error() == StreamError::policy_violation
                                                                  ? core::Rejection::too_long
                                                                  : core::Rejection::malformed);
        stream_error(framer_.error(), framer_.error_text());
        return data.size();
      case px::StreamFramer::Status::stanza: {
        auto st = px::Stanza::parse(framer_.take_stanza(), ns_, framer_.stanza_prefixed());
        if (!st) {
          ctx_.rt.core.metrics().rejected(core::Protocol::xmpp, core::Rejection::malformed);
          stream_error(StreamError::not_well_formed);
          return data.size();
        }
        try {
          on_stanza(*st);
        } catch (const std::exception& e) {
          // Exception firewall: one bad stanza ends only this stream.
          spdlog::error("xmpp: exception handling a stanza: {}", e.what());
          stream_error(StreamError::internal_server_error);
          return data.size();
        }
        charge(used - charged, 1);
        charged = used;
        check_core_queue();
        break;
      }
    }
    if (step.status == px::StreamFramer::Status::need_more) break;
  }
  if (tls_starting_) return data.size();  // §5.4.3.3: nothing after <starttls/> counts
  if (used > charged) charge(used - charged, 0);  // the start of a stanza still being read
  if (input_blocked() && !closed()) hold_input(true);
  return used;
}

void C2sConnection::resume_input() {
  paused_ = false;
  if (!closed()) release_input();
}

// ---- flood control ----------------------------------------------------------------------------

void C2sConnection::release_input() {
  if (closed() || input_blocked()) return;
  if (input_held()) hold_input(false);  // feeds the buffered input, then reads again
  else redeliver();
}

void C2sConnection::charge(std::size_t bytes, std::size_t stanzas) {
  if (closed() || tls_starting_ || (!bytes_in_.enabled() && !stanzas_in_.enabled())) return;
  const auto now = protocols::TokenBucket::Clock::now();
  bytes_in_.take(bytes, now);
  stanzas_in_.take(stanzas, now);
  const auto wait = std::max(bytes_in_.wait(now), stanzas_in_.wait(now));
  if (wait <= protocols::TokenBucket::Clock::duration::zero() || throttled_) return;
  // Over the rate: stop reading until the buckets are out of debt. The client's later
  // stanzas wait in its socket (TCP flow control), none is dropped.
  throttled_ = true;
  ctx_.rt.core.metrics().rejected(core::Protocol::xmpp, core::Rejection::rate_limited);
  if (!throttle_timer_) throttle_timer_ = std::make_shared<asio::steady_timer>(executor());
  throttle_timer_->expires_after(wait);
  auto self = std::static_pointer_cast<C2sConnection>(shared_from_this());
  throttle_timer_->async_wait([self](const boost::system::error_code& ec) {
    if (ec || self->closed()) return;
    self->throttled_ = false;
    self->release_input();
  });
}

void C2sConnection::check_core_queue() {
  const std::uint32_t limit = ctx_.flood.core_queue;
  if (limit == 0 || backlogged_ || in_core_.load(std::memory_order_acquire) < limit) return;
  // Wait until the core has worked the queue down to half. The flag is raised before the
  // count is read again, so the core strand (core_task_done) either sees it and posts the
  // resume, or this side sees the count already low and takes the flag back.
  core_wait_.store(true, std::memory_order_seq_cst);
  if (in_core_.load(std::memory_order_seq_cst) <= limit / 2 && core_wait_.exchange(false)) return;
  backlogged_ = true;
  spdlog::debug("xmpp: {} has {} stanzas waiting for the core; reading paused", peer_host(), limit);
}

void C2sConnection::core_task_done() {
  const std::uint32_t left = in_core_.fetch_sub(1, std::memory_order_seq_cst) - 1;
  if (left > ctx_.flood.core_queue / 2 || !core_wait_.load(std::memory_order_seq_cst)) return;
  if (!core_wait_.exchange(false)) return;
  to_self("xmpp: core queue worked off", [c = this] {
    c->backlogged_ = false;
    c->release_input();
  });
}

void C2sConnection::core_task_failed() {
  to_self("xmpp: core task failed", [c = this] {
    if (!c->closed()) c->stream_error(StreamError::internal_server_error);
  });
}

void C2sConnection::on_read_overflow() { stream_error(StreamError::policy_violation, "input too large"); }

// The client does not read (its write queue is full): counted, then closed at once; a stream
// error could not be written either.
void C2sConnection::on_write_overflow() {
  ctx_.rt.core.metrics().rejected(core::Protocol::xmpp, core::Rejection::slow_reader);
  Connection::on_write_overflow();
}

void C2sConnection::on_deadline(Deadline kind) {
  // RFC 6120 §4.9.3.4 connection-timeout. Before the TLS handshake completes nothing can be
  // said: stream_error() then closes without a word.
  stream_error(StreamError::connection_timeout,
               kind == Deadline::handshake ? "handshake timeout" : "authentication timeout");
  if (!closed()) close(kind == Deadline::handshake ? "Handshake timeout" : "Authentication timeout");
}

void C2sConnection::on_exception(std::string_view what) {
  spdlog::error("xmpp: exception handling input from {}: {}; closing that stream", peer_host(), what);
  stream_error(StreamError::internal_server_error);
  if (!closed()) close("Internal error");
}

void C2sConnection::stream_error(StreamError e, std::string_view text, std::string_view app) {
  if (closed() || state_ == State::closed) return;
  std::string out;
  if (!header_sent_) {
    out += "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
           "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='";
    px::escape_attr(out, ctx_.domains.domain);
    out += "' id='" + random_id() + "'>";
    header_sent_ = true;
  }
  XmlWriter w(out);
  w.open("stream:error").open(px::to_string(e)).attr("xmlns", ns::streams).close();
  if (!text.empty()) w.open("text").attr("xmlns", ns::streams).text(text).close();
  w.raw(app);
  w.close();
  out += "</stream:stream>";
  send(out);
  spdlog::debug("xmpp: stream error {} ({}) for {}", px::to_string(e), text, peer_host());
  state_ = State::closed;
  close_after_flush(px::to_string(e));
}

// ---- stream negotiation (RFC 6120 §4.3) ------------------------------------------------------

void C2sConnection::on_header() {
  const auto& h = framer_.header();
  // Namespaces in scope for the stanzas of this stream.
  auto scope = std::make_shared<px::StreamNamespaces>(header_namespaces(h));
  const auto& standard = standard_namespaces();
  ns_ = scope->default_ns == standard->default_ns && scope->prefixes == standard->prefixes ? standard : scope;
  if (auto refused = check_stream_header(h, *scope, ctx_.domains.domain))
    return stream_error(refused->error, refused->text);
  // The opening is done; the client has auth_timeout from here to bind a resource (this
  // deadline survives the restarts after STARTTLS and SASL).
  if (deadline() == Deadline::handshake)
    set_deadline(Deadline::auth, std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.auth_timeout));
  send_header_and_features();
}

void C2sConnection::send_header_and_features() {
  // The id is not needed again (no dialback, no SCRAM channel binding to it): not kept.
  std::string out =
      "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
      "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='en' id='" +
      random_id() + "' from='";
  px::escape_attr(out, ctx_.domains.domain);
  out += "'>";
  header_sent_ = true;
  XmlWriter w(out);
  w.open("stream:features");
  // A framed (WebSocket) stream's TLS is the HTTP layer's (RFC 7395 §3.5).
  state_ = features_state(is_tls() || framed(), authenticated_);
  write_features(w, state_);
  w.close();
  send(out);
}

void C2sConnection::on_stanza(px::Stanza& s) {
  const C2sStep step = c2s_step(state_, s);
  switch (step.action) {
    case C2sAction::bound_stanza:
      return on_bound_stanza(s);
    case C2sAction::proceed_tls:
      send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      tls_starting_ = true;
      start_tls(ctx_.rt.tls->current());  // the certificate current now (SIGHUP swaps it)
      return;
    case C2sAction::sasl_auth:
      return on_auth(s);
    case C2sAction::sasl_response:
      return on_sasl_response(s);
    case C2sAction::sasl_abort:
      return sasl_failure("aborted");
    case C2sAction::sm_resume:
      return on_resume(s);
    case C2sAction::sm_enable_unbound:
      send(
          "<failed xmlns='urn:xmpp:sm:3'><unexpected-request "
          "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
      return;
    case C2sAction::bind:
      return on_bind(s);
    case C2sAction::iq_not_authorized:
      return stanza_error(s, "cancel", "not-authorized");
    case C2sAction::stream_error:
      return stream_error(step.error, step.text);
    case C2sAction::ignore:
      return;
  }
}

void C2sConnection::on_bound_stanza(px::Stanza& s) {
  const std::string_view sns = s.ns();
  if (sns != ns::client) {
    // Top-level elements of other namespaces (XEP-0198's <r/>, <a/>, <enable/>).
    if (auto h = c2s_handlers().find_nonza(sns)) return h(*this, s);
    return stream_error(StreamError::unsupported_stanza_type);
  }
  if (link_) link_->count_inbound();
  std::string_view n = s.name();
  if (n == "message") return on_message(s);
  if (n == "presence") return on_presence(s);
  if (n == "iq") return on_iq(s);
  return stream_error(StreamError::unsupported_stanza_type);
}

// ---- SASL (RFC 6120 §6) ------------------------------------------------------------------------
//
// While a step waits for the core or the password pool (paused_), no input is read: the
// next stanza is looked at only once the step's outcome is in place. An exchange's account
// lives in the exchange (scram_->user) and reaches user_ only through sasl_success().

void C2sConnection::sasl_failure(std::string_view condition, std::string_view text) {
  std::string out;
  XmlWriter w(out);
  w.open("failure").attr("xmlns", ns::sasl).open(condition).close();
  if (!text.empty()) w.element("text", text);
  w.close();
  send(out);
  scram_.reset();
  if (condition != "aborted") ctx_.rt.core.metrics().auth_failure(core::Protocol::xmpp);
  if (++failed_auth_ >= max_auth_failures(ctx_.rt))
    stream_error(StreamError::policy_violation, "too many failed authentications");
}

void C2sConnection::sasl_success(const std::string& user, const std::string& additional) {
  std::string out;
  XmlWriter w(out);
  w.open("success").attr("xmlns", ns::sasl);
  if (!additional.empty()) w.text(sasl::base64_encode(additional));
  w.close();
  send(out);
  scram_.reset();
  user_ = user;
  authenticated_ = true;
  framer_.reset();  // §6.4.6: the client restarts the stream
  framer_.set_limits(ctx_.limits);  // authenticated: the full stanza size from now on
  state_ = State::header;
  spdlog::info("xmpp: {} authenticated with {} from {}", user, sasl_mech_, peer_host());
}

void C2sConnection::on_auth(px::Stanza& s) {
  auto start = start_auth(scram_ != nullptr, s.attr("mechanism"), s.root().text().get());
  if (start.kind == AuthStart::Kind::aborted) {
    // §6.4.2: a new <auth/> while an exchange is under way ends that one (start_auth).
    spdlog::info("xmpp: SASL exchange for {} aborted by a new <auth/> from {}", scram_->user, peer_host());
    return sasl_failure("aborted");
  }
  sasl_mech_ = start.mechanism;
  switch (start.kind) {
    case AuthStart::Kind::plain:
      return on_plain(start.data);
    case AuthStart::Kind::scram:
      return on_scram_first(std::move(start.data));
    case AuthStart::Kind::aborted:  // above
    case AuthStart::Kind::incorrect_encoding:
    case AuthStart::Kind::invalid_mechanism:
      return sasl_failure(auth_failure_condition(start.kind));
  }
}

void C2sConnection::on_plain(std::string_view message) {
  auto creds = sasl::parse_plain(message);
  if (!creds) return sasl_failure("malformed-request");
  auto user = px::prep_localpart(creds->authcid);
  if (!user || (!creds->authzid.empty() && creds->authzid != *user + "@" + ctx_.domains.domain &&
                creds->authzid != *user))
    return sasl_failure("invalid-authzid");
  paused_ = true;
  auto self = std::static_pointer_cast<C2sConnection>(shared_from_this());
  post_core("xmpp: SASL PLAIN", [self, user = *user, pw = std::move(creds->password),
                                 host = peer_host()]() mutable {
    check_account_password(
        self->ctx_.rt, host, user, std::move(pw), self->executor(), [self, user](AuthResult r) {
          if (self->closed()) return;
          if (r == AuthResult::ok)
            self->sasl_success(user, {});
          else
            self->sasl_failure(r == AuthResult::throttled ? "temporary-auth-failure" : "not-authorized");
          self->resume_input();  // only now: the outcome is in place
        });
  });
}

void C2sConnection::on_scram_first(std::string client_first) {
  auto name = sasl::scram_username(client_first);
  auto user = name ? px::prep_localpart(*name) : std::nullopt;
  if (!user) return sasl_failure("malformed-request");
  // RFC 5802 §5.1: an authzid other than the authenticating user is not supported.
  if (auto authzid = sasl::scram_authzid(client_first);
      !authzid || (!authzid->empty() && *authzid != *user + "@" + ctx_.domains.domain && *authzid != *user))
    return sasl_failure("invalid-authzid");
  auto hash = std::string_view(sasl_mech_) == "SCRAM-SHA-1" ? core::ScramHash::sha1 : core::ScramHash::sha256;
  paused_ = true;
  auto self = std::static_pointer_cast<C2sConnection>(shared_from_this());
  post_core("xmpp: SASL SCRAM", [self, user = *user, hash, first = std::move(client_first),
                                 host = peer_host()]() mutable {
    start_scram(
        self->ctx_.rt, host, user, hash, self->executor(),
        [self, user, first = std::move(first)](AuthResult r, core::Directory::LoginCredentials c) {
          if (self->closed()) return;
          if (r == AuthResult::ok) {
            auto ex = std::make_unique<ScramExchange>();
            ex->user = user;
            ex->known = c.known;
            ex->server = std::make_unique<sasl::ScramServer>(
                self->sasl_mech_,
                sasl::ScramSecrets{c.creds.salt, c.creds.iterations, c.creds.stored_key, c.creds.server_key});
            auto step = ex->server->step(first);
            if (step.result != sasl::ScramServer::Result::challenge) {
              self->sasl_failure("malformed-request");
            } else {
              self->scram_ = std::move(ex);
              self->send("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
                         sasl::base64_encode(step.data) + "</challenge>");
            }
          } else {
            self->sasl_failure(r == AuthResult::throttled ? "temporary-auth-failure" : "not-authorized");
          }
          self->resume_input();  // only now: the exchange is in place
        });
  });
}

void C2sConnection::on_sasl_response(px::Stanza& s) {
  if (!scram_) return sasl_failure("malformed-request");
  auto raw = sasl::base64_decode(s.root().text().get());
  if (!raw) return sasl_failure("incorrect-encoding");
  auto step = scram_->server->step(*raw);
  switch (step.result) {
    case sasl::ScramServer::Result::success:
      if (scram_->known) {
        std::string user = std::move(scram_->user);
        return sasl_success(user, step.data);
      }
      [[fallthrough]];  // a decoy (unknown user) fails like a wrong password
    case sasl::ScramServer::Result::failure:
      record_auth_failure(ctx_.rt, peer_host(), scram_->user);
      return sasl_failure("not-authorized");
    case sasl::ScramServer::Result::challenge:
      send("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + sasl::base64_encode(step.data) +
           "</challenge>");
      return;
  }
}

// ---- resource binding (RFC 6120 §7) -------------------------------------------------------------

void C2sConnection::on_bind(px::Stanza& s) {
  auto bind = s.child("bind", ns::bind);
  std::string requested = bind.child("resource").text().get();
  std::string resource;
  if (requested.empty()) {
    resource = "parley-" + random_id().substr(0, 8);
  } else {
    auto r = px::prep_resource(requested);
    if (!r) return stanza_error(s, "modify", "bad-request");
    resource = *r;
  }
  auto link = std::make_shared<Link>(ctx_, user_, resource);
  auto self = std::static_pointer_cast<C2sConnection>(shared_from_this());
  link->attach(self);
  std::string id(s.attr("id"));
  paused_ = true;
  core::Core& core = ctx_.rt.core;
  std::string host = peer_host();
  post_core("xmpp: bind", [self, link, &core, id, host] {
    core::SessionOpen o;
    o.user = core::Address::user(std::string(link->user()));
    o.resource = link->resource();
    o.protocol = core::Protocol::xmpp;
    o.host = host;
    o.sink = link.get();
    // RFC 6120 §7.7.2.2: the new session wins; the old one gets <conflict/>.
    o.replace_on_conflict = true;
    auto r = core.sessions().open(o);
    if (r) link->sid = *r;
    bool ok = r.ok();
    self->to_self("xmpp: bound", [self, link, ok, id] {
      if (self->closed()) {
        if (ok)
          post_guarded(self->ctx_.rt.core_strand, "xmpp: close unbound session",
                       [link, &core = self->ctx_.rt.core] { core.sessions().close(link->sid, "gone"); });
        return;
      }
      if (!ok) {
        std::string out = "<iq type='error' id='";
        px::escape_attr(out, id);
        out += "'><error type='wait'><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>";
        self->send(out);
        return self->resume_input();
      }
      self->link_ = link;
      self->state_ = State::bound;
      self->clear_deadline();  // bound: the authentication deadline is over
      std::string out;
      XmlWriter w(out);
      w.open("iq").attr("type", "result").attr("id", id);
      w.open("bind").attr("xmlns", ns::bind).element("jid", link->full_jid());
      w.finish();
      self->send(out);
      spdlog::info("xmpp: bound {}", link->full_jid());
      self->resume_input();
    });
  });
}

// ---- XEP-0198 stream management ------------------------------------------------------------------

void C2sConnection::on_sm(px::Stanza& s) {
  std::string_view n = s.name();
  if (n == "enable") {
    if (link_->sm_enabled()) {
      send("<failed xmlns='urn:xmpp:sm:3'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
      return;
    }
    std::string id = random_id() + random_id();
    bool resume = s.attr("resume") == "true" || s.attr("resume") == "1";
    link_->enable_sm(id);
    std::string out = "<enabled xmlns='urn:xmpp:sm:3' id='" + id + "'";
    if (resume) {
      std::lock_guard lock(ctx_.mu);
      // Not once the session is over (the core ended it) or the server is stopping.
      resume = !link_->ended && !ctx_.stopping;
      if (resume) ctx_.resumable[id] = link_;
    }
    if (resume) out += " resume='true' max='" + std::to_string(ctx_.resume_timeout.count()) + "'";
    out += "/>";
    send(out);
  } else if (n == "r") {
    if (!link_->sm_enabled()) return;
    send("<a xmlns='urn:xmpp:sm:3' h='" + std::to_string(link_->inbound_count()) + "'/>");
  } else if (n == "a") {
    if (!link_->sm_enabled()) return;
    const auto h = static_cast<std::uint32_t>(std::strtoul(std::string(s.attr("h")).c_str(), nullptr, 10));
    std::uint32_t sent = 0;
    // XEP-0198 §4: an h beyond what was sent ends the stream with <undefined-condition/>
    // and <handled-count-too-high/>; the unacknowledged queue stays as it was.
    if (!link_->ack(h, &sent))
      stream_error(StreamError::undefined_condition, "acknowledged more stanzas than were sent",
                   handled_count_too_high(h, sent));
  } else {
    stream_error(StreamError::unsupported_stanza_type);
  }
}

void C2sConnection::on_resume(px::Stanza& s) {
  std::string previd(s.attr("previd"));
  auto h = static_cast<std::uint32_t>(std::strtoul(std::string(s.attr("h")).c_str(), nullptr, 10));
  auto self = std::static_pointer_cast<C2sConnection>(shared_from_this());
  std::shared_ptr<Link> link;
  std::shared_ptr<C2sConnection> old;
  std::vector<std::string> replay;
  bool too_high = false;
  std::uint32_t sent = 0;
  {
    // One step under ctx_.mu, like the resume timeout's check (on_close): either the timeout
    // ended the session first and this fails, or this attaches first and the timer, seeing
    // a new generation, leaves the session alone.
    std::lock_guard lock(ctx_.mu);
    auto it = ctx_.resumable.find(previd);
    if (it != ctx_.resumable.end() && it->second->user() == user_ && !it->second->ended) {
      // XEP-0198 §4/§5: an h beyond what the session sent is refused, and the session is left
      // as it was (its own timeout still ends it), so a bad resume cannot confirm stanzas the
      // client never received, nor take the session over.
      if (!it->second->ack(h, &sent)) {
        too_high = true;
      } else {
        link = it->second;
        old = link->connection();  // the old connection may not have noticed its peer went away
        replay = link->attach_replaying(self);
      }
    }
  }
  if (too_high) {
    spdlog::info("xmpp: resume of {} refused: h={} but only {} sent", previd, h, sent);
    send("<failed xmlns='urn:xmpp:sm:3'><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" +
         handled_count_too_high(h, sent) + "</failed>");
    return;
  }
  if (!link) {
    send("<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
    return;
  }
  if (old)
    post_guarded(old->executor(), "xmpp: resumed elsewhere",
                 [old] { old->stream_error(StreamError::conflict, "resumed elsewhere"); });
  link_ = link;
  state_ = State::bound;
  clear_deadline();  // resumed: the authentication deadline is over
  send("<resumed xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='" + std::to_string(link->inbound_count()) + "'/>");
  // Retransmit what the client has not acknowledged (XEP-0198 §5); what is delivered from
  // now on is flushed after this handler.
  for (const auto& xml : replay) send(xml);
  if (!replay.empty()) send("<r xmlns='urn:xmpp:sm:3'/>");  // so that they are acknowledged soon
  spdlog::info("xmpp: resumed {}", link->full_jid());
}

// ---- close --------------------------------------------------------------------------------------------

void C2sConnection::on_tls_started(bool ok) {
  tls_starting_ = false;
  if (!ok) return;
  framer_.reset();  // RFC 6120 §5.4.3.3: a fresh stream over TLS
  state_ = State::header;
}

void C2sConnection::on_close(std::string_view reason) {
  state_ = State::closed;
  if (throttle_timer_) throttle_timer_->cancel();
  auto link = std::move(link_);
  if (!link) return;
  std::string why(reason);
  std::shared_ptr<asio::steady_timer> timer;
  std::uint64_t gen = 0;
  {
    std::lock_guard lock(ctx_.mu);
    // Resumed elsewhere already, or ended by the core (which redelivers): nothing to do.
    if (!link->detach_from(this)) return;
    gen = link->generation();
    auto it = ctx_.resumable.find(link->sm_id());
    if (it != ctx_.resumable.end() && it->second == link) {
      if (ctx_.stopping) {
        ctx_.resumable.erase(it);
        link->ended = true;
      } else {
        // XEP-0198 §5: keep the session (and queue its stanzas) for resume_timeout.
        timer = std::make_shared<asio::steady_timer>(ctx_.rt.io, ctx_.resume_timeout);
        ctx_.resume_timers.insert(timer);
      }
    }
  }
  if (!timer) return end_session(ctx_, std::move(link), std::move(why));
  Context* ctx = &ctx_;
  // Expired, or cancelled by the plugin's stop(): the session ends either way, unless a
  // resumption attached the link first (a new generation, under the same lock).
  timer->async_wait([timer, link, gen, ctx, why](const boost::system::error_code&) {
    {
      std::lock_guard lock(ctx->mu);
      ctx->resume_timers.erase(timer);
      auto it = ctx->resumable.find(link->sm_id());
      if (it == ctx->resumable.end() || it->second != link || link->generation() != gen) return;
      ctx->resumable.erase(it);
      link->ended = true;
    }
    end_session(*ctx, link, why);
  });
}

}  // namespace parley::adapters::xmpp

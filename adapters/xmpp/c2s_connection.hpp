#pragma once
// One client-to-server XMPP stream (RFC 6120): stream negotiation (STARTTLS required
// before SASL, direct TLS per XEP-0368), SASL, resource binding, XEP-0198, then stanza
// dispatch. Runs on its connection strand; every core call is posted to the core strand.
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>

#include "adapters/common/post_guarded.hpp"
#include "adapters/xmpp/c2s_state.hpp"
#include "adapters/xmpp/context.hpp"
#include "protocols/common/net.hpp"
#include "protocols/common/sasl.hpp"
#include "protocols/common/token_bucket.hpp"
#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/stanza.hpp"

namespace parley::adapters::xmpp {

namespace sasl = protocols::sasl;

class Link;

class C2sConnection : public protocols::Connection {
 public:
  C2sConnection(protocols::Socket socket, std::shared_ptr<boost::asio::ssl::context> direct_tls,
                Context& ctx);
  // XMPP over WebSocket (RFC 7395): the HTTP listener's connection after its 101, carried on
  // through `framing` (protocols/xmpp/ws_framing.hpp) with the same stream logic. TLS is the
  // HTTP layer's (§3.5): no STARTTLS is offered and SASL is (the listener admits plain ws://
  // from loopback only).
  C2sConnection(protocols::Connection::Detached d, std::unique_ptr<protocols::Framing> framing, Context& ctx,
                std::size_t write_queue);
  ~C2sConnection() override;

  // Connection strand. Raw bytes of a stanza that already went through SM accounting.
  void write(std::string_view xml) { send(xml); }
  // Sends <stream:error/> (and the header first if none was sent) and closes. `app`: an
  // application-specific condition element, raw XML (RFC 6120 §4.9.4), e.g. XEP-0198's
  // <handled-count-too-high/>.
  void stream_error(px::StreamError e, std::string_view text = {}, std::string_view app = {});

 protected:
  std::size_t on_data(std::string_view data) override;
  void on_close(std::string_view reason) override;
  void on_read_overflow() override;
  void on_write_overflow() override;
  void on_tls_started(bool ok) override;
  void on_deadline(Deadline kind) override;
  void on_exception(std::string_view what) override;

 private:
  // Where the stream is: the states and transitions are documented at C2sState
  // (c2s_state.hpp); on_stanza() acts on c2s_step() for it.
  using State = C2sState;

  void on_header();
  void send_header_and_features();
  void on_stanza(px::Stanza& s);
  void on_bound_stanza(px::Stanza& s);
  void on_auth(px::Stanza& s);
  void on_sasl_response(px::Stanza& s);
  void sasl_failure(std::string_view condition, std::string_view text = {});
  // `user` is the identity the mechanism verified, and the only way user_ is ever set.
  void sasl_success(const std::string& user, const std::string& additional);
  void on_plain(std::string_view message);
  void on_scram_first(std::string client_first);
  void on_bind(px::Stanza& s);
  void on_resume(px::Stanza& s);
  void resume_input();  // after an asynchronous step: continue with buffered input

  // ---- flood control (Context::flood) ----
  // Input waits while any of these holds: a core round-trip (paused_), the shaper's pause
  // (throttled_), a full queue toward the core (backlogged_). Reading from the socket stops
  // meanwhile (Connection::hold_input): a flooding client is slowed down, never dropped.
  bool input_blocked() const { return paused_ || throttled_ || backlogged_; }
  // Unblocked: feeds what was buffered and reads again.
  void release_input();
  // Charges the shaper for `bytes` and `stanzas` of input; pauses input if it is in debt.
  void charge(std::size_t bytes, std::size_t stanzas);
  // After a stanza: pauses input if the session has core_queue tasks waiting for the core.
  void check_core_queue();
  void core_task_done();  // core strand

  // Dispatch of a bound stream's stanzas through c2s_handlers() (dispatch.cpp).
  void on_message(px::Stanza& s);
  void on_presence(px::Stanza& s);
  void on_iq(px::Stanza& s);
  // A task posted by post_core threw (core strand): ends this stream.
  void core_task_failed();
  // Posts f to this connection's strand; if it throws, the stream ends with
  // <internal-server-error/> and the io thread goes on.
  template <class F>
  void to_self(const char* name, F&& f) {
    auto self = std::static_pointer_cast<C2sConnection>(shared_from_this());
    post_guarded(executor(), name, [self = std::move(self), f = std::forward<F>(f)]() mutable {
      try {
        f();
      } catch (...) {
        self->stream_error(px::StreamError::internal_server_error);
        throw;
      }
    });
  }

 public:
  // ---- for the handlers (adapters/xmpp/handlers/), on the connection strand ----
  Context& ctx() { return ctx_; }
  // The bound session (null before resource binding).
  const std::shared_ptr<Link>& link() const { return link_; }
  // Replies (through the link when bound, so SM counts them).
  void send_stanza(std::string xml);
  void iq_result(const px::Stanza& s, std::string_view payload = {});
  void stanza_error(const px::Stanza& s, std::string_view type, std::string_view condition,
                    std::string_view text = {});
  void route_iq(px::Stanza& s, const px::Jid& to);  // to a full JID of a local user
  void on_sm(px::Stanza& s);                        // XEP-0198 elements of a bound stream

  // Posts f to the core strand behind the exception firewall (post_guarded): a task that
  // throws is logged by `name` and ends this stream with <internal-server-error/>
  // (core_task_failed), so the client learns why and its session is closed, instead of the
  // io thread dying or the stream staying paused for an answer that never comes.
  template <class F>
  void post_core(const char* name, F&& f) {
    auto self = std::static_pointer_cast<C2sConnection>(shared_from_this());
    post_guarded(ctx_.rt.core_strand, name, [self = std::move(self), f = std::forward<F>(f)]() mutable {
      try {
        f();
      } catch (...) {
        self->core_task_failed();
        throw;  // to post_guarded, which logs it with `name`
      }
    });
  }
  // post_core for one task of this session's queue toward the core (Context::flood.core_queue).
  template <class F>
  void to_core(const char* name, F&& f) {
    in_core_.fetch_add(1, std::memory_order_relaxed);
    post_core(name, [c = this, f = std::forward<F>(f)]() mutable {
      struct Done {
        C2sConnection* c;
        ~Done() { c->core_task_done(); }
      } done{c};
      f();
    });
  }

 private:
  Context& ctx_;
  px::StreamFramer framer_;
  std::shared_ptr<px::StreamNamespaces> ns_;
  State state_ = State::header;
  bool header_sent_ = false;
  bool authenticated_ = false;
  bool paused_ = false;  // waiting for the core: input stays buffered
  bool tls_starting_ = false;
  std::string user_;            // authenticated account: set by sasl_success() only
  const char* sasl_mech_ = "";  // one of the offered mechanisms' names (static), "" if none
  // A SCRAM exchange waiting for the client's next <response/>. It carries the account it
  // verifies, so the identity a stream gets is the one its proof was checked against: a
  // second <auth/> aborts it (RFC 6120 §6.4.2), it never retargets it.
  struct ScramExchange {
    std::string user;
    std::unique_ptr<sasl::ScramServer> server;
    bool known = false;  // false: decoy credentials for an unknown user, can only fail
  };
  std::unique_ptr<ScramExchange> scram_;
  std::shared_ptr<Link> link_;
  std::uint32_t failed_auth_ = 0;
  bool throttled_ = false;   // the shaper's timer runs
  bool backlogged_ = false;  // waiting for the core to work off this session's queue
  // Flood control state: the shaper's two buckets, its timer (made at the first pause),
  // and the queue toward the core: tasks posted and not yet run (core_task_done), and
  // whether this connection waits for the core to work them off.
  protocols::TokenBucket bytes_in_, stanzas_in_;
  std::shared_ptr<boost::asio::steady_timer> throttle_timer_;
  std::atomic<std::uint32_t> in_core_{0};
  std::atomic<bool> core_wait_{false};
};

}  // namespace parley::adapters::xmpp

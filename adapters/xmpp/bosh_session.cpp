#include "adapters/xmpp/bosh_session.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <deque>

#include "adapters/common/post_guarded.hpp"
#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/context.hpp"
#include "protocols/xmpp/bosh.hpp"
#include "protocols/xmpp/ws_framing.hpp"

namespace parley::adapters::xmpp {

namespace asio = boost::asio;
using protocols::Socket;
using protocols::Strand;
using protocols::StrandTimer;
using protocols::xmpp::BoshBody;
using protocols::xmpp::escape_bosh_attr;
using protocols::xmpp::render_bosh_body;
using protocols::xmpp::render_bosh_terminate;
using protocols::xmpp::ResponseCache;
using protocols::xmpp::RidWindow;

namespace {

constexpr std::string_view kContentType = "text/xml; charset=utf-8";

bool loopback(const std::string& host) {
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

std::string new_sid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no randomness for a BOSH sid");
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

// The pipe carries RFC 6455 frames, as the c2s side's XmppWsFraming reads and writes them.
// Ours are client frames: masked (§5.3) with a zero key, so the payload goes as it is.
void write_client_text(std::string& out, std::string_view payload) {
  out += static_cast<char>(0x81);
  const std::size_t n = payload.size();
  if (n < 126) {
    out += static_cast<char>(0x80 | n);
  } else if (n < 65536) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xff);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff);
  }
  out.append(4, '\0');
  out += payload;
}

// One unmasked server frame from the start of `in` (written by our own WsFraming, so
// unfragmented): its opcode and payload, or consumed == 0 when incomplete.
struct ServerFrame {
  std::size_t consumed = 0;
  std::uint8_t opcode = 0;
  std::string_view payload;
};
ServerFrame next_server_frame(std::string_view in) {
  if (in.size() < 2) return {};
  const auto b0 = static_cast<unsigned char>(in[0]), b1 = static_cast<unsigned char>(in[1]);
  std::uint64_t n = b1 & 0x7f;
  std::size_t at = 2;
  if (n == 126) {
    if (in.size() < 4) return {};
    n = (static_cast<unsigned char>(in[2]) << 8) | static_cast<unsigned char>(in[3]);
    at = 4;
  } else if (n == 127) {
    if (in.size() < 10) return {};
    n = 0;
    for (int i = 0; i < 8; ++i) n = (n << 8) | static_cast<unsigned char>(in[2 + i]);
    at = 10;
  }
  if (in.size() - at < n) return {};
  return {at + static_cast<std::size_t>(n), static_cast<std::uint8_t>(b0 & 0x0f), in.substr(at, n)};
}

std::string open_message(std::string_view domain) {
  return "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='" + escape_bosh_attr(domain) +
         "' version='1.0'/>";
}

}  // namespace

class BoshSession : public std::enable_shared_from_this<BoshSession> {
 public:
  BoshSession(std::weak_ptr<BoshService> service, const BoshService::Options& o, std::string sid,
              std::string peer, Socket pipe, std::string domain)
      : service_(std::move(service)),
        o_(o),
        sid_(std::move(sid)),
        peer_(std::move(peer)),
        domain_(std::move(domain)),
        pipe_(std::move(pipe)),
        inactivity_timer_(pipe_.get_executor()) {}

  Strand strand() { return pipe_.get_executor(); }
  const std::string& sid() const { return sid_; }
  const std::string& peer() const { return peer_; }

  // The session creation request (XEP-0124 §7, XEP-0206 §3).
  void create(const BoshBody& b, HttpReply reply) {
    wait_ = std::clamp<std::uint32_t>(b.has_wait ? b.wait : o_.bosh.wait_max, 1, o_.bosh.wait_max);
    hold_ = std::min<std::uint32_t>(b.has_hold ? b.hold : 1, o_.bosh.hold_max);
    requests_ = hold_ + 1;
    rids_ = std::make_unique<RidWindow>(*b.rid, requests_);
    cache_ = std::make_unique<ResponseCache>(requests_ + 1);
    creation_ = " sid='" + sid_ + "' wait='" + std::to_string(wait_) + "' hold='" + std::to_string(hold_) +
                "' requests='" + std::to_string(requests_) + "' inactivity='" +
                std::to_string(o_.bosh.inactivity) + "' polling='1' ver='1.11' from='" +
                escape_bosh_attr(domain_) + "' xmpp:version='1.0'";
    to_stream(open_message(domain_));
    read();
    hold(*b.rid, std::move(reply));
  }

  // Any later request, on the session's strand.
  void request(BoshBody b, HttpReply reply) {
    if (ended_) return reply(bosh_response(render_bosh_terminate("item-not-found")));
    const auto rid = *b.rid;
    switch (rids_->check(rid)) {
      case RidWindow::Verdict::duplicate:  // §14.3: the same answer again
        if (const auto* cached = cache_->find(rid)) return reply(bosh_response(*cached));
        return reply(bosh_response(render_bosh_body({}, {})));
      case RidWindow::Verdict::out_of_window:  // §14.2
        reply(bosh_response(render_bosh_terminate("item-not-found")));
        return end("item-not-found", false);
      case RidWindow::Verdict::fresh:
        break;
    }
    for (const auto& e : b.payload) to_stream(e);
    if (b.type == "terminate") {  // §13: the client ends the session; the stream ends cleanly
      to_stream("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
      auto body = render_bosh_body(" type='terminate'", {});
      cache_->put(rid, body);
      reply(bosh_response(std::move(body)));
      return end({}, true);
    }
    if (b.restart) to_stream(open_message(domain_));  // XEP-0206 §5: a new stream after SASL
    hold(rid, std::move(reply));
  }

  // Closing without <close/>: to the c2s stream this is a dropped connection, so XEP-0198
  // resumption applies as for TCP.
  void end(std::string_view condition, bool graceful) {
    if (ended_) return;
    ended_ = true;
    while (!held_.empty()) answer_front(render_bosh_terminate(condition), true);
    inactivity_timer_.cancel();
    if (!graceful || writing_.empty())
      shutdown_pipe();
    else
      close_when_written_ = true;
    if (auto s = service_.lock()) s->remove(sid_, peer_);
  }

 private:
  struct Held {
    std::uint64_t rid;
    HttpReply reply;
    std::unique_ptr<StrandTimer> timer;
  };

  HttpResponse bosh_response(std::string body) {
    auto s = service_.lock();
    if (s) return s->response(std::move(body));
    return HttpResponse{200, std::string(kContentType), std::move(body), {}};
  }

  void hold(std::uint64_t rid, HttpReply reply) {
    inactivity_timer_.cancel();
    held_.push_back(Held{rid, std::move(reply), std::make_unique<StrandTimer>(strand())});
    auto& t = *held_.back().timer;
    t.expires_after(std::chrono::seconds(wait_));
    t.async_wait([self = shared_from_this(), rid](boost::system::error_code ec) {
      if (ec || self->ended_) return;
      self->answer_rid(rid);  // `wait` passed: an empty answer (§8)
    });
    if (!pending_.empty()) answer_front(take_pending());
    // §11: at most `hold` requests wait; the oldest is answered (empty) when one more comes.
    while (held_.size() > hold_) answer_front({});
    if (held_.empty()) arm_inactivity();
  }

  std::string take_pending() {
    std::string p = std::move(pending_);
    pending_.clear();
    return p;
  }

  void answer_rid(std::uint64_t rid) {
    for (auto it = held_.begin(); it != held_.end(); ++it) {
      if (it->rid != rid) continue;
      Held h = std::move(*it);
      held_.erase(it);
      send_answer(h, render_with_creation({}));
      if (held_.empty() && !ended_) arm_inactivity();
      return;
    }
  }

  void answer_front(std::string payload_or_body, bool is_body = false) {
    Held h = std::move(held_.front());
    held_.pop_front();
    send_answer(h, is_body ? std::move(payload_or_body) : render_with_creation(payload_or_body));
    if (held_.empty() && !ended_) arm_inactivity();
  }

  std::string render_with_creation(std::string_view payload) {
    std::string attrs;
    if (!creation_.empty()) {
      attrs = std::move(creation_);
      creation_.clear();
      if (!authid_.empty()) attrs += " authid='" + escape_bosh_attr(authid_) + "'";
    }
    return render_bosh_body(attrs, payload);
  }

  void send_answer(Held& h, std::string body) {
    h.timer->cancel();
    cache_->put(h.rid, body);
    h.reply(bosh_response(std::move(body)));
  }

  void arm_inactivity() {
    inactivity_timer_.expires_after(std::chrono::seconds(o_.bosh.inactivity));
    inactivity_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->ended_ || !self->held_.empty()) return;
      spdlog::info("xmpp: BOSH session from {} inactive for {} s; ending it", self->peer_,
                   self->o_.bosh.inactivity);
      self->end("item-not-found", false);
    });
  }

  // --- the pipe to the c2s stream ---
  void to_stream(std::string_view message) {
    if (pipe_closed_) return;
    write_client_text(out_, message);
    flush();
  }

  void flush() {
    if (!writing_.empty() || out_.empty() || pipe_closed_) return;
    writing_ = std::move(out_);
    out_.clear();
    asio::async_write(pipe_, asio::buffer(writing_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->writing_.clear();
                        if (ec) return self->end("remote-connection-failed", false);
                        if (self->close_when_written_ && self->out_.empty()) return self->shutdown_pipe();
                        self->flush();
                      });
  }

  void read() {
    if (pipe_closed_) return;
    pipe_.async_read_some(asio::buffer(buf_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                            if (ec) return self->stream_ended();
                            self->in_.append(self->buf_, n);
                            if (!self->on_pipe_bytes()) return;
                            self->read();
                          });
  }

  // The c2s stream's output: RFC 7395 messages. false: the stream ended.
  bool on_pipe_bytes() {
    std::size_t at = 0;
    bool ended = false;
    for (;;) {
      auto f = next_server_frame(std::string_view(in_).substr(at));
      if (!f.consumed) break;
      at += f.consumed;
      if (f.opcode == 8) {
        ended = true;
        break;
      }
      if (f.opcode != 1) continue;
      const auto p = f.payload;
      if (p.rfind("<open ", 0) == 0) {  // the stream header: its id is the BOSH authid
        if (auto i = p.find(" id='"); i != std::string_view::npos) {
          auto e = p.find('\'', i + 5);
          if (e != std::string_view::npos) authid_ = std::string(p.substr(i + 5, e - i - 5));
        }
        continue;
      }
      if (p.rfind("<close ", 0) == 0) {
        ended = true;
        break;
      }
      pending_ += p;
    }
    in_.erase(0, at);
    if (pending_.size() > o_.bosh.queued_bytes) {
      spdlog::info("xmpp: BOSH session from {} has over {} bytes waiting for a request; ending it", peer_,
                   o_.bosh.queued_bytes);
      end("policy-violation", false);
      return false;
    }
    if (!pending_.empty() && !held_.empty() && !ended_) answer_front(take_pending());
    if (ended) {
      stream_ended();
      return false;
    }
    return true;
  }

  // The c2s side closed (stream error, </stream:stream>, kicked): what it said last goes
  // out with the terminate (XEP-0206 §7: remote-stream-error carries the stream error).
  void stream_ended() {
    if (ended_) return shutdown_pipe();
    std::string condition = pending_.find("<stream:error") != std::string::npos ? "remote-stream-error" : "";
    if (!held_.empty()) {
      std::string a = " type='terminate'";
      if (!condition.empty()) a += " condition='" + condition + "'";
      answer_front(render_bosh_body(a, take_pending()), true);
    }
    end(condition, false);
  }

  void shutdown_pipe() {
    if (pipe_closed_) return;
    pipe_closed_ = true;
    boost::system::error_code ec;
    pipe_.shutdown(asio::socket_base::shutdown_both, ec);
    pipe_.close(ec);
  }

  std::weak_ptr<BoshService> service_;
  const BoshService::Options o_;
  std::string sid_, peer_, domain_;
  Socket pipe_;
  StrandTimer inactivity_timer_;
  std::unique_ptr<RidWindow> rids_;
  std::unique_ptr<ResponseCache> cache_;
  std::deque<Held> held_;
  std::string pending_;   // stanzas for the next request, at most bosh.queued_bytes
  std::string creation_;  // attributes of the first response
  std::string authid_;
  std::string out_, writing_, in_;
  char buf_[16 * 1024];
  std::uint32_t wait_ = 60, hold_ = 1, requests_ = 2;
  bool ended_ = false, pipe_closed_ = false, close_when_written_ = false;
};

BoshService::BoshService(Context& ctx, Options o) : ctx_(ctx), o_(std::move(o)) {}

std::size_t BoshService::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

HttpResponse BoshService::response(std::string body, unsigned status) const {
  HttpResponse r{status, std::string(kContentType), std::move(body), {}};
  if (!o_.bosh.allow_origin.empty())
    r.headers.emplace_back("Access-Control-Allow-Origin", o_.bosh.allow_origin);
  return r;
}

void BoshService::remove(const std::string& sid, const std::string& peer) {
  std::lock_guard lock(mu_);
  if (sessions_.erase(sid) == 0) return;
  if (auto it = per_address_.find(peer); it != per_address_.end() && --it->second == 0)
    per_address_.erase(it);
}

void BoshService::stop() {
  std::vector<std::shared_ptr<BoshSession>> all;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (auto& [sid, s] : sessions_) all.push_back(s);
  }
  for (auto& s : all) post_guarded(s->strand(), "bosh: stop", [s] { s->end("system-shutdown", false); });
}

void BoshService::handle(const HttpRequest& q, HttpReply reply) {
  if (q.method == "OPTIONS") {  // CORS preflight (Fetch standard): only when an origin is configured
    HttpResponse r = response({}, 204);
    r.content_type.clear();
    if (!o_.bosh.allow_origin.empty()) {
      r.headers.emplace_back("Access-Control-Allow-Methods", "POST, OPTIONS");
      r.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type");
      r.headers.emplace_back("Access-Control-Max-Age", "86400");
    }
    return reply(std::move(r));
  }
  // As for /xmpp-websocket: TLS is HTTP's (XEP-0206 §... leaves it to the transport), plain
  // only from loopback (a TLS-terminating proxy on the host).
  if (!q.tls && !loopback(q.peer)) return reply(response("<!-- use https -->", 403));
  auto parsed = protocols::xmpp::parse_bosh_body(q.body, o_.body_bytes);
  if (!parsed.body) return reply(response(render_bosh_terminate(parsed.error.condition), 400));
  BoshBody& b = *parsed.body;
  if (!b.sid.empty()) {
    std::shared_ptr<BoshSession> s;
    {
      std::lock_guard lock(mu_);
      if (auto it = sessions_.find(b.sid); it != sessions_.end()) s = it->second;
    }
    // §17.2: an unknown sid ends nothing but is told item-not-found.
    if (!s) return reply(response(render_bosh_terminate("item-not-found")));
    return post_guarded(s->strand(), "bosh: request",
                        [s, b = std::move(b), reply = std::move(reply)]() mutable {
                          s->request(std::move(b), std::move(reply));
                        });
  }
  if (b.to != ctx_.domains.domain) return reply(response(render_bosh_terminate("host-unknown")));
  int fds[2];
  std::string sid = new_sid();
  {
    std::lock_guard lock(mu_);
    if (stopped_) return reply(response(render_bosh_terminate("system-shutdown")));
    if (sessions_.size() >= o_.bosh.max_sessions || per_address_[q.peer] >= o_.bosh.sessions_per_address) {
      if (per_address_[q.peer] == 0) per_address_.erase(q.peer);
      return reply(response(render_bosh_terminate("policy-violation")));
    }
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      return reply(response(render_bosh_terminate("internal-server-error")));
    ++per_address_[q.peer];
    sessions_[sid] = nullptr;  // reserved; set below
  }
  auto& io = ctx_.rt.io;
  Socket ours(asio::make_strand(io), protocols::tcp::v4(), fds[0]);
  Socket theirs(asio::make_strand(io), protocols::tcp::v4(), fds[1]);
  auto session =
      std::make_shared<BoshSession>(weak_from_this(), o_, sid, q.peer, std::move(ours), ctx_.domains.domain);
  {
    std::lock_guard lock(mu_);
    sessions_[sid] = session;
  }
  protocols::Connection::Detached d{std::move(theirs), {}, {}, {}};
  auto c = std::make_shared<C2sConnection>(
      std::move(d), std::make_unique<protocols::xmpp::XmppWsFraming>(o_.ws), ctx_, o_.write_queue);
  c->set_peer_host(q.peer);  // auth-failure throttling and logs by the HTTP client's address
  ctx_.manager.add(c);
  post_guarded(c->executor(), "bosh: c2s start", [c] { c->start(); });
  spdlog::debug("xmpp: BOSH session {} from {}", sid, q.peer);
  post_guarded(session->strand(), "bosh: create",
               [session, b = std::move(b), reply = std::move(reply)]() mutable {
                 session->create(b, std::move(reply));
               });
}

}  // namespace parley::adapters::xmpp

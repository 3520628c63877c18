#include "protocols/common/connector.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <vector>

#include "protocols/common/address_class.hpp"

namespace parley::protocols {

std::string_view to_string(ConnectError::Kind k) {
  switch (k) {
    case ConnectError::Kind::invalid:
      return "invalid";
    case ConnectError::Kind::resolve:
      return "resolve";
    case ConnectError::Kind::refused:
      return "refused";
    case ConnectError::Kind::unreachable:
      return "unreachable";
    case ConnectError::Kind::timeout:
      return "timeout";
    case ConnectError::Kind::tls:
      return "tls";
    case ConnectError::Kind::tls_verify:
      return "tls_verify";
    case ConnectError::Kind::pin_mismatch:
      return "pin_mismatch";
    case ConnectError::Kind::closed:
      return "closed";
    case ConnectError::Kind::cancelled:
      return "cancelled";
    case ConnectError::Kind::forbidden:
      return "forbidden";
  }
  return "unknown";
}

std::string normalize_fingerprint(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ':' || c == ' ') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out.size() == 64 ? out : std::string{};
}

std::shared_ptr<asio::ssl::context> make_client_tls(const ConnectOptions& o, std::string* why) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (o.verify) {
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    if (!o.ca_file.empty()) {
      ctx->load_verify_file(o.ca_file, ec);
      if (ec) {
        if (why) *why = "cannot load CA file " + o.ca_file + ": " + ec.message();
        return nullptr;
      }
    } else {
      ctx->set_default_verify_paths(ec);
      if (ec) {
        if (why) *why = "cannot load the system CA store: " + ec.message();
        return nullptr;
      }
    }
  } else {
    ctx->set_verify_mode(asio::ssl::verify_none, ec);
  }
  return ctx;
}

namespace {

std::string sha256_hex(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!cert || X509_digest(cert, EVP_sha256(), md, &n) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  auto a = ep.address();
  return a.is_v6() ? "[" + a.to_string() + "]:" + std::to_string(ep.port())
                   : a.to_string() + ":" + std::to_string(ep.port());
}

class ConnectOp final : public Connect, public std::enable_shared_from_this<ConnectOp> {
 public:
  ConnectOp(const Strand& strand, std::string host, std::uint16_t port, ConnectOptions o, ConnectHandler done,
            std::shared_ptr<asio::ssl::context> ctx)
      : strand_(strand),
        host_(std::move(host)),
        port_(port),
        o_(std::move(o)),
        done_(std::move(done)),
        ctx_(std::move(ctx)),
        resolver_(strand),
        socket_(strand),
        attempt_timer_(strand),
        overall_timer_(strand) {}

  void start() {
    if (finished_) return;  // cancelled before it began
    if (o_.attempt_timeout.count() <= 0 || o_.overall_timeout.count() <= 0 || o_.max_addresses == 0)
      return fail(ConnectError::Kind::invalid, "connect timeouts and max_addresses must be positive");
    if (!o_.fingerprint.empty()) {
      pin_ = normalize_fingerprint(o_.fingerprint);
      if (pin_.empty()) return fail(ConnectError::Kind::invalid, "fingerprint is not a SHA-256 in hex");
    }
    if (o_.tls && !ctx_) {
      std::string why;
      ctx_ = make_client_tls(o_, &why);
      if (!ctx_) return fail(ConnectError::Kind::invalid, why);
    }
    if (o_.server_name.empty()) o_.server_name = host_;
    auto self = shared_from_this();
    overall_timer_.expires_after(o_.overall_timeout);
    overall_timer_.async_wait([self](boost::system::error_code ec) {
      if (ec || self->finished_) return;
      self->fail(ConnectError::Kind::timeout, self->target() + ": no connection within " +
                                                  std::to_string(self->o_.overall_timeout.count()) + " ms");
    });
    resolver_.async_resolve(host_, std::to_string(port_),
                            asio::bind_executor(strand_, [self](boost::system::error_code ec,
                                                                tcp::resolver::results_type results) {
                              self->on_resolved(ec, std::move(results));
                            }));
  }

  void cancel() override { fail(ConnectError::Kind::cancelled, target() + ": cancelled"); }

 private:
  std::string target() const { return host_ + ":" + std::to_string(port_); }

  void on_resolved(boost::system::error_code ec, tcp::resolver::results_type results) {
    if (finished_) return;
    if (ec) return fail(ConnectError::Kind::resolve, host_ + ": " + ec.message());
    std::string refused;  // the first address public_only left out, for the error
    for (const auto& r : results) {
      if (endpoints_.size() >= o_.max_addresses) break;
      if (o_.public_only && !is_public_address(r.endpoint().address())) {
        if (refused.empty()) refused = r.endpoint().address().to_string();
        continue;
      }
      endpoints_.push_back(r.endpoint());
    }
    if (endpoints_.empty() && !refused.empty())
      return fail(ConnectError::Kind::forbidden,
                  host_ + " resolves to " + refused + ", not a public address: refused");
    if (endpoints_.empty()) return fail(ConnectError::Kind::resolve, host_ + ": no addresses");
    try_next();
  }

  void try_next() {
    if (finished_) return;
    if (next_ >= endpoints_.size()) return fail(last_.kind, last_.reason);
    const tcp::endpoint ep = endpoints_[next_++];
    boost::system::error_code ignored;
    socket_.close(ignored);
    socket_ = Socket(strand_);
    const unsigned gen = ++gen_;
    attempt_timed_out_ = false;
    auto self = shared_from_this();
    attempt_timer_.expires_after(o_.attempt_timeout);
    attempt_timer_.async_wait([self, gen](boost::system::error_code ec) {
      if (ec || self->finished_ || gen != self->gen_) return;
      self->attempt_timed_out_ = true;
      boost::system::error_code ignored2;
      self->socket_.close(ignored2);  // the connect completes with operation_aborted
    });
    socket_.async_connect(ep, [self, gen, ep](boost::system::error_code ec) {
      if (self->finished_ || gen != self->gen_) return;
      self->attempt_timer_.cancel();
      if (!ec) return self->on_connected(ep);
      if (self->attempt_timed_out_) {
        self->last_ = {ConnectError::Kind::timeout, endpoint_text(ep) + ": connect timed out after " +
                                                        std::to_string(self->o_.attempt_timeout.count()) +
                                                        " ms"};
      } else {
        auto kind = ec == asio::error::connection_refused ? ConnectError::Kind::refused
                                                          : ConnectError::Kind::unreachable;
        self->last_ = {kind, endpoint_text(ep) + ": " + ec.message()};
      }
      self->try_next();
    });
  }

  void on_connected(const tcp::endpoint& ep) {
    peer_ = ep;
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    if (!o_.tls) return succeed();
    tls_ = TlsSession(ctx_->native_handle(), o_.server_name, o_.verify);
    if (!tls_)
      return fail(ConnectError::Kind::tls, endpoint_text(ep) + ": TLS setup failed for " + o_.server_name);
    step();
  }

  // One round of the client handshake over in_: write what OpenSSL produced, then either
  // finish or read more. Bounded by the overall deadline and by in_'s size.
  void step() {
    std::string_view in(in_);
    std::string why;
    const auto st = tls_.handshake(in, out_, &why);
    in_.erase(0, in_.size() - in.size());
    if (st == TlsSession::Status::error) return fail_tls(why);
    if (st == TlsSession::Status::closed)
      return fail(ConnectError::Kind::closed, endpoint_text(peer_) + ": closed during the TLS handshake");
    const bool done = st == TlsSession::Status::done;
    if (!out_.empty()) {
      auto self = shared_from_this();
      writing_ = std::move(out_);
      out_.clear();
      asio::async_write(
          socket_, asio::buffer(writing_), [self, done](boost::system::error_code ec, std::size_t) {
            if (self->finished_) return;
            if (ec)
              return self->fail(ConnectError::Kind::closed, endpoint_text(self->peer_) + ": " + ec.message());
            if (done) return self->after_handshake();
            self->read();
          });
      return;
    }
    if (done) return after_handshake();
    read();
  }

  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, std::size_t n) {
      if (self->finished_) return;
      if (ec == asio::error::eof)
        return self->fail(ConnectError::Kind::closed,
                          endpoint_text(self->peer_) + ": closed during the TLS handshake");
      if (ec) return self->fail(ConnectError::Kind::closed, endpoint_text(self->peer_) + ": " + ec.message());
      // A handshake needs a few KiB (a certificate chain); more unconsumed input is abuse.
      if (self->in_.size() + n > kMaxHandshakeInput)
        return self->fail(ConnectError::Kind::tls, endpoint_text(self->peer_) + ": TLS handshake too large");
      self->in_.append(self->buf_.data(), n);
      self->step();
    });
  }

  void fail_tls(const std::string& why) {
    SSL* ssl = tls_.native_handle();
    const long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (o_.verify && vr != X509_V_OK)
      return fail(ConnectError::Kind::tls_verify, endpoint_text(peer_) + ": certificate of " +
                                                      o_.server_name +
                                                      " not trusted: " + X509_verify_cert_error_string(vr));
    return fail(ConnectError::Kind::tls,
                endpoint_text(peer_) + ": TLS handshake failed" + (why.empty() ? "" : ": " + why));
  }

  void after_handshake() {
    fingerprint_ = sha256_hex(SSL_get0_peer_certificate(tls_.native_handle()));
    if (!pin_.empty() && fingerprint_ != pin_)
      return fail(ConnectError::Kind::pin_mismatch, endpoint_text(peer_) + ": certificate SHA-256 " +
                                                        fingerprint_ + " is not the pinned " + pin_);
    succeed();
  }

  void succeed() {
    finished_ = true;
    cancel_timers();
    ConnectedStream s{std::move(socket_), std::move(tls_), std::move(in_), peer_, std::move(fingerprint_)};
    finish(ConnectResult{std::move(s), {}});
  }

  void fail(ConnectError::Kind kind, std::string reason) {
    if (finished_) return;
    finished_ = true;
    cancel_timers();
    resolver_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    finish(ConnectResult{std::nullopt, ConnectError{kind, std::move(reason)}});
  }

  void cancel_timers() {
    attempt_timer_.cancel();
    overall_timer_.cancel();
  }

  // Always through the strand, so done never runs inside connect() or cancel().
  void finish(ConnectResult r) {
    asio::post(strand_, [self = shared_from_this(), r = std::move(r)]() mutable {
      auto done = std::move(self->done_);
      self->done_ = nullptr;
      if (done) done(std::move(r));
    });
  }

  static constexpr std::size_t kMaxHandshakeInput = 64 * 1024;

  Strand strand_;
  std::string host_;
  std::uint16_t port_;
  ConnectOptions o_;
  ConnectHandler done_;
  std::shared_ptr<asio::ssl::context> ctx_;
  tcp::resolver resolver_;
  Socket socket_;
  StrandTimer attempt_timer_;
  StrandTimer overall_timer_;
  std::vector<tcp::endpoint> endpoints_;
  std::size_t next_ = 0;
  unsigned gen_ = 0;
  bool attempt_timed_out_ = false;
  bool finished_ = false;
  ConnectError last_{ConnectError::Kind::unreachable, "no address tried"};
  tcp::endpoint peer_;
  TlsSession tls_;
  std::string pin_;
  std::string fingerprint_;
  std::string in_;       // handshake records received, not yet consumed
  std::string out_;      // handshake records to send
  std::string writing_;  // in an async_write
  std::array<char, 16 * 1024> buf_{};
};

}  // namespace

std::shared_ptr<Connect> connect(const Strand& strand, std::string host, std::uint16_t port,
                                 ConnectOptions options, ConnectHandler done,
                                 std::shared_ptr<asio::ssl::context> tls_ctx) {
  auto op = std::make_shared<ConnectOp>(strand, std::move(host), port, std::move(options), std::move(done),
                                        std::move(tls_ctx));
  // start() may fail at once (bad options); the result is posted either way.
  asio::post(strand, [op] { op->start(); });
  return op;
}

}  // namespace parley::protocols

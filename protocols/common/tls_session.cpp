#include "protocols/common/tls_session.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

namespace parley::protocols {

namespace {

// The buffers of the SSL_* call in progress on this thread (see tls_session.hpp). Io scopes
// nest: a plaintext sink may write to a session while the read that fed it is suspended.
struct IoBuffers {
  std::string_view* in = nullptr;
  std::string* out = nullptr;
};
thread_local IoBuffers t_io;

int on_bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  if (!t_io.out || len < 0) return -1;
  t_io.out->append(data, static_cast<std::size_t>(len));
  return len;
}

int on_bio_read(BIO* b, char* buf, int len) {
  BIO_clear_retry_flags(b);
  if (!t_io.in || t_io.in->empty() || len <= 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  std::size_t n = std::min(t_io.in->size(), static_cast<std::size_t>(len));
  std::memcpy(buf, t_io.in->data(), n);
  t_io.in->remove_prefix(n);
  return static_cast<int>(n);
}

long on_bio_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int on_bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

const BIO_METHOD* bio_method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "parley-memory");
    BIO_meth_set_write(bm, on_bio_write);
    BIO_meth_set_read(bm, on_bio_read);
    BIO_meth_set_ctrl(bm, on_bio_ctrl);
    BIO_meth_set_create(bm, on_bio_create);
    return bm;
  }();
  return m;
}

// One BIO per thread, lent to an SSL for the duration of each SSL_* call and taken back
// after it, so an idle session holds no BIO (120 bytes and a lock). SSL_set_bio(3) takes
// one reference when rbio == wbio and frees the BIOs it replaces (here: drops the loan);
// OpenSSL keeps its own handshake buffering BIO across a change of wbio (SSL_set0_wbio
// pops and re-pushes it). The thread keeps one reference of its own.
BIO* thread_bio() {
  struct Holder {
    BIO* bio = BIO_new(bio_method());
    ~Holder() { BIO_free(bio); }
  };
  thread_local Holder h;
  return h.bio;
}

class IoScope {
 public:
  IoScope(SSL* ssl, std::string_view& in, std::string& out) : ssl_(ssl), saved_(t_io) {
    t_io = {&in, &out};
    if (BIO* b = thread_bio()) {
      BIO_up_ref(b);
      SSL_set_bio(ssl_, b, b);  // rbio == wbio: consumes the one reference granted
    }
  }
  ~IoScope() {
    SSL_set_bio(ssl_, nullptr, nullptr);
    t_io = saved_;
  }
  IoScope(const IoScope&) = delete;
  IoScope& operator=(const IoScope&) = delete;

 private:
  SSL* ssl_;
  IoBuffers saved_;
};

// Plaintext lands here before it is handed to the connection (one per thread).
thread_local char t_plain[16 * 1024];
// A read under way on this thread: its sink is handling plaintext in t_plain. A sink may read
// another session (a gateway's witness reads a follower's socket inside its leader's read,
// shared_reads.hpp): that read must not overwrite what the outer sink has not handled yet.
thread_local bool t_plain_in_use = false;

}  // namespace

TlsSession::TlsSession(SSL_CTX* ctx) {
  ssl_ = SSL_new(ctx);
  if (!ssl_) return;
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_accept_state(ssl_);
}

TlsSession::TlsSession(SSL_CTX* ctx, const std::string& server_name, bool check_name) {
  ssl_ = SSL_new(ctx);
  if (!ssl_) return;
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_connect_state(ssl_);
  boost::system::error_code ec;
  const bool is_ip = !boost::asio::ip::make_address(server_name, ec).is_unspecified() && !ec;
  bool ok = true;
  // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
  if (!is_ip && !server_name.empty()) ok = SSL_set_tlsext_host_name(ssl_, server_name.c_str()) == 1;
  if (ok && check_name && !server_name.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str()) == 1
               : X509_VERIFY_PARAM_set1_host(param, server_name.c_str(), server_name.size()) == 1;
  }
  if (!ok) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
}

TlsSession::~TlsSession() {
  if (ssl_) SSL_free(ssl_);
}

TlsSession& TlsSession::operator=(TlsSession&& o) noexcept {
  if (this != &o) {
    if (ssl_) SSL_free(ssl_);
    ssl_ = o.ssl_;
    o.ssl_ = nullptr;
  }
  return *this;
}

TlsSession::Status TlsSession::status_of(int rc) {
  int err = SSL_get_error(ssl_, rc);
  ERR_clear_error();
  if (err == SSL_ERROR_WANT_READ) return Status::want_read;
  if (err == SSL_ERROR_ZERO_RETURN) return Status::closed;
  return Status::error;
}

TlsSession::Status TlsSession::handshake(std::string_view& in, std::string& out, std::string* why) {
  if (!ssl_) return Status::error;
  IoScope io(ssl_, in, out);
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) return Status::done;
  if (why) {
    char buf[256] = {};
    if (unsigned long e = ERR_peek_error()) ERR_error_string_n(e, buf, sizeof buf);
    *why = buf;
  }
  return status_of(rc);
}

TlsSession::Status TlsSession::read(std::string_view& in, std::string& out,
                                    const std::function<bool(const char*, std::size_t)>& sink) {
  if (!ssl_) return Status::error;
  struct Restore {
    bool was_in_use;
    ~Restore() { t_plain_in_use = was_in_use; }
  } restore{std::exchange(t_plain_in_use, true)};
  // Nested: a buffer of its own (rare, so allocated only then).
  std::unique_ptr<char[]> nested;
  if (restore.was_in_use) nested = std::make_unique<char[]>(sizeof t_plain);
  char* plain = nested ? nested.get() : t_plain;
  for (;;) {
    int n;
    Status st = Status::done;
    {
      IoScope io(ssl_, in, out);
      n = SSL_read(ssl_, plain, sizeof t_plain);
      if (n <= 0) st = status_of(n);
    }
    if (n <= 0) return st;
    // The sink may write (SSL_write) or even end the connection: no state held across it.
    if (!sink(plain, static_cast<std::size_t>(n))) return Status::done;
  }
}

bool TlsSession::write(std::string_view plain, std::string& out) {
  if (!ssl_) return false;
  std::string_view none;
  IoScope io(ssl_, none, out);
  while (!plain.empty()) {
    int chunk = static_cast<int>(std::min<std::size_t>(plain.size(), std::numeric_limits<int>::max() / 2));
    int n = SSL_write(ssl_, plain.data(), chunk);
    if (n <= 0) {
      ERR_clear_error();
      return false;
    }
    plain.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void TlsSession::shutdown(std::string& out) {
  if (!ssl_ || !SSL_is_init_finished(ssl_)) return;
  std::string_view none;
  IoScope io(ssl_, none, out);
  (void)SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace parley::protocols

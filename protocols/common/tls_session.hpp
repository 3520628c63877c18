#pragma once
// Server-side TLS over memory, for Connection (net.hpp). Ciphertext read from the socket is
// handed in as a view; ciphertext OpenSSL produces is appended to the connection's write
// queue. No buffers of its own: asio::ssl::stream keeps two 17 KiB buffers per connection
// for its whole life and its BIO pair two more, which made an idle TLS session cost ~90
// KiB. With SSL_MODE_RELEASE_BUFFERS an idle session keeps only OpenSSL's state.
// A TlsSession is one pointer, held by value (no allocation of its own), and between calls
// its SSL has no BIO: each SSL_* call borrows the thread's BIO, which reads and writes the
// buffers of that call (OpenSSL only touches the BIO from inside our calls).
// Not thread-safe: used on the connection's strand only.
#include <openssl/ssl.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace parley::protocols {

class TlsSession {
 public:
  enum class Status { done, want_read, closed, error };

  TlsSession() = default;  // no TLS
  explicit TlsSession(SSL_CTX* ctx);  // server side (accept state)
  // Client side (connect state), for the outbound connector (connector.hpp): sends
  // `server_name` as SNI (RFC 6066 §3; not for an IP literal) and, when `check_name`, makes
  // the certificate's name part of verification (RFC 6125: DNS name or IP address in the
  // subjectAltName). Whether the chain is verified at all is the context's SSL_VERIFY_PEER.
  TlsSession(SSL_CTX* ctx, const std::string& server_name, bool check_name);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;
  TlsSession(TlsSession&& o) noexcept : ssl_(o.ssl_) { o.ssl_ = nullptr; }
  TlsSession& operator=(TlsSession&& o) noexcept;

  bool valid() const { return ssl_ != nullptr; }
  // For checks after the handshake (verify result, peer certificate).
  SSL* native_handle() const { return ssl_; }
  explicit operator bool() const { return valid(); }
  // Runs the handshake on `in` (consumed as far as OpenSSL needs; the rest stays in `in`
  // for read()). Handshake records go to `out`.
  // On error, `why` (if given) receives OpenSSL's reason, e.g. "certificate verify failed".
  Status handshake(std::string_view& in, std::string& out, std::string* why = nullptr);
  // Decrypts `in`, calling sink(data, n) for each plaintext chunk; stops early when sink
  // returns false. want_read when all input is consumed.
  Status read(std::string_view& in, std::string& out, const std::function<bool(const char*, std::size_t)>& sink);
  // Encrypts plain into out. false on a fatal TLS error.
  bool write(std::string_view plain, std::string& out);
  // close_notify into out.
  void shutdown(std::string& out);

 private:
  Status status_of(int rc);
  SSL* ssl_ = nullptr;
};

}  // namespace parley::protocols

#pragma once
// Outbound connections, for every plugin that connects out (the IRC gateway to IRC
// networks, the XEP-0114 component to its XMPP server, PSYC peers, bridges).
//
//   connect(strand, host, port, options, done)
//       resolves host (A and AAAA), tries the addresses in the resolver's order, each with
//       its own timeout, the whole under an overall deadline; with options.tls runs a TLS
//       client handshake that verifies the server's certificate by default (chain against
//       the system CAs or options.ca_file, name via SNI + RFC 6125 host check) and can pin
//       the certificate's SHA-256 fingerprint. done(result) runs once, on `strand`, with
//       either a connected stream or a ConnectError saying which step failed and why.
//   Connection(std::move(stream.socket), std::move(stream.tls), std::move(stream.pending), limits)
//       (net.hpp) makes a bounded Connection of the stream, on the same strand.
//
// The reconnect policy (backoff with jitter) is reconnector.hpp. No core types here: this is
// socket plumbing, below the layer rule (protocols/ never includes core/).
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/net.hpp"
#include "protocols/common/tls_session.hpp"

namespace parley::protocols {

struct ConnectOptions {
  // TCP connect to one address. 0 is refused by connect() (nothing unbounded).
  std::chrono::milliseconds attempt_timeout{10'000};
  // Resolve + every attempt + TLS handshake together.
  std::chrono::milliseconds overall_timeout{30'000};
  std::size_t max_addresses = 8;  // of the resolver's answers, at most this many are tried

  bool tls = false;  // implicit TLS (IRC 6697, XMPP direct TLS)
  // Verify the certificate chain and the server's name. Off only by explicit choice (a
  // self-signed test server, or together with `fingerprint`).
  bool verify = true;
  std::string server_name;  // checked against the certificate and sent as SNI; empty: host
  std::string ca_file;      // PEM trust anchors; empty: the system's default CA store
  // SHA-256 of the server certificate (DER), hex, colons and case ignored. When set it must
  // match, in addition to the chain check when `verify` is on.
  std::string fingerprint;
  // Only public addresses (address_class.hpp) are tried: the resolver's answers are
  // filtered before any connect, so a name cannot lead to a loopback or private host
  // (irc.open_networks without open_networks_allow_private).
  bool public_only = false;
};

struct ConnectError {
  enum class Kind : std::uint8_t {
    invalid,       // bad options (an unparsable fingerprint, an unreadable ca_file)
    resolve,       // the name did not resolve
    refused,       // every address refused (RST)
    unreachable,   // network/host unreachable, or another socket error
    timeout,       // an attempt or the overall deadline passed
    tls,           // the TLS handshake failed (not a certificate problem)
    tls_verify,    // the certificate did not verify (reason: OpenSSL's, e.g. "self-signed
                   // certificate", "hostname mismatch")
    pin_mismatch,  // the certificate's SHA-256 was not the pinned one
    closed,        // the peer closed during the handshake
    cancelled,     // Connect::cancel()
    forbidden,     // public_only, and the name resolved to no public address
  };
  Kind kind = Kind::invalid;
  std::string reason;  // one line for logs and for the user, with the address when known
};
std::string_view to_string(ConnectError::Kind k);

struct ConnectedStream {
  Socket socket;            // connected, its executor the strand given to connect()
  TlsSession tls;           // an established client session, or empty (plain)
  std::string pending;      // ciphertext read past the handshake: hand it to the Connection
  tcp::endpoint peer;       // the address that answered
  std::string fingerprint;  // SHA-256 of the server certificate, lower-case hex (TLS only)
};

struct ConnectResult {
  std::optional<ConnectedStream> stream;  // set on success
  ConnectError error;                     // meaningful when !stream
  bool ok() const { return stream.has_value(); }
};

// A connect in progress. Dropping the handle does not cancel it (the operation keeps itself
// alive until done runs); cancel() ends it: done runs with Kind::cancelled unless it already
// ran. On the strand.
class Connect {
 public:
  virtual ~Connect() = default;
  virtual void cancel() = 0;
};

using ConnectHandler = std::function<void(ConnectResult)>;

// The client TLS context for `o` (TLS 1.2 or later; SSL_VERIFY_PEER when o.verify, with
// o.ca_file or the system CAs). nullptr and `why` when the CA file cannot be loaded. One per
// configured peer is enough: connect() makes one per call when given none.
std::shared_ptr<asio::ssl::context> make_client_tls(const ConnectOptions& o, std::string* why);

// Starts a connect on `strand`; done runs there exactly once. `tls_ctx` may be null (made
// from options when options.tls).
std::shared_ptr<Connect> connect(const Strand& strand, std::string host, std::uint16_t port,
                                 ConnectOptions options, ConnectHandler done,
                                 std::shared_ptr<asio::ssl::context> tls_ctx = nullptr);

// "AB:cd:01" -> "abcd01"; empty if it is not 32 bytes of hex.
std::string normalize_fingerprint(std::string_view text);

}  // namespace parley::protocols

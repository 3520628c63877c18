#pragma once
// The server's TLS identity. Either the cert/key configured under xmpp.c2s.tls, or a
// self-signed certificate for server.domain generated on first start into
// data_dir/tls/{cert.pem,key.pem} (key mode 0600), so every TLS listener works out of the box.
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "adapters/common/server_tls.hpp"
#include "config/config.hpp"
#include "core/model/error.hpp"

namespace parley::daemon {

struct TlsFiles {
  std::string cert;  // PEM certificate (chain)
  std::string key;   // PEM private key
  bool generated = false;  // true if created by this call
};

// Creates dir/cert.pem and dir/key.pem (EC P-256 key, X.509 v3 with CN=domain and
// subjectAltName DNS:domain, or IP:domain for an address, valid 10 years) unless both exist.
core::Result<TlsFiles> ensure_self_signed(const std::string& dir, const std::string& domain);

// The configured pair if xmpp.c2s.tls names one, else ensure_self_signed(data_dir/tls).
core::Result<TlsFiles> server_tls_files(const config::Config& c);

// A server context, TLS 1.2 or later, with the pair loaded and checked against each other
// (adapters::make_server_tls; adapters::ServerTls keeps the current one and reloads it).
core::Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls(const TlsFiles& files);

}  // namespace parley::daemon

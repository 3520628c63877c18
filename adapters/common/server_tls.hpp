#pragma once
// The server's TLS identity as the listeners see it: one certificate for server.domain
// (xmpp.c2s.tls, or the generated self-signed pair; daemon/tls.hpp picks the files), used by
// every tls: listener and by XMPP STARTTLS. SIGHUP re-reads the files and swaps the context:
// connections accepted (or upgraded) afterwards get the new certificate, established ones
// keep the context they were made with (Connection holds its own reference).
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "core/model/error.hpp"

namespace parley::adapters {

// A server context, TLS 1.2 or later, with the PEM pair loaded and checked against each
// other. Errors name the file and the reason ("cannot load certificate /x: No such file...").
core::Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls(const std::string& cert,
                                                                         const std::string& key);

class ServerTls {
 public:
  // Loads the pair; an unreadable or mismatched pair is an error (the daemon refuses to start).
  static core::Result<std::shared_ptr<ServerTls>> load(const std::string& cert, const std::string& key);

  // Loads (possibly other) files and, if they are good, makes them current. On error the
  // current context stays and the error says why.
  core::Status reload(const std::string& cert, const std::string& key);

  // The context for a new connection. Any thread: one lock per accepted connection or
  // STARTTLS, never per byte.
  std::shared_ptr<boost::asio::ssl::context> current() const;
  std::string cert_file() const;

 private:
  ServerTls() = default;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  std::string cert_;
  std::string key_;
};

}  // namespace parley::adapters

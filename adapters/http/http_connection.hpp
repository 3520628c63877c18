#pragma once
// One HTTP/1.1 client connection (RFC 9112): Boost.Beast's request parser fed from the
// Connection's bounded read buffer, one request at a time (a pipelined next request waits
// in the buffer until the answer to this one is written), routed through HttpRoutes; a
// WebSocket handshake (RFC 6455 §4.2) hands the connection to its endpoint once the 101 is
// on the wire (Connection::detach). Runs on its own strand, like XMPP connections.
//
// Bounds (http.limits): header and body bytes (431/413, then close), requests per
// connection, read timeout from a request's first byte to its last (slowloris), idle
// timeout between requests, write queue (Connection::Limits).
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/common/http_routes.hpp"
#include "config/config.hpp"
#include "protocols/common/net.hpp"

namespace parley::adapters::http {

// What one listener's connections share (read-only after start).
struct HttpSettings {
  config::HttpLimits limits;
  std::shared_ptr<HttpRoutes> routes;
  // "/metrics" has a listener of its own (http.metrics_listen): not served here. On that
  // listener, only "/metrics" is served.
  bool metrics_elsewhere = false;
  bool metrics_only = false;
  std::vector<std::string> allowed_origins;  // http.websocket.allowed_origins (origin.hpp)
};

// The connection's Limits from the settings (read buffer: one request's headers and a bit).
protocols::Connection::Limits http_connection_limits(const HttpSettings& s);

class HttpConnection final : public protocols::Connection {
 public:
  HttpConnection(protocols::Socket socket, std::shared_ptr<boost::asio::ssl::context> tls, Limits limits,
                 std::shared_ptr<const HttpSettings> settings);

 protected:
  std::size_t on_data(std::string_view data) override;
  void on_close(std::string_view) override {}
  void on_read_overflow() override;
  void on_deadline(Deadline kind) override;
  void on_exception(std::string_view what) override;

 private:
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  void new_parser();
  void on_request();
  void upgrade(const HttpRoutes::Route& route, const HttpRequest& request);
  void finish_upgrade();
  // Writes the response and, unless the connection closes, reads the next request.
  void respond(const HttpResponse& r, bool keep_alive);
  void fail(unsigned status, std::string_view text);  // answer, then close
  void deliver(std::uint64_t seq, HttpResponse r);    // a route's reply, on the strand

  std::shared_ptr<const HttpSettings> settings_;
  std::optional<Parser> parser_;
  std::uint32_t requests_ = 0;
  std::uint64_t seq_ = 0;                 // the request a pending reply belongs to
  bool waiting_ = false;                  // a route's reply is pending
  bool keep_alive_ = true;                // of the request being answered
  bool upgrading_ = false;                // 101 sent: the endpoint takes the connection once it is written
  bool in_request_ = false;               // a request's first byte came (read deadline armed)
  std::shared_ptr<const WsEndpoint> ws_;  // while upgrading
  std::string subprotocol_;
};

}  // namespace parley::adapters::http

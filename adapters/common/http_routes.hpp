#pragma once
// The HTTP listener's route table (adapters/http serves it): path -> handler, so that
// features plug into the one HTTP server without touching it. A plugin registers its paths
// in its start() (the http plugin starts last, daemon/plugins.cpp):
//
//   rt.http->handle("/metrics", {"GET"}, [](const HttpRequest& q, HttpReply reply) {
//     reply({200, "text/plain; version=0.0.4", render()});     // now, or later from any thread
//   });
//   rt.http->websocket("/xmpp-websocket", WsEndpoint{{"xmpp"}, true, true, [](WsUpgrade u) {...}});
//
// A handler runs on the HTTP connection's strand; its reply may come later from any thread
// (it is posted back) and is dropped if the connection is gone meanwhile; a reply object
// dropped without an answer sends 500. While a reply is pending the connection reads no
// further request (responses stay in order). Unknown paths get 404, a method not listed 405.
// A WebSocket endpoint gets the connection after the 101 answer (WsUpgrade, on the
// connection's strand): it carries it on as a protocols::Connection with a Framing
// (protocols/common/framing.hpp), so TLS, deadlines and the write-queue bound stay the same.
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocols/common/net.hpp"
#include "protocols/http/websocket.hpp"

namespace parley::adapters {

struct HttpRequest {
  std::string method;  // "GET"
  std::string path;    // without the query
  std::string query;   // after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer;  // the client's address
  bool tls = false;
  // The first header of that name (case-insensitive), empty if none.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

class HttpReply {
 public:
  using Deliver = std::function<void(HttpResponse)>;
  HttpReply() = default;
  explicit HttpReply(Deliver deliver);
  // Any thread; the first call counts, later ones are ignored.
  void operator()(HttpResponse response) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpReply)>;

struct WsUpgrade {
  protocols::Connection::Detached connection;
  std::string subprotocol;  // the one agreed, empty if none
  protocols::ws::Limits limits;
  std::size_t write_queue = 0;  // http.limits.write_queue, for the connection's Limits
};

struct WsEndpoint {
  std::vector<std::string> subprotocols;  // ours; the client's first one we know is chosen
  bool subprotocol_required = false;      // none agreed: 400 (else none = the first mode)
  // Plain ws:// only from loopback (a TLS-terminating proxy on the host): for protocols
  // that would otherwise insist on TLS themselves (XMPP, RFC 7395 §3.5 leaves TLS to HTTP).
  bool secure_only = false;
  std::function<void(WsUpgrade)> accept;
};

class HttpRoutes {
 public:
  struct Route {
    std::vector<std::string> methods;
    HttpHandler handler;
    std::shared_ptr<const WsEndpoint> websocket;  // set: a WebSocket endpoint (GET + Upgrade)
  };
  // Any thread. A path registered again replaces the earlier route.
  void handle(std::string path, std::vector<std::string> methods, HttpHandler handler);
  void websocket(std::string path, WsEndpoint endpoint);
  void remove(const std::string& path);
  std::optional<Route> find(const std::string& path) const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, Route> routes_;
};

}  // namespace parley::adapters

#include "adapters/http/http_connection.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "adapters/http/origin.hpp"
#include "protocols/common/ascii.hpp"

namespace parley::adapters::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

bool loopback(std::string_view host) {
  boost::system::error_code ec;
  auto a = asio::ip::make_address(std::string(host), ec);
  return !ec && a.is_loopback();
}

bool header_safe(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

protocols::Connection::Limits http_connection_limits(const HttpSettings& s) {
  protocols::Connection::Limits l;
  // One request's headers (the parser refuses more first) plus what a read may carry past them.
  l.max_read_buffer = s.limits.header_bytes + 16 * 1024;
  l.max_write_queue = s.limits.write_queue;
  // Until the first request is read: the TLS handshake and the request (slowloris bound).
  l.handshake_timeout_ms = s.limits.read_timeout * 1000;
  return l;
}

HttpConnection::HttpConnection(protocols::Socket socket, std::shared_ptr<asio::ssl::context> tls,
                               Limits limits, std::shared_ptr<const HttpSettings> settings)
    : Connection(std::move(socket), std::move(tls), limits), settings_(std::move(settings)) {
  new_parser();
}

void HttpConnection::new_parser() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(settings_->limits.header_bytes));
  parser_->body_limit(settings_->limits.body_bytes);
  parser_->eager(true);
  in_request_ = false;
}

std::size_t HttpConnection::on_data(std::string_view data) {
  std::size_t used = 0;
  while (used < data.size() && !closed() && !waiting_ && !upgrading_ && parser_) {
    if (!in_request_) {
      // The read timeout runs from a request's first byte to its last (slowloris).
      in_request_ = true;
      set_deadline(Deadline::handshake, std::chrono::seconds(settings_->limits.read_timeout));
    }
    boost::beast::error_code ec;
    const std::size_t n = parser_->put(asio::buffer(data.data() + used, data.size() - used), ec);
    used += n;
    if (ec == bhttp::error::need_more) break;
    if (ec == bhttp::error::header_limit) {
      fail(431, "request headers too large\n");
      return data.size();
    }
    if (ec == bhttp::error::body_limit) {
      fail(413, "request body too large\n");
      return data.size();
    }
    if (ec) {
      fail(400, "bad request\n");
      return data.size();
    }
    if (parser_->is_done())
      on_request();
    else if (n == 0)
      break;
  }
  if (waiting_ || upgrading_) hold_input(true);
  return used;
}

void HttpConnection::on_request() {
  auto& req = parser_->get();
  ++requests_;
  clear_deadline();
  keep_alive_ = req.keep_alive() && requests_ < settings_->limits.requests_per_connection;
  HttpRequest q;
  q.method = std::string(req.method_string());
  const std::string_view target(req.target().data(), req.target().size());
  const auto mark = target.find('?');
  q.path = std::string(target.substr(0, mark));
  if (mark != std::string_view::npos) q.query = std::string(target.substr(mark + 1));
  for (const auto& f : req) q.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  q.peer = peer_host();
  q.tls = is_tls();
  const bool metrics = q.path == "/metrics";
  std::optional<HttpRoutes::Route> route;
  if (!(settings_->metrics_only && !metrics) && !(settings_->metrics_elsewhere && metrics))
    route = settings_->routes->find(q.path);
  if (!route) return respond({404, "text/plain; charset=utf-8", "not found\n", {}}, keep_alive_);
  auto allowed = [&] {
    std::string allow;
    for (const auto& m : route->methods) allow += (allow.empty() ? "" : ", ") + m;
    return allow;
  };
  if (std::find(route->methods.begin(), route->methods.end(), q.method) == route->methods.end())
    return respond({405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", allowed()}}},
                   keep_alive_);
  if (route->websocket) {
    if (!boost::beast::websocket::is_upgrade(req))
      return respond({426,
                      "text/plain; charset=utf-8",
                      "this is a WebSocket endpoint\n",
                      {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}}},
                     keep_alive_);
    return upgrade(*route, q);
  }
  q.body = std::move(req.body());
  waiting_ = true;
  const auto seq = ++seq_;
  std::weak_ptr<Connection> weak = weak_from_this();
  HttpReply reply([weak, seq, ex = executor()](HttpResponse r) {
    asio::post(ex, [weak, seq, r = std::move(r)]() mutable {
      if (auto c = weak.lock()) static_cast<HttpConnection&>(*c).deliver(seq, std::move(r));
    });
  });
  try {
    route->handler(q, std::move(reply));
  } catch (const std::exception& e) {
    // The firewall of one route: its client gets 500 (the dropped reply), others go on.
    spdlog::error("http: exception in the handler of {}: {}", q.path, e.what());
  }
}

void HttpConnection::deliver(std::uint64_t seq, HttpResponse r) {
  if (closed() || !waiting_ || seq != seq_) return;
  waiting_ = false;
  respond(r, keep_alive_);
  if (!closed() && keep_alive_) hold_input(false);  // the next request, if one is buffered
}

void HttpConnection::respond(const HttpResponse& r, bool keep_alive) {
  std::string out = "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(r.status));
  out.append(reason.data(), reason.size());
  out += "\r\nServer: parley\r\n";
  if (header_safe(r.content_type)) out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  for (const auto& [k, v] : r.headers)
    if (header_safe(k) && header_safe(v)) out += k + ": " + v + "\r\n";
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  out += r.body;
  send(out);
  if (!keep_alive) {
    parser_.reset();  // nothing more is read
    return close_after_flush("HTTP connection done");
  }
  new_parser();
  set_deadline(Deadline::auth, std::chrono::seconds(settings_->limits.idle_timeout));
}

void HttpConnection::fail(unsigned status, std::string_view text) {
  respond({status, "text/plain; charset=utf-8", std::string(text), {}}, false);
}

void HttpConnection::upgrade(const HttpRoutes::Route& route, const HttpRequest& q) {
  const auto& ep = route.websocket;
  // RFC 6455 §10.2: a page from an origin not listed is refused before anything else.
  if (!origin_allowed(settings_->allowed_origins, protocols::trim_blanks(q.header("Origin"))))
    return fail(403, "origin not allowed\n");
  // RFC 6455 §4.2.2: a version we do not speak gets 426 naming the one we do.
  if (q.header("Sec-WebSocket-Version") != "13")
    return respond(
        {426, "text/plain; charset=utf-8", "WebSocket version 13 only\n", {{"Sec-WebSocket-Version", "13"}}},
        false);
  const auto key = protocols::trim_blanks(q.header("Sec-WebSocket-Key"));
  if (!protocols::ws::valid_client_key(key)) return fail(400, "bad Sec-WebSocket-Key\n");
  if (ep->secure_only && !is_tls() && !loopback(peer_host()))
    return fail(403, "use wss:// (TLS) for this endpoint\n");
  std::string chosen;
  for (const auto& [k, v] : q.headers) {
    if (!protocols::ascii_equal_fold(k, "Sec-WebSocket-Protocol") || !chosen.empty()) continue;
    std::string_view list = v;
    while (!list.empty() && chosen.empty()) {
      const auto comma = list.find(',');
      const auto offered = protocols::trim_blanks(list.substr(0, comma));
      for (const auto& ours : ep->subprotocols)
        if (offered == ours) chosen = ours;
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
  }
  if (chosen.empty() && ep->subprotocol_required) {
    std::string want;
    for (const auto& p : ep->subprotocols) want += (want.empty() ? "" : ", ") + p;
    return fail(400, "Sec-WebSocket-Protocol required: " + want + "\n");
  }
  std::string out =
      "HTTP/1.1 101 Switching Protocols\r\nServer: parley\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  out += protocols::ws::accept_key(key);
  out += "\r\n";
  if (!chosen.empty()) out += "Sec-WebSocket-Protocol: " + chosen + "\r\n";
  out += "\r\n";
  upgrading_ = true;
  // Until the endpoint has it (detach clears this): a peer that never reads the 101.
  set_deadline(Deadline::handshake, std::chrono::seconds(settings_->limits.read_timeout));
  ws_ = ep;
  subprotocol_ = std::move(chosen);
  send(out);
  if (closed()) return;
  // The endpoint takes the socket once the 101 is on the wire (detach needs an empty queue).
  std::weak_ptr<Connection> weak = weak_from_this();
  when_written([weak, ex = executor()] {
    asio::post(ex, [weak] {
      if (auto c = weak.lock()) static_cast<HttpConnection&>(*c).finish_upgrade();
    });
  });
}

void HttpConnection::finish_upgrade() {
  if (closed()) return;
  auto ws = std::move(ws_);
  const auto& l = settings_->limits;
  auto d = detach();
  if (!d) return close("WebSocket upgrade failed");
  WsUpgrade u{std::move(*d), std::move(subprotocol_),
              protocols::ws::Limits{l.websocket_message, l.websocket_fragments}, l.write_queue};
  try {
    ws->accept(std::move(u));
  } catch (const std::exception& e) {
    spdlog::error("http: exception taking over a WebSocket connection: {}", e.what());
  }
}

void HttpConnection::on_read_overflow() { fail(431, "request too large\n"); }

void HttpConnection::on_deadline(Deadline kind) {
  close(kind == Deadline::handshake ? "HTTP read timeout" : "HTTP idle timeout");
}

void HttpConnection::on_exception(std::string_view what) {
  spdlog::error("http: exception handling a request from {}: {}; closing that connection", peer_host(), what);
  Connection::on_exception(what);
}

}  // namespace parley::adapters::http

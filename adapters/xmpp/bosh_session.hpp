#pragma once
// BOSH (XEP-0124 + XEP-0206) at /http-bind: each BOSH session is one c2s stream, the same
// C2sConnection (SASL, binding, XEP-0198, rate limits) that TCP and WebSocket clients get.
//
// The seam: a BOSH session is not a socket, but a C2sConnection is a protocols::Connection,
// which owns one. So the session makes a socketpair(2): the C2sConnection owns one end as
// an ordinary Connection whose Framing is XmppWsFraming (RFC 7395, as for /xmpp-websocket),
// and the session speaks RFC 7395 messages on the other end: <open/> at creation and on
// xmpp:restart (XEP-0206 §5), each payload element of a request body as one message,
// <close/> on type='terminate'; each message the stream sends back (already standalone,
// with its namespaces) is queued for the next held request. Nothing in the TCP or WebSocket
// paths changes, and every element is checked by the c2s StreamFramer and its limits.
// The cost is two descriptors and one local copy per BOSH session, bounded by
// http.bosh.max_sessions and sessions_per_address.
//
// Threads: BoshService::handle runs on the HTTP connection's strand and finds the session
// under a mutex; each BoshSession runs on its own strand (its pipe end's), where requests
// are held, timers run and replies (HttpReply: any thread) are sent.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "adapters/common/http_routes.hpp"
#include "config/config.hpp"

namespace parley::adapters::xmpp {

struct Context;
class BoshSession;

class BoshService : public std::enable_shared_from_this<BoshService> {
 public:
  struct Options {
    config::BoshConfig bosh;
    std::size_t body_bytes = 64 * 1024;     // http.limits.body_bytes
    std::size_t write_queue = 1024 * 1024;  // http.limits.write_queue (the c2s side's bound)
    protocols::ws::Limits ws;               // the c2s side's message bounds
  };
  BoshService(Context& ctx, Options o);
  // The /http-bind route (POST, OPTIONS).
  void handle(const HttpRequest& q, HttpReply reply);
  // Ends every session (plugin stop).
  void stop();
  std::size_t size() const;

 private:
  friend class BoshSession;
  void remove(const std::string& sid, const std::string& peer);
  HttpResponse response(std::string body, unsigned status = 200) const;

  Context& ctx_;
  Options o_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<BoshSession>> sessions_;
  std::unordered_map<std::string, std::uint32_t> per_address_;
  bool stopped_ = false;
};

}  // namespace parley::adapters::xmpp

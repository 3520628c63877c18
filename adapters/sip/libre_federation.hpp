#pragma once
// The SIP federation's libre side (libre thread only): one sipevent subscriber per remote
// presentity the core side (adapters/sip/federation.hpp) asks to watch, and one PUBLISH
// client transaction at a time per published presentity, both through the entry's proxy
// (a loose route, RFC 3261 §16.12, to the address the core side resolved its name to:
// FedTarget::route) with libre's client digest (sip_auth: 401/407 are
// answered with the entry's user/password). NOTIFY bodies are vetted here
// (vet_notify_body) and only a good document is posted to the core strand. Outgoing pager
// MESSAGEs go the same way as PUBLISH: one client transaction, the challenge answered once
// or twice, the final answer posted back.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "adapters/common/libre_bridge.hpp"
#include "adapters/common/runtime.hpp"
#include "adapters/sip/federation.hpp"

struct sip;
struct sip_msg;
struct sipevent_sock;
struct tls;
struct ssl_ctx_st;

namespace parley::adapters::sip {

class FedClient {
 public:
  // `tls`: the tls: listener's context (libre's client TLS uses it), null without one.
  FedClient(Runtime& rt, LibreLoop& loop, std::weak_ptr<Federation> core, struct ::sip* sip,
            sipevent_sock* evsock, struct tls* tls);
  ~FedClient();
  FedClient(const FedClient&) = delete;
  FedClient& operator=(const FedClient&) = delete;

  void subscribe(const FedSubscribe& s);
  void unsubscribe(std::uint64_t id);  // Expires: 0 in the dialog (libre sends it)
  void publish(const FedPublish& p);
  void message(const FedMessage& m);  // pager MESSAGE (RFC 3428) through the proxy
  void close();                       // drops every subscription and request (the stack is closing)

  struct Sub;  // libre_federation.cpp
  struct Pub;
  struct Msg;
  // For the request callbacks (libre_federation.cpp).
  struct ::sip* sip_handle() const {
    return sip_;
  }
  bool is_closed() const { return closed_; }
  struct ssl_ctx_st* ssl_context() const;  // of tls, null without one
  std::size_t publishes_in_flight() const { return pubs_.size(); }
  void published(Pub* p, int err, const struct sip_msg* msg);  // reports, then frees p
  void answered(Msg* m, int err, const struct sip_msg* msg);   // reports, then frees m

 private:
  Runtime& rt_;
  LibreLoop& loop_;
  std::weak_ptr<Federation> core_;
  struct ::sip* sip_;
  sipevent_sock* evsock_;
  struct tls* tls_;
  bool closed_ = false;
  std::unordered_map<std::uint64_t, std::unique_ptr<Sub>> subs_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Pub>> pubs_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Msg>> msgs_;
};

}  // namespace parley::adapters::sip

#pragma once
// Where a sip.federation entry's proxy is (pure, no I/O, unit tested:
// tests/unit/adapters/sip/proxy_lookup_test.cpp). `proxy` may name a host
// ("udp:sip.example.org:5060"); libre's SIP stack has no DNS client (sip_alloc without a
// dnsc), so the federation (adapters/sip/federation.cpp, core strand) resolves the name
// itself with getaddrinfo on Asio's resolver thread and hands the libre side an IP
// literal route. Why getaddrinfo and not libre's dnsc: it honours /etc/hosts and
// nsswitch (a proxy named in /etc/hosts, `localhost`), the system's resolv.conf options
// and search domains, and runs off both the core strand and the libre thread; dnsc only
// speaks DNS to the name servers it is given. Only RFC 3263 §4.2's A/AAAA step is done: no
// NAPTR/SRV (the transport and port come from the config).
//
// When to look up again (ProxyLookup): once at start, then after a request through the
// current address failed (no answer, transport error, a subscription or publication that
// ended), so a changed DNS record is followed, but at most every kRelookupAfter per
// entry; a failed request first moves on to the next resolved address (RFC 3263 §4.3),
// and a new lookup starts when every address has failed. Requests wait while a lookup
// runs; a lookup that failed fails the requests that needed it (the federation's bounded
// backoff spaces the next attempt, which looks up again).
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "adapters/sip/federation_schedule.hpp"
#include "protocols/common/listen_address.hpp"

namespace parley::adapters::sip {

inline constexpr auto kRelookupAfter = std::chrono::seconds(2);
inline constexpr std::size_t kMaxProxyAddresses = 8;  // of one lookup, the rest ignored

struct ProxyIp {
  std::string ip;  // an IP literal, no brackets
  bool ipv6 = false;
  friend bool operator==(const ProxyIp&, const ProxyIp&) = default;
};

// The proxy at `ip` as a loose route (RFC 3261 §16.12) for libre's request layer, which
// sends to the route's host: "sip:192.0.2.1:5060;transport=udp;lr", "sip:[::1]:5061;...".
std::string loose_route(const protocols::ProxyAddress& proxy, const ProxyIp& ip);

// The resolved addresses the stack can send to over `transport`: libre picks its socket
// by transport and address family (sip transp_find), so only families with a sip.listen
// address of that transport (tls needs a tls: one, tcp a tcp: one) are usable. Order kept
// (getaddrinfo's, RFC 6724), duplicates dropped, at most kMaxProxyAddresses.
std::vector<ProxyIp> usable_addresses(const std::vector<ProxyIp>& resolved, protocols::Transport transport,
                                      const std::vector<protocols::ListenAddress>& listen);

class ProxyLookup {
 public:
  explicit ProxyLookup(protocols::ProxyAddress proxy);

  enum class State : std::uint8_t { ready, pending, failed };
  struct Need {
    State state = State::pending;
    bool start = false;  // pending: the caller starts the lookup (resolved()/failed() later)
  };
  // What a request through the proxy does now: ready (address()), pending (wait; start a
  // lookup when `start`), failed (error(): the last lookup failed less than
  // kRelookupAfter ago).
  Need need(FedClock::time_point now);
  // The lookup ended: the usable addresses (none: failed with `why_empty`), or an error.
  void resolved(std::vector<ProxyIp> ips, FedClock::time_point now, std::string why_empty);
  void failed(std::string why, FedClock::time_point now);
  // A request through address() failed. No answer (timeout, transport error, 408, 503):
  // the next address, or a new lookup when none is left (RFC 3263 §4.3). Refused by the
  // server: the next need() after kRelookupAfter looks the name up again (the record may
  // point elsewhere now).
  void request_failed(bool no_answer = true);

  const protocols::ProxyAddress& proxy() const { return proxy_; }
  bool is_name() const { return proxy_.name; }
  bool resolving() const { return resolving_; }
  const ProxyIp& address() const { return ips_[index_]; }
  const std::vector<ProxyIp>& addresses() const { return ips_; }
  const std::string& error() const { return error_; }

 private:
  protocols::ProxyAddress proxy_;
  std::vector<ProxyIp> ips_;  // the last good lookup's (an IP literal: just it)
  std::size_t index_ = 0;
  bool resolving_ = false, ok_ = false, have_result_ = false, stale_ = false;
  FedClock::time_point at_{};  // when the last lookup ended
  std::string error_;
};

}  // namespace parley::adapters::sip

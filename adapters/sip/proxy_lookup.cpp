#include "adapters/sip/proxy_lookup.hpp"

#include <algorithm>

namespace parley::adapters::sip {

std::string loose_route(const protocols::ProxyAddress& proxy, const ProxyIp& ip) {
  std::string host = ip.ipv6 ? "[" + ip.ip + "]" : ip.ip;
  return "sip:" + host + ":" + std::to_string(proxy.port) +
         ";transport=" + std::string(protocols::to_string(proxy.transport)) + ";lr";
}

std::vector<ProxyIp> usable_addresses(const std::vector<ProxyIp>& resolved, protocols::Transport transport,
                                      const std::vector<protocols::ListenAddress>& listen) {
  bool v4 = false, v6 = false;
  for (const auto& l : listen)
    if (l.transport == transport) (l.ipv6 ? v6 : v4) = true;
  std::vector<ProxyIp> out;
  for (const auto& r : resolved) {
    if (out.size() >= kMaxProxyAddresses) break;
    if (!(r.ipv6 ? v6 : v4) || std::find(out.begin(), out.end(), r) != out.end()) continue;
    out.push_back(r);
  }
  return out;
}

ProxyLookup::ProxyLookup(protocols::ProxyAddress proxy) : proxy_(std::move(proxy)) {
  if (!proxy_.name) {  // an IP literal: nothing to look up, ever
    ips_.push_back({proxy_.host, proxy_.ipv6});
    ok_ = have_result_ = true;
  }
}

ProxyLookup::Need ProxyLookup::need(FedClock::time_point now) {
  if (!proxy_.name) return {State::ready, false};
  if (resolving_) return {State::pending, false};
  const bool recent = have_result_ && now - at_ < kRelookupAfter;
  if (have_result_ && ok_ && (!stale_ || recent)) return {State::ready, false};
  if (have_result_ && !ok_ && recent) return {State::failed, false};
  resolving_ = true;
  return {State::pending, true};
}

void ProxyLookup::resolved(std::vector<ProxyIp> ips, FedClock::time_point now, std::string why_empty) {
  if (ips.empty()) return failed(std::move(why_empty), now);
  resolving_ = false;
  have_result_ = ok_ = true;
  stale_ = false;
  at_ = now;
  ips_ = std::move(ips);
  index_ = 0;
  error_.clear();
}

void ProxyLookup::failed(std::string why, FedClock::time_point now) {
  resolving_ = false;
  have_result_ = true;
  ok_ = false;
  stale_ = false;
  at_ = now;
  error_ = std::move(why);
  // The last good addresses are forgotten: a request waits for a name that resolves.
  ips_.clear();
  index_ = 0;
}

void ProxyLookup::request_failed(bool no_answer) {
  if (!proxy_.name || !ok_ || resolving_) return;
  if (no_answer && index_ + 1 < ips_.size()) {
    ++index_;
    return;
  }
  index_ = 0;
  stale_ = true;
}

}  // namespace parley::adapters::sip

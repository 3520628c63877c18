// When the SIP federation looks its proxy's name up (adapters/sip/proxy_lookup.*): at the
// first need, again after every address failed (bounded to one lookup per
// kRelookupAfter), never for an IP literal; the route libre gets and the address families
// it can use.
#include "adapters/sip/proxy_lookup.hpp"

#include <doctest/doctest.h>

using namespace parley;
using adapters::sip::FedClock;
using adapters::sip::ProxyIp;
using adapters::sip::ProxyLookup;
using State = adapters::sip::ProxyLookup::State;
using namespace std::chrono_literals;

namespace {
protocols::ProxyAddress proxy(const char* text) {
  auto a = protocols::parse_proxy_address(text);
  REQUIRE(a);
  return *a;
}
std::vector<protocols::ListenAddress> listen(std::initializer_list<const char*> texts) {
  std::vector<protocols::ListenAddress> out;
  for (const char* t : texts) out.push_back(*protocols::parse_listen(t, protocols::ListenStyle::sip));
  return out;
}
}  // namespace

TEST_CASE("proxy lookup: an IP literal is ready at once and never looked up") {
  ProxyLookup l(proxy("udp:192.0.2.1:5070"));
  auto t = FedClock::now();
  auto n = l.need(t);
  CHECK(n.state == State::ready);
  CHECK_FALSE(n.start);
  CHECK(l.address() == ProxyIp{"192.0.2.1", false});
  l.request_failed();
  CHECK(l.need(t + 1h).state == State::ready);
  CHECK(adapters::sip::loose_route(l.proxy(), l.address()) == "sip:192.0.2.1:5070;transport=udp;lr");
  ProxyLookup v6(proxy("tls:[2001:db8::5]"));
  CHECK(adapters::sip::loose_route(v6.proxy(), v6.address()) == "sip:[2001:db8::5]:5061;transport=tls;lr");
}

TEST_CASE("proxy lookup: a name is looked up once, requests wait, then use the first address") {
  ProxyLookup l(proxy("tcp:proxy.example.org"));
  auto t = FedClock::now();
  auto n = l.need(t);
  CHECK(n.state == State::pending);
  CHECK(n.start);
  auto again = l.need(t);  // a second request while it runs starts nothing
  CHECK(again.state == State::pending);
  CHECK_FALSE(again.start);
  l.resolved({{"192.0.2.7", false}, {"192.0.2.8", false}}, t + 10ms, "");
  CHECK(l.need(t + 20ms).state == State::ready);
  CHECK(l.address().ip == "192.0.2.7");
  CHECK(adapters::sip::loose_route(l.proxy(), l.address()) == "sip:192.0.2.7:5060;transport=tcp;lr");
  // Much later, still no failure: no new lookup (no TTL: a failure triggers it).
  CHECK(l.need(t + 24h).state == State::ready);
}

TEST_CASE("proxy lookup: a failed request moves to the next address, then looks the name up again") {
  ProxyLookup l(proxy("udp:sip.example.org:5060"));
  auto t = FedClock::now();
  REQUIRE(l.need(t).start);
  l.resolved({{"192.0.2.7", false}, {"192.0.2.8", false}}, t, "");
  l.request_failed();
  CHECK(l.need(t + 1s).state == State::ready);
  CHECK(l.address().ip == "192.0.2.8");  // RFC 3263 §4.3: the next one
  l.request_failed();                    // every address failed
  // Within kRelookupAfter of the last lookup: no new one (a thousand failing subscriptions
  // cost one lookup per 2 s, not one each).
  CHECK(l.need(t + 1s).state == State::ready);
  CHECK(l.address().ip == "192.0.2.7");
  auto n = l.need(t + 3s);
  CHECK(n.state == State::pending);
  CHECK(n.start);
  l.resolved({{"198.51.100.1", false}}, t + 3s, "");  // the DNS record changed
  CHECK(l.need(t + 3s).state == State::ready);
  CHECK(l.address().ip == "198.51.100.1");
}

TEST_CASE("proxy lookup: a name that does not resolve fails requests, then is looked up again") {
  ProxyLookup l(proxy("udp:nonexistent.invalid"));
  auto t = FedClock::now();
  REQUIRE(l.need(t).start);
  l.failed("Host not found (authoritative)", t + 5ms);
  CHECK(l.need(t + 10ms).state == State::failed);
  CHECK(l.error() == "Host not found (authoritative)");
  CHECK(l.need(t + 1s).state == State::failed);
  auto n = l.need(t + 3s);  // the next due attempt (after the backoff) looks it up again
  CHECK(n.state == State::pending);
  CHECK(n.start);
  l.resolved({}, t + 3s, "no address of a usable family");
  CHECK(l.need(t + 3s).state == State::failed);
  CHECK(l.error() == "no address of a usable family");
  REQUIRE(l.need(t + 6s).start);
  l.resolved({{"192.0.2.1", false}}, t + 6s, "");
  CHECK(l.need(t + 6s).state == State::ready);
  CHECK(l.error().empty());
}

TEST_CASE("proxy lookup: only address families the stack listens on for that transport") {
  std::vector<ProxyIp> both = {{"::1", true}, {"127.0.0.1", false}, {"::1", true}};
  auto v4 = adapters::sip::usable_addresses(both, protocols::Transport::udp, listen({"udp:127.0.0.1:5060"}));
  REQUIRE(v4.size() == 1);
  CHECK(v4[0].ip == "127.0.0.1");
  auto dual = adapters::sip::usable_addresses(both, protocols::Transport::udp,
                                              listen({"udp:127.0.0.1:5060", "udp:[::1]:5060"}));
  REQUIRE(dual.size() == 2);  // getaddrinfo's order kept, the duplicate dropped
  CHECK(dual[0].ip == "::1");
  CHECK(dual[1].ip == "127.0.0.1");
  // tls needs a tls: listener (its context is libre's client context), tcp a tcp: one.
  CHECK(adapters::sip::usable_addresses(both, protocols::Transport::tls, listen({"udp:127.0.0.1:5060"}))
            .empty());
  CHECK(adapters::sip::usable_addresses(both, protocols::Transport::tcp, listen({"tls:127.0.0.1:5061"}))
            .empty());
  std::vector<ProxyIp> many;
  for (int i = 0; i < 20; ++i) many.push_back({"192.0.2." + std::to_string(i), false});
  CHECK(
      adapters::sip::usable_addresses(many, protocols::Transport::udp, listen({"udp:0.0.0.0:5060"})).size() ==
      adapters::sip::kMaxProxyAddresses);
}

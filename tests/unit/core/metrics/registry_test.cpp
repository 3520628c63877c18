#include "core/metrics/registry.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <thread>
#include <vector>

#include "core/metrics/metrics.hpp"

using namespace parley::core;

TEST_CASE("registry: a series is created once and counted by atomic adds") {
  MetricRegistry r;
  Counter& a = r.counter("x_total", "help", {{"p", "irc"}});
  Counter& b = r.counter("x_total", "help", {{"p", "irc"}});
  CHECK(&a == &b);
  Counter& c = r.counter("x_total", "help", {{"p", "xmpp"}});
  CHECK(&a != &c);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) a.inc();
    });
  for (auto& t : ts) t.join();
  auto fams = r.collect();
  REQUIRE(fams.size() == 1);
  REQUIRE(fams[0].samples.size() == 2);
  CHECK(fams[0].samples[0].value == 4000);
  CHECK(fams[0].samples[1].value == 0);
}

TEST_CASE("registry: one name, one type and one set of label names") {
  MetricRegistry r;
  r.counter("x_total", "help", {{"p", "irc"}});
  CHECK_THROWS_AS(r.gauge("x_total", "help", {{"p", "irc"}}), std::logic_error);
  CHECK_THROWS_AS(r.counter("x_total", "help", {{"q", "irc"}}), std::logic_error);
}

TEST_CASE("registry: gauges, function gauges and histograms") {
  MetricRegistry r;
  Gauge& g = r.gauge("g", "a gauge");
  g.add(3);
  g.sub();
  int depth = 7;
  r.gauge_fn("depth", "read at collection", [&] { return static_cast<double>(depth); });
  Histogram& h = r.histogram("lat_seconds", "latency", {0.1, 0.01, 1});  // sorted on creation
  h.observe(0.005);
  h.observe(0.01);  // on a bound: counts in that bucket (le)
  h.observe(0.5);
  h.observe(5);
  auto fams = r.collect();
  REQUIRE(fams.size() == 3);
  CHECK(fams[0].samples[0].value == 2);
  CHECK(fams[1].samples[0].value == 7);
  const auto& s = fams[2].samples[0].histogram;
  CHECK(s.bounds == std::vector<double>{0.01, 0.1, 1});
  CHECK(s.cumulative == std::vector<std::uint64_t>{2, 2, 3});
  CHECK(s.count == 4);
  CHECK(s.sum == doctest::Approx(5.515));
}

TEST_CASE("metrics: per-protocol series exist once the adapter names its tag") {
  Metrics m;
  m.session_opened(Protocol::irc);  // not named yet: not counted, no crash
  m.name_protocol(Protocol::irc, "irc");
  m.name_protocol(Protocol::xmpp, "xmpp");
  m.session_opened(Protocol::irc);
  m.routed(Protocol::irc, Protocol::xmpp);
  m.routed(Protocol::irc, Protocol::xmpp);
  m.rejected(Protocol::xmpp, Rejection::too_long);
  m.auth_failure(Protocol::irc);
  { Metrics::ConnectionCount c(m, Protocol::xmpp); }
  Metrics::ConnectionCount open(m, Protocol::xmpp);
  CHECK(m.protocol_name(Protocol::irc) == "irc");
  CHECK(m.protocol_name(Protocol::sip) == "sip");
  auto value = [&](const std::string& name, const MetricLabels& labels) -> double {
    for (const auto& f : m.registry().collect())
      if (f.name == name)
        for (const auto& s : f.samples)
          if (s.labels == labels) return s.value;
    return -1;
  };
  CHECK(value("parley_sessions", {{"protocol", "irc"}}) == 1);
  CHECK(value("parley_connections", {{"protocol", "xmpp"}}) == 1);
  CHECK(value("parley_messages_routed_total", {{"from", "irc"}, {"to", "xmpp"}}) == 2);
  CHECK(value("parley_messages_routed_total", {{"from", "xmpp"}, {"to", "irc"}}) == 0);
  CHECK(value("parley_messages_routed_total", {{"from", "irc"}, {"to", "irc"}}) == 0);
  CHECK(value("parley_deliveries_total", {{"path", "live"}}) == 2);
  CHECK(value("parley_rejected_inputs_total", {{"protocol", "xmpp"}, {"reason", "too_long"}}) == 1);
  CHECK(value("parley_auth_failures_total", {{"protocol", "irc"}}) == 1);
}

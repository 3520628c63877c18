#include "adapters/common/metrics_exposition.hpp"

#include <doctest/doctest.h>

using namespace parley;

TEST_CASE("exposition: HELP and TYPE lines, then the samples") {
  core::MetricRegistry r;
  r.counter("parley_x_total", "Things counted", {{"protocol", "irc"}}).inc(3);
  r.gauge("parley_g", "A gauge").set(-2);
  const std::string text = adapters::metrics_exposition(r);
  CHECK(text.find("# HELP parley_x_total Things counted\n# TYPE parley_x_total counter\n"
                  "parley_x_total{protocol=\"irc\"} 3\n") != std::string::npos);
  CHECK(text.find("# TYPE parley_g gauge\nparley_g -2\n") != std::string::npos);
}

TEST_CASE("exposition: label values and help text are escaped (0.0.4)") {
  core::MetricRegistry r;
  r.counter("parley_e_total", "back\\slash and\nnewline", {{"v", "a\"b\\c\nd"}}).inc();
  const std::string text = adapters::metrics_exposition(r);
  CHECK(text.find("# HELP parley_e_total back\\\\slash and\\nnewline\n") != std::string::npos);
  CHECK(text.find("parley_e_total{v=\"a\\\"b\\\\c\\nd\"} 1\n") != std::string::npos);
}

TEST_CASE("exposition: a histogram has cumulative buckets, +Inf, _sum and _count") {
  core::MetricRegistry r;
  auto& h = r.histogram("parley_h_seconds", "h", {0.5, 1});
  h.observe(0.25);
  h.observe(0.75);
  h.observe(3);
  const std::string text = adapters::metrics_exposition(r);
  CHECK(text.find("# TYPE parley_h_seconds histogram\n") != std::string::npos);
  CHECK(text.find("parley_h_seconds_bucket{le=\"0.5\"} 1\n") != std::string::npos);
  CHECK(text.find("parley_h_seconds_bucket{le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("parley_h_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("parley_h_seconds_count 3\n") != std::string::npos);
  CHECK(text.find("parley_h_seconds_sum 4") != std::string::npos);
  // +Inf once: the renderer adds it, the serializer must not add a second.
  CHECK(text.find("+Inf") == text.rfind("+Inf"));
}

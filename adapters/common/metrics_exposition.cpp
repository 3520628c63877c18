#include "adapters/common/metrics_exposition.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>

namespace parley::adapters {

namespace {

prometheus::MetricType type_of(core::MetricType t) {
  switch (t) {
    case core::MetricType::counter:
      return prometheus::MetricType::Counter;
    case core::MetricType::gauge:
      return prometheus::MetricType::Gauge;
    case core::MetricType::histogram:
      return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

// Format 0.0.4: in HELP text a backslash is written \\ and a line feed \n. prometheus-cpp
// 1.0.1 escapes label values but writes help verbatim (a line feed in it would end the
// line), so it gets help escaped already; the unit test pins this down.
std::string escape_help(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string render_exposition(const std::vector<core::MetricRegistry::Family>& families) {
  std::vector<prometheus::MetricFamily> out;
  out.reserve(families.size());
  for (const auto& f : families) {
    prometheus::MetricFamily pf;
    pf.name = f.name;
    pf.help = escape_help(f.help);
    pf.type = type_of(f.type);
    for (const auto& s : f.samples) {
      prometheus::ClientMetric m;
      for (const auto& [k, v] : s.labels) m.label.push_back({k, v});
      switch (f.type) {
        case core::MetricType::counter:
          m.counter.value = s.value;
          break;
        case core::MetricType::gauge:
          m.gauge.value = s.value;
          break;
        case core::MetricType::histogram: {
          const auto& h = s.histogram;
          m.histogram.sample_count = h.count;
          m.histogram.sample_sum = h.sum;
          for (std::size_t i = 0; i < h.bounds.size(); ++i)
            m.histogram.bucket.push_back({h.cumulative[i], h.bounds[i]});
          m.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
          break;
        }
      }
      pf.metric.push_back(std::move(m));
    }
    out.push_back(std::move(pf));
  }
  std::ostringstream text;
  prometheus::TextSerializer{}.Serialize(text, out);
  return text.str();
}

std::string metrics_exposition(const core::MetricRegistry& registry) {
  return render_exposition(registry.collect());
}

}  // namespace parley::adapters

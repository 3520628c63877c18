#include "core/metrics/registry.hpp"

#include <algorithm>
#include <stdexcept>

namespace parley::core {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double v) noexcept {
  // A handful of bounds: a linear scan is cheaper than a binary search here.
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.count = count_.load(std::memory_order_relaxed);
  s.sum = sum_.load(std::memory_order_relaxed);
  std::uint64_t running = 0;
  s.cumulative.reserve(bounds_.size());
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(std::min(running, s.count));
  }
  return s;
}

namespace {

bool same_label_names(const MetricLabels& a, const MetricLabels& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const auto& x, const auto& y) { return x.first == y.first; });
}

}  // namespace

MetricRegistry::Series& MetricRegistry::series(const std::string& name, const std::string& help,
                                               MetricType type, MetricLabels labels, bool& created) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e->name == name; });
  if (it == entries_.end()) {
    entries_.push_back(std::make_unique<Entry>(Entry{name, help, type, {}}));
    it = std::prev(entries_.end());
  }
  Entry& e = **it;
  if (e.type != type) throw std::logic_error("metric " + name + " registered with two types");
  if (!e.series.empty() && !same_label_names(e.series.front()->labels, labels))
    throw std::logic_error("metric " + name + " registered with two sets of label names");
  for (auto& s : e.series)
    if (s->labels == labels) {
      created = false;
      return *s;
    }
  e.series.push_back(std::make_unique<Series>());
  e.series.back()->labels = std::move(labels);
  created = true;
  return *e.series.back();
}

Counter& MetricRegistry::counter(const std::string& name, const std::string& help, MetricLabels labels) {
  std::lock_guard lock(mu_);
  bool created = false;
  Series& s = series(name, help, MetricType::counter, std::move(labels), created);
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& MetricRegistry::gauge(const std::string& name, const std::string& help, MetricLabels labels) {
  std::lock_guard lock(mu_);
  bool created = false;
  Series& s = series(name, help, MetricType::gauge, std::move(labels), created);
  if (s.read) throw std::logic_error("metric " + name + " is read by a function");
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& MetricRegistry::histogram(const std::string& name, const std::string& help,
                                     std::vector<double> bounds, MetricLabels labels) {
  std::lock_guard lock(mu_);
  bool created = false;
  Series& s = series(name, help, MetricType::histogram, std::move(labels), created);
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *s.histogram;
}

void MetricRegistry::gauge_fn(const std::string& name, const std::string& help, std::function<double()> read,
                              MetricLabels labels) {
  std::lock_guard lock(mu_);
  bool created = false;
  Series& s = series(name, help, MetricType::gauge, std::move(labels), created);
  if (s.gauge) throw std::logic_error("metric " + name + " is already a plain gauge");
  s.read = std::move(read);  // a second registration replaces the reader (a restarted owner)
}

std::vector<MetricRegistry::Family> MetricRegistry::collect() const {
  std::lock_guard lock(mu_);
  std::vector<Family> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) {
    Family f{e->name, e->help, e->type, {}};
    f.samples.reserve(e->series.size());
    for (const auto& s : e->series) {
      Sample sample;
      sample.labels = s->labels;
      if (s->counter) sample.value = static_cast<double>(s->counter->value());
      if (s->gauge) sample.value = static_cast<double>(s->gauge->value());
      if (s->read) sample.value = s->read();
      if (s->histogram) sample.histogram = s->histogram->snapshot();
      f.samples.push_back(std::move(sample));
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace parley::core

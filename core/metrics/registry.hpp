#pragma once
// A small, neutral metrics registry (counters, gauges, histograms) that knows no output
// format: adapters/common/metrics_exposition renders it as Prometheus text.
//
// Label sets are fixed when a series is registered (at start-up), and the caller keeps the
// returned reference, so the hot path is one relaxed atomic add: no lookup, no lock, no
// allocation. Registration and collect() take a mutex; every method may be called from any
// thread, and a registered series lives as long as the registry.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace parley::core {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void add(std::int64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) noexcept { v_.fetch_sub(n, std::memory_order_relaxed); }
  void set(std::int64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

// Counts observations into fixed buckets (upper bounds, ascending; +Inf is implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v) noexcept;

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound: observations <= bound
    std::uint64_t count = 0;                // every observation (the +Inf bucket)
    double sum = 0;
  };
  // Not atomic across buckets: a concurrent observe() may show in count but not yet in a
  // bucket; cumulative counts are clamped so that they never exceed count.
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1 (overflow)
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

enum class MetricType : std::uint8_t { counter, gauge, histogram };

class MetricRegistry {
 public:
  // The series `name`{labels}: created on first use, the same object afterwards. The
  // family's help and type come from its first registration; registering a name again
  // with another type (or other label names) throws std::logic_error (a programming error).
  Counter& counter(const std::string& name, const std::string& help, MetricLabels labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, MetricLabels labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                       MetricLabels labels = {});
  // A gauge read when collected (a queue depth owned by someone else). `read` runs on the
  // collecting thread, so it must be thread-safe and cheap.
  void gauge_fn(const std::string& name, const std::string& help, std::function<double()> read,
                MetricLabels labels = {});

  struct Sample {
    MetricLabels labels;
    double value = 0;               // counter, gauge
    Histogram::Snapshot histogram;  // histogram
  };
  struct Family {
    std::string name;
    std::string help;
    MetricType type = MetricType::counter;
    std::vector<Sample> samples;
  };
  // Every family in registration order, each series in registration order.
  std::vector<Family> collect() const;

 private:
  struct Series {
    MetricLabels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> read;
  };
  struct Entry {
    std::string name;
    std::string help;
    MetricType type;
    std::vector<std::unique_ptr<Series>> series;
  };
  Series& series(const std::string& name, const std::string& help, MetricType type, MetricLabels labels,
                 bool& created);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace parley::core

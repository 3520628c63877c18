// parley_loadgen: shared pieces — options, clock, latency histogram, server /proc probes,
// a connection with a write queue (plain TCP, optionally upgraded to TLS), and small
// coroutine synchronisation helpers. Deliberately independent of Parley's own code so the
// same binary drives any IRC or XMPP server.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace loadgen {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

// A protocol or setup failure: reported on stderr and the process exits non-zero.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// --key value options; every key must be consumed (unknown options are an error).
class Options {
 public:
  Options(int argc, char** argv, int first);
  std::string str(const std::string& key, const std::string& def);
  long long num(const std::string& key, long long def);
  double real(const std::string& key, double def);
  bool flag(const std::string& key);
  void check_all_used() const;

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
};

// Latency histogram in microseconds: exact below 256 µs, then 128 sub-buckets per power of
// two (< 0.8 % error), so millions of samples cost a few KiB.
class Histogram {
 public:
  void record(std::int64_t us);
  std::uint64_t count() const { return total_; }
  double percentile_us(double p) const;
  double max_us() const { return static_cast<double>(max_); }

 private:
  static constexpr int kSub = 128;
  static std::size_t index(std::uint64_t v);
  static double value(std::size_t idx);
  std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>(2 * kSub + 64 * kSub, 0);
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

// CPU time (utime+stime, µs) and RSS (KiB) of a process, read from /proc; -1 if unknown.
std::int64_t proc_cpu_us(int pid);
std::int64_t proc_rss_kib(int pid);
// Our own CPU time, to tell when the generator rather than the server is the bottleneck.
std::int64_t self_cpu_us();
void raise_fd_limit();

// One client connection (always owned by a shared_ptr: pending writes keep it alive): a TCP socket, optionally upgraded to TLS in place (STARTTLS), a
// receive buffer, and a write queue so several coroutines may send without interleaving.
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(asio::io_context& io, asio::ssl::context& tls);
  // `source`: the local address to bind first (e.g. 127.0.1.7, so that each simulated user
  // is a different address to per-address limits); unspecified: the kernel picks.
  awaitable<void> connect(const tcp::endpoint& ep, const asio::ip::address& source = {});
  awaitable<void> start_tls();  // client handshake; any certificate is accepted
  // Queues bytes; writes start at once if none is in flight. Errors mark the connection dead.
  void send(std::string_view bytes);
  // Reads more bytes into the buffer; throws Failure on EOF or error.
  awaitable<void> read_more();
  // The unread bytes; consume(n) drops n of them.
  std::string_view data() const { return {buf_.data() + start_, end_ - start_}; }
  void consume(std::size_t n) { start_ += n; }
  // Next line (without CR/LF), reading as needed; the view lives until the next call.
  awaitable<std::string_view> read_line();
  void close();
  bool dead() const { return dead_; }
  const std::string& error() const { return error_; }
  std::size_t queued() const { return out_.size() + writing_.size(); }

 private:
  void start_write();
  asio::ssl::stream<tcp::socket> stream_;
  bool tls_ = false;
  bool dead_ = false;
  std::string error_;
  std::string buf_ = std::string(65536, '\0');
  std::size_t start_ = 0, end_ = 0;
  std::string out_, writing_;
  bool write_busy_ = false;
};

// A one-shot or repeatable wake-up for coroutines on a single-threaded io_context:
// waiters park on a timer that notify() cancels.
class Signal {
 public:
  explicit Signal(asio::io_context& io) : timer_(io, asio::steady_timer::time_point::max()) {}
  awaitable<void> wait();                          // until the next notify()
  awaitable<bool> wait_for(std::chrono::milliseconds d);  // false on timeout
  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

// Runs `n` jobs with at most `concurrency` in flight; rethrows the first failure.
awaitable<void> run_bounded(std::size_t n, std::size_t concurrency, std::function<awaitable<void>(std::size_t)> job);

awaitable<void> sleep_for(std::chrono::nanoseconds d);

// Connection-phase deadlines and the overall hard deadline.
struct Common {
  std::string host;
  int port;
  int server_pid;
  double setup_timeout_s;
  tcp::endpoint endpoint() const;
};
Common parse_common(Options& o, int default_port);

// Result printing: a human line block on stdout, then one "RESULT k=v ..." line for scripts.
class Report {
 public:
  explicit Report(std::string mode) { add("mode", std::move(mode)); }
  void add(const std::string& key, std::string value) { kv_.emplace_back(key, std::move(value)); }
  void add(const std::string& key, double value, int decimals = 1);
  void add_int(const std::string& key, long long value) { add(key, std::to_string(value)); }
  void print() const;

 private:
  std::vector<std::pair<std::string, std::string>> kv_;
};

// Prints a progress line to stderr (phases), flushed.
void progress(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace loadgen

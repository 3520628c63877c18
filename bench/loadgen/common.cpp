#include "common.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdarg>
#include <fstream>
#include <sstream>

namespace loadgen {

Options::Options(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) throw Failure("unexpected argument '" + a + "'");
    std::string key = a.substr(2), value = "1";
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (i + 1 < argc && std::string_view(argv[i + 1]).rfind("--", 0) != 0) {
      value = argv[++i];
    }
    values_[key] = value;
    used_[key] = false;
  }
}

std::string Options::str(const std::string& key, const std::string& def) {
  auto it = values_.find(key);
  if (it == values_.end()) return def;
  used_[key] = true;
  return it->second;
}

long long Options::num(const std::string& key, long long def) {
  auto s = str(key, "");
  if (s.empty()) return def;
  try {
    std::size_t pos = 0;
    long long v = std::stoll(s, &pos);
    if (pos != s.size()) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    throw Failure("--" + key + " needs an integer, got '" + s + "'");
  }
}

double Options::real(const std::string& key, double def) {
  auto s = str(key, "");
  if (s.empty()) return def;
  try {
    return std::stod(s);
  } catch (const std::exception&) {
    throw Failure("--" + key + " needs a number, got '" + s + "'");
  }
}

bool Options::flag(const std::string& key) { return str(key, "0") != "0"; }

void Options::check_all_used() const {
  for (const auto& [k, used] : used_)
    if (!used) throw Failure("unknown option --" + k);
}

std::size_t Histogram::index(std::uint64_t v) {
  if (v < 2 * kSub) return static_cast<std::size_t>(v);
  int e = std::bit_width(v) - 8;  // v >> e lands in [128, 256)
  return 2 * kSub + static_cast<std::size_t>(e - 1) * kSub + ((v >> e) - kSub);
}

double Histogram::value(std::size_t idx) {
  if (idx < 2 * kSub) return static_cast<double>(idx);
  std::size_t e = (idx - 2 * kSub) / kSub + 1;
  std::size_t m = (idx - 2 * kSub) % kSub + kSub;
  return static_cast<double>(m << e) + static_cast<double>(1ULL << e) / 2;  // bucket middle
}

void Histogram::record(std::int64_t us) {
  std::uint64_t v = us < 0 ? 0 : static_cast<std::uint64_t>(us);
  std::size_t i = index(v);
  if (i >= counts_.size()) i = counts_.size() - 1;
  ++counts_[i];
  ++total_;
  if (v > max_) max_ = v;
}

double Histogram::percentile_us(double p) const {
  if (total_ == 0) return NAN;
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
  if (rank == 0) rank = 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(value(i), static_cast<double>(max_));
  }
  return static_cast<double>(max_);
}

std::int64_t proc_cpu_us(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), {});
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream in(s.substr(rp + 2));
  std::string field;
  long long utime = 0, stime = 0;
  // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && (in >> field); ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return (utime + stime) * 1'000'000 / sysconf(_SC_CLK_TCK);
}

std::int64_t proc_rss_kib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

std::int64_t self_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1'000'000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

Conn::Conn(asio::io_context& io, asio::ssl::context& tls) : stream_(io, tls) {}

awaitable<void> Conn::connect(const tcp::endpoint& ep, const asio::ip::address& source) {
  boost::system::error_code ec;
  if (!source.is_unspecified()) {
    auto& sock = stream_.next_layer();
    sock.open(ep.protocol(), ec);
    if (!ec) sock.bind(tcp::endpoint(source, 0), ec);
    if (ec) throw Failure("bind to " + source.to_string() + ": " + ec.message());
  }
  co_await stream_.next_layer().async_connect(ep, asio::redirect_error(use_awaitable, ec));
  if (ec) throw Failure("connect to " + ep.address().to_string() + ":" + std::to_string(ep.port()) + ": " + ec.message());
  stream_.next_layer().set_option(tcp::no_delay(true));
}

awaitable<void> Conn::start_tls() {
  // The peer may answer <starttls/> before our write's completion handler has run.
  for (int i = 0; write_busy_ && i < 1000; ++i) co_await sleep_for(std::chrono::milliseconds(1));
  if (queued() != 0) throw Failure("internal: STARTTLS with unsent plain data");
  boost::system::error_code ec;
  co_await stream_.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(use_awaitable, ec));
  if (ec) throw Failure("TLS handshake: " + ec.message());
  tls_ = true;
}

void Conn::send(std::string_view bytes) {
  if (dead_) return;
  out_.append(bytes);
  if (!write_busy_) start_write();
}

void Conn::start_write() {
  writing_.clear();
  writing_.swap(out_);
  write_busy_ = true;
  auto done = [this, self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    write_busy_ = false;
    writing_.clear();
    if (ec) {
      if (!dead_) error_ = "write: " + ec.message();
      dead_ = true;
      return;
    }
    if (!out_.empty()) start_write();
  };
  if (tls_)
    asio::async_write(stream_, asio::buffer(writing_), done);
  else
    asio::async_write(stream_.next_layer(), asio::buffer(writing_), done);
}

awaitable<void> Conn::read_more() {
  if (start_ > 0 && (start_ == end_ || end_ > buf_.size() / 2)) {
    std::copy(buf_.begin() + static_cast<std::ptrdiff_t>(start_), buf_.begin() + static_cast<std::ptrdiff_t>(end_),
              buf_.begin());
    end_ -= start_;
    start_ = 0;
  }
  if (end_ == buf_.size()) {
    if (buf_.size() >= (16u << 20)) throw Failure("receive buffer over 16 MiB without a complete line/stanza");
    buf_.resize(buf_.size() * 2);
  }
  boost::system::error_code ec;
  std::size_t n = 0;
  auto b = asio::buffer(buf_.data() + end_, buf_.size() - end_);
  if (tls_)
    n = co_await stream_.async_read_some(b, asio::redirect_error(use_awaitable, ec));
  else
    n = co_await stream_.next_layer().async_read_some(b, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    dead_ = true;
    std::string tail(data().substr(data().size() > 300 ? data().size() - 300 : 0));
    throw Failure(std::string(ec == asio::error::eof ? "server closed the connection" : "read: " + ec.message()) +
                  (tail.empty() ? "" : "; last bytes: " + tail));
  }
  end_ += n;
}

awaitable<std::string_view> Conn::read_line() {
  for (;;) {
    auto d = data();
    if (auto nl = d.find('\n'); nl != std::string_view::npos) {
      auto line = d.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      consume(nl + 1);
      co_return line;
    }
    co_await read_more();
  }
}

void Conn::close() {
  boost::system::error_code ec;
  dead_ = true;
  stream_.next_layer().close(ec);
}

awaitable<void> Signal::wait() {
  boost::system::error_code ec;
  timer_.expires_at(asio::steady_timer::time_point::max());
  co_await timer_.async_wait(asio::redirect_error(use_awaitable, ec));
}

awaitable<bool> Signal::wait_for(std::chrono::milliseconds d) {
  // A separate timer per wait keeps the wake-up (cancel of timer_) distinct from a timeout.
  // The state is shared because the timeout handler may run after this frame is gone.
  struct State {
    asio::steady_timer t;
    bool woke = false, timed_out = false;
  };
  auto ex = co_await asio::this_coro::executor;
  auto st = std::make_shared<State>(State{asio::steady_timer(ex, d)});
  st->t.async_wait([st, this](boost::system::error_code ec) {
    if (!ec && !st->woke) {
      st->timed_out = true;
      timer_.cancel();
    }
  });
  co_await wait();
  st->woke = true;
  st->t.cancel();
  co_return !st->timed_out;
}

awaitable<void> sleep_for(std::chrono::nanoseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_awaitable);
}

awaitable<void> run_bounded(std::size_t n, std::size_t concurrency,
                            std::function<awaitable<void>(std::size_t)> job) {
  auto ex = co_await asio::this_coro::executor;
  std::size_t next = 0, running = 0;
  std::exception_ptr failure;
  asio::steady_timer done(ex, asio::steady_timer::time_point::max());
  auto worker = [&]() -> awaitable<void> {
    try {
      while (next < n && !failure) co_await job(next++);
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
    if (--running == 0) done.cancel();
  };
  std::size_t workers = std::max<std::size_t>(1, std::min(concurrency, n));
  if (n == 0) co_return;
  running = workers;
  for (std::size_t i = 0; i < workers; ++i) asio::co_spawn(ex, worker(), asio::detached);
  boost::system::error_code ec;
  while (running > 0) {
    done.expires_at(asio::steady_timer::time_point::max());
    co_await done.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  if (failure) std::rethrow_exception(failure);
}

tcp::endpoint Common::endpoint() const { return {asio::ip::make_address(host), static_cast<unsigned short>(port)}; }

Common parse_common(Options& o, int default_port) {
  Common c;
  c.host = o.str("host", "127.0.0.1");
  c.port = static_cast<int>(o.num("port", default_port));
  c.server_pid = static_cast<int>(o.num("server-pid", 0));
  c.setup_timeout_s = o.real("setup-timeout", 120);
  auto addr = asio::ip::make_address(c.host);
  if (!addr.is_loopback()) throw Failure("--host must be a loopback address (got " + c.host + ")");
  return c;
}

void Report::add(const std::string& key, double value, int decimals) {
  char b[64];
  if (std::isnan(value))
    std::snprintf(b, sizeof b, "nan");
  else
    std::snprintf(b, sizeof b, "%.*f", decimals, value);
  add(key, std::string(b));
}

void Report::print() const {
  for (const auto& [k, v] : kv_) std::printf("  %-24s %s\n", k.c_str(), v.c_str());
  std::printf("RESULT");
  for (const auto& [k, v] : kv_) std::printf(" %s=%s", k.c_str(), v.c_str());
  std::printf("\n");
  std::fflush(stdout);
}

void progress(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "loadgen: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
}

}  // namespace loadgen

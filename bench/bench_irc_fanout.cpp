// IRC load generator for bench/irc_compare.sh: works against any IRC server (Parley,
// ngircd, InspIRCd) on loopback. Modes:
//   fanout   M members in #bench, one sender floods PRIVMSG for D seconds: lines/s delivered,
//            server CPU per delivered line (--pid: /proc/PID/stat utime+stime deltas)
//   latency  the sender sends R msgs/s with a timestamp; p50/p99 delivery latency over members
//   register N concurrent registrations (NICK/USER until 001 on all): registrations/s
//   idle     N registered idle connections: server RSS delta / N (--pid)
// Every loop is bounded by a count or a deadline. Output: one "key=value ..." line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode = "fanout";
  int port = 6667;
  int members = 100;
  double seconds = 5;
  int rate = 100;
  int count = 200;
  int pid = 0;
  std::string oper;  // "name:password": the sender opers up (and sets +F on ngircd)
  int body = 40;     // message body bytes
};

double now_s() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }
long now_ns() {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

double cpu_seconds(int pid) {
  if (!pid) return 0;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto p = s.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream in(s.substr(p + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoul(field);
    if (i == 15) stime = std::stoul(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    perror("connect");
    std::exit(2);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      perror("send");
      std::exit(3);
    }
    off += static_cast<std::size_t>(n);
  }
}

// Reads until a line contains `needle` (answering PINGs); bounded by a 20 s deadline.
void wait_for(int fd, std::string& buf, const std::string& needle) {
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    std::size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (line.rfind("PING", 0) == 0) send_all(fd, "PONG" + line.substr(4) + "\n");
      if (line.find(needle) != std::string::npos) return;
      if (line.rfind("ERROR", 0) == 0) {
        std::fprintf(stderr, "server closed: %s\n", line.c_str());
        std::exit(4);
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    char tmp[8192];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) {
      std::fprintf(stderr, "connection closed waiting for %s\n", needle.c_str());
      std::exit(4);
    }
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  std::fprintf(stderr, "timeout waiting for %s\n", needle.c_str());
  std::exit(5);
}

int registered(int port, const std::string& nick) {
  int fd = dial(port);
  std::string buf;
  send_all(fd, "NICK " + nick + "\r\nUSER " + nick + " 0 * :bench\r\n");
  wait_for(fd, buf, " 001 ");
  return fd;
}

// Registers n connections at once (all NICK/USER sent before waiting for any 001), so a
// server that completes registrations on a timer tick (InspIRCd) costs one tick, not n.
std::vector<int> register_many(int port, const std::string& prefix, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = dial(port);
    std::string nick = prefix + std::to_string(i);
    send_all(fd, "NICK " + nick + "\r\nUSER " + nick + " 0 * :bench\r\n");
    fds.push_back(fd);
  }
  for (int fd : fds) {
    std::string buf;
    wait_for(fd, buf, " 001 ");
  }
  return fds;
}

void join(int fd, const std::string& chan) {
  std::string buf;
  send_all(fd, "JOIN " + chan + "\r\n");
  wait_for(fd, buf, " 366 ");
}

struct Receivers {
  std::vector<int> fds;
  std::atomic<long> lines{0};
  std::atomic<bool> stop{false};
  std::vector<long> latencies_ns;  // latency mode only
  bool parse = false;

  void run() {
    int ep = epoll_create1(0);
    for (int fd : fds) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    std::vector<std::string> partial(1 << 16);
    std::vector<char> buf(1 << 16);
    epoll_event evs[256];
    while (!stop.load(std::memory_order_relaxed)) {
      int n = epoll_wait(ep, evs, 256, 100);
      for (int i = 0; i < n; ++i) {
        int fd = evs[i].data.fd;
        ssize_t r = recv(fd, buf.data(), buf.size(), 0);
        if (r <= 0) continue;
        long count = 0;
        const char* p = buf.data();
        const char* e = p + r;
        if (!parse) {
          while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(e - p))))) {
            ++count;
            ++p;
          }
        } else {
          std::string& part = partial[static_cast<std::size_t>(fd) & 0xFFFF];
          part.append(p, static_cast<std::size_t>(r));
          std::size_t start = 0, nl;
          while ((nl = part.find('\n', start)) != std::string::npos) {
            ++count;
            auto t = part.find(":T", start);
            if (t != std::string::npos && t < nl) latencies_ns.push_back(now_ns() - std::atol(part.c_str() + t + 2));
            start = nl + 1;
          }
          part.erase(0, start);
        }
        lines.fetch_add(count, std::memory_order_relaxed);
      }
    }
    close(ep);
  }
};

void oper_up(int fd, const std::string& oper, const std::string& nick) {
  if (oper.empty()) return;
  auto colon = oper.find(':');
  std::string buf;
  send_all(fd, "OPER " + oper.substr(0, colon) + " " + oper.substr(colon + 1) + "\r\n");
  wait_for(fd, buf, " 381 ");
  send_all(fd, "MODE " + nick + " +F\r\n");  // ngircd: relaxed flood protection
}

int run_fanout(const Options& o, bool latency) {
  Receivers rx;
  rx.parse = latency;
  rx.fds = register_many(o.port, "m", o.members);
  for (int fd : rx.fds) join(fd, "#bench");
  int sender = registered(o.port, "sender");
  oper_up(sender, o.oper, "sender");
  join(sender, "#bench");
  std::thread t([&] { rx.run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string body(static_cast<std::size_t>(o.body), 'x');
  if (!latency) {
    std::string batch;
    for (int i = 0; i < 32; ++i) batch += "PRIVMSG #bench :" + body + "\r\n";
    // Warm-up, then the measured window.
    auto warm = Clock::now() + std::chrono::milliseconds(500);
    long sent = 0;
    // At most `window` messages in flight (sent, not yet delivered to every member), so
    // the server's queues stay bounded and the rate is what it actually delivers.
    const long window = 4096;
    auto pace = [&] {
      while (sent - rx.lines.load(std::memory_order_relaxed) / o.members > window) std::this_thread::yield();
    };
    while (Clock::now() < warm) {
      pace();
      send_all(sender, batch);
      sent += 32;
    }
    long l0 = rx.lines.load();
    double c0 = cpu_seconds(o.pid), t0 = now_s();
    auto end = Clock::now() + std::chrono::duration<double>(o.seconds);
    while (Clock::now() < end) {
      pace();
      send_all(sender, batch);
      sent += 32;
    }
    double t1 = now_s(), c1 = cpu_seconds(o.pid);
    long l1 = rx.lines.load();
    rx.stop = true;
    t.join();
    double lines = static_cast<double>(l1 - l0);
    std::printf("mode=fanout members=%d lines_per_s=%.0f cpu_us_per_line=%.3f server_cpu_util=%.2f msgs_sent=%ld\n",
                o.members, lines / (t1 - t0), lines > 0 ? (c1 - c0) * 1e6 / lines : 0.0, (c1 - c0) / (t1 - t0), sent);
  } else {
    auto interval = std::chrono::nanoseconds(1000000000L / std::max(1, o.rate));
    auto next = Clock::now();
    auto end = next + std::chrono::duration<double>(o.seconds);
    long sent = 0;
    while (Clock::now() < end) {
      std::this_thread::sleep_until(next);
      next += interval;
      send_all(sender, "PRIVMSG #bench :T" + std::to_string(now_ns()) + " " + body + "\r\n");
      ++sent;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    rx.stop = true;
    t.join();
    auto& v = rx.latencies_ns;
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) { return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))] / 1e6; };
    std::printf("mode=latency members=%d rate=%d samples=%zu expected=%ld p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
                o.members, o.rate, v.size(), sent * o.members, pct(0.5), pct(0.99), v.empty() ? 0.0 : v.back() / 1e6);
  }
  for (int fd : rx.fds) close(fd);
  close(sender);
  return 0;
}

int run_register(const Options& o) {
  double t0 = now_s();
  auto fds = register_many(o.port, "r", o.count);
  double t1 = now_s();
  for (int fd : fds) {
    send_all(fd, "QUIT\r\n");
    close(fd);
  }
  std::printf("mode=register count=%d registrations_per_s=%.0f\n", o.count, o.count / (t1 - t0));
  return 0;
}

int run_idle(const Options& o) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  long before = rss_kib(o.pid);
  std::vector<int> fds = register_many(o.port, "i", o.count);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  long after = rss_kib(o.pid);
  std::printf("mode=idle count=%d rss_before_kib=%ld rss_after_kib=%ld bytes_per_conn=%.0f\n", o.count, before, after,
              (after - before) * 1024.0 / o.count);
  for (int fd : fds) close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--mode") o.mode = v;
    else if (k == "--port") o.port = std::atoi(v.c_str());
    else if (k == "--members") o.members = std::atoi(v.c_str());
    else if (k == "--seconds") o.seconds = std::atof(v.c_str());
    else if (k == "--rate") o.rate = std::atoi(v.c_str());
    else if (k == "--count") o.count = std::atoi(v.c_str());
    else if (k == "--pid") o.pid = std::atoi(v.c_str());
    else if (k == "--oper") o.oper = v;
    else if (k == "--body") o.body = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 1;
    }
  }
  if (o.mode == "fanout") return run_fanout(o, false);
  if (o.mode == "latency") return run_fanout(o, true);
  if (o.mode == "register") return run_register(o);
  if (o.mode == "idle") return run_idle(o);
  std::fprintf(stderr, "unknown mode\n");
  return 1;
}

// What this machine's kernel charges a process for the steps every gateway repeats per
// message, in CPU time of the measuring thread (CLOCK_THREAD_CPUTIME_ID):
//   - a sleep and its wake-up (a 1 ms timer sleep; blocking in epoll_wait and being woken
//     by a peer's TCP write costs the same path),
//   - a TCP loopback write of one short line to a peer that sleeps in recv (the writer runs
//     the peer's receive path and wakes it),
//   - a woken read: epoll_wait until a peer's line arrives, then the recv,
//   - the cheap calls that cost no wake-up: a recv on a drained socket, epoll_wait(0).
// At 200 msgs/s every message is one or more sleeps and wake-ups for a gateway, so the
// first figure times the wake-ups per message (bench/gateway_vs_biboumi.py: gw cs/msg) is
// a floor under its CPU per message that no user-space work can lower
// (bench/README.md, "the kernel's floor").
//
//   bench_wake_cost [rounds]      (default 2000 per case)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

void sleep_us(long us) {
  timespec ts{0, us * 1000};
  nanosleep(&ts, nullptr);
}

// A connected loopback TCP pair, both ends TCP_NODELAY as the gateways' sockets are.
bool tcp_pair(int& a, int& b) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (l < 0 || bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(l, 1) != 0 ||
      getsockname(l, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return false;
  a = socket(AF_INET, SOCK_STREAM, 0);
  if (a < 0 || connect(a, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  b = accept(l, nullptr, nullptr);
  close(l);
  int one = 1;
  setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return b >= 0;
}

constexpr char kLine[] = "PRIVMSG #bench :a line of about the size the bench sends\r\n";
constexpr long kGapUs = 1000;  // the peer is asleep again by then

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 2000;
  if (rounds <= 0) return 2;

  // 1. A timer sleep and its wake-up.
  double t0 = thread_cpu_us();
  for (int i = 0; i < rounds; ++i) sleep_us(kGapUs);
  const double sleep_wake = (thread_cpu_us() - t0) / rounds;

  // 2. Writes to a peer process that sleeps in recv: the timer sleep (case 1) is subtracted.
  int a = -1, b = -1;
  if (!tcp_pair(a, b)) return std::perror("loopback pair"), 1;
  pid_t reader = fork();
  if (reader == 0) {
    close(a);  // so that the parent's close is the end of the stream
    char buf[4096];
    while (recv(b, buf, sizeof buf, 0) > 0) {
    }
    _exit(0);
  }
  close(b);
  t0 = thread_cpu_us();
  for (int i = 0; i < rounds; ++i) {
    sleep_us(kGapUs);
    if (send(a, kLine, sizeof kLine - 1, MSG_NOSIGNAL) < 0) return std::perror("send"), 1;
  }
  const double write_wake = (thread_cpu_us() - t0) / rounds - sleep_wake;
  close(a);
  waitpid(reader, nullptr, 0);

  // 3. The other side: epoll_wait until a peer process's line arrives, then recv it.
  if (!tcp_pair(a, b)) return std::perror("loopback pair"), 1;
  pid_t writer = fork();
  if (writer == 0) {
    close(a);
    for (int i = 0; i < rounds; ++i) {
      sleep_us(kGapUs);
      if (send(b, kLine, sizeof kLine - 1, MSG_NOSIGNAL) < 0) break;
    }
    _exit(0);
  }
  close(b);
  fcntl(a, F_SETFL, O_NONBLOCK);
  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev);
  epoll_event out[16];
  char buf[4096];
  int got = 0;
  t0 = thread_cpu_us();
  while (got < rounds) {
    if (epoll_wait(ep, out, 16, 5000) <= 0) break;
    ssize_t n = recv(a, buf, sizeof buf, 0);
    if (n <= 0) break;
    got += static_cast<int>(n / static_cast<ssize_t>(sizeof kLine - 1));
  }
  const double woken_read = (thread_cpu_us() - t0) / (got > 0 ? got : 1);
  waitpid(writer, nullptr, 0);

  // 4. Calls that find nothing to do.
  const int quick = rounds * 50;
  t0 = thread_cpu_us();
  for (int i = 0; i < quick; ++i) (void)recv(a, buf, sizeof buf, 0);
  const double drained_recv = (thread_cpu_us() - t0) / quick;
  t0 = thread_cpu_us();
  for (int i = 0; i < quick; ++i) (void)epoll_wait(ep, out, 16, 0);
  const double empty_poll = (thread_cpu_us() - t0) / quick;
  close(ep);
  close(a);

  std::printf("CPU time charged to this thread, %d rounds (a peer's line every %ld us):\n", rounds, kGapUs);
  std::printf("  sleep + wake-up (timer)                     %7.2f us\n", sleep_wake);
  std::printf("  TCP write that wakes a sleeping reader      %7.2f us\n", write_wake);
  std::printf("  woken by a peer's line: epoll_wait + recv   %7.2f us  (%d lines)\n", woken_read, got);
  std::printf("  recv on a drained socket                    %7.2f us\n", drained_recv);
  std::printf("  epoll_wait(0) with nothing ready            %7.2f us\n", empty_poll);
  return got == rounds ? 0 : 1;
}

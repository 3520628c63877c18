#include "adapters/sip/libre_tcp_admission.hpp"

#include <dlfcn.h>
#include <re.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace {

using AcceptFn = int (*)(struct tcp_conn**, struct tcp_sock*, tcp_estab_h*, tcp_recv_h*, tcp_close_h*, void*);

AcceptFn real_accept() {
  static const AcceptFn f = reinterpret_cast<AcceptFn>(dlsym(RTLD_NEXT, "tcp_accept"));
  return f;
}

struct Held {
  dev_t dev = 0;
  ino_t ino = 0;
  parley::protocols::AddressLimiter::Admission admission;
};

// One libre thread runs SIP; the state is that thread's.
struct State {
  bool on = false;
  parley::adapters::sip::TcpAdmission policy;
  std::unordered_map<int, Held> held;  // descriptor -> its admission
};

State& state() {
  static State s;
  return s;
}

bool same_socket(int fd, const Held& h) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && st.st_dev == h.dev && st.st_ino == h.ino;
}

std::size_t fd_limit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
  return static_cast<std::size_t>(rl.rlim_cur);
}

// The verdict for a connection just accepted on descriptor fd from peer.
bool admit(State& s, int fd, const struct sa& peer, std::string& why) {
  s.held.erase(fd);  // the number came back: whatever held it before is closed
  const std::size_t limit = fd_limit();
  const std::size_t reserve = std::min(s.policy.fd_reserve, limit / 4);
  if (limit != SIZE_MAX && static_cast<std::size_t>(fd) + reserve >= limit) {
    why = "file descriptors nearly exhausted";
    return false;
  }
  if (!s.policy.limiter) return true;
  char text[64] = {};
  if (sa_ntop(&peer, text, sizeof text) != 0) {
    why = "unreadable peer address";
    return false;
  }
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(text, ec);
  if (ec) {
    why = "unreadable peer address";
    return false;
  }
  auto a = s.policy.limiter->admit(address);
  if (!a && a.verdict() == parley::protocols::AddressLimiter::Verdict::too_many) {
    parley::adapters::sip::sweep_tcp_admissions();  // closed connections may still count
    a = s.policy.limiter->admit(address);
  }
  if (!a) {
    why = a.verdict() == parley::protocols::AddressLimiter::Verdict::too_many ? "too many connections"
                                                                              : "connecting too fast";
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    why = "fstat failed";
    return false;
  }
  s.held[fd] = Held{st.st_dev, st.st_ino, std::move(a)};
  return true;
}

}  // namespace

// libre's own signature (re_tcp.h); see the header for why it is defined here.
extern "C" int tcp_accept(struct tcp_conn** tcp, struct tcp_sock* ts, tcp_estab_h* eh, tcp_recv_h* rh,
                          tcp_close_h* ch, void* arg) {
  AcceptFn accept = real_accept();
  if (!accept) return ENOSYS;
  const int err = accept(tcp, ts, eh, rh, ch, arg);
  State& s = state();
  if (err || !s.on || !tcp || !*tcp) return err;
  struct sa peer {};
  const int fd = tcp_conn_fd(*tcp);
  std::string why;
  if (fd >= 0 && tcp_conn_peer_get(*tcp, &peer) == 0 && admit(s, fd, peer, why)) return 0;
  if (why.empty()) why = "no peer address";
  if (s.policy.on_refused) {
    char text[64] = "?";
    (void)sa_ntop(&peer, text, sizeof text);
    s.policy.on_refused(std::string(text) + ": " + why);
  }
  *tcp = static_cast<struct tcp_conn*>(mem_deref(*tcp));  // closes the descriptor
  return EPERM;  // libre: tcp_reject, and its half-made connection is freed
}

namespace parley::adapters::sip {

bool tcp_admission_interposed() {
  return dlsym(RTLD_DEFAULT, "tcp_accept") == reinterpret_cast<void*>(&::tcp_accept) && real_accept();
}

void set_tcp_admission(TcpAdmission a) {
  State& s = state();
  s.policy = std::move(a);
  s.on = true;
}

void clear_tcp_admission() {
  State& s = state();
  s.on = false;
  s.held.clear();
  s.policy = {};
}

std::size_t sweep_tcp_admissions() {
  State& s = state();
  for (auto it = s.held.begin(); it != s.held.end();)
    it = same_socket(it->first, it->second) ? std::next(it) : s.held.erase(it);
  return s.held.size();
}

}  // namespace parley::adapters::sip

#include "adapters/sip/udp_buffers.hpp"

#include <dirent.h>
#include <netinet/in.h>

#include <cstdlib>
#include <cstring>

namespace parley::adapters::sip {

namespace {

bool same_address(const sockaddr_storage& a, const sockaddr* b) {
  if (a.ss_family != b->sa_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = *reinterpret_cast<const sockaddr_in*>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
    const auto& y = *reinterpret_cast<const sockaddr_in6*>(b);
    return x.sin6_port == y.sin6_port && std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
  }
  return false;
}

bool is_udp_bound_to(int fd, const sockaddr* addr) {
  int type = 0;
  socklen_t tl = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_DGRAM) return false;
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) return false;
  return same_address(ss, addr);
}

int find_udp_socket(const sockaddr* addr) {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int found = -1;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd < 0 || fd == ::dirfd(d)) continue;
    if (is_udp_bound_to(static_cast<int>(fd), addr)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  ::closedir(d);
  return found;
}

void set_one(int fd, int force_opt, int opt, int bytes) {
  // The FORCE variant needs CAP_NET_ADMIN; without it the plain one is capped at
  // net.core.rmem_max / wmem_max.
  if (::setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) != 0)
    (void)::setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

}  // namespace

UdpBufferResult set_udp_buffers(const sockaddr* addr, socklen_t len, std::size_t bytes) {
  UdpBufferResult r;
  if (!addr || len == 0) {
    r.error = "no address";
    return r;
  }
  r.fd = find_udp_socket(addr);
  if (r.fd < 0) {
    r.error = "no UDP socket is bound to that address";
    return r;
  }
  int b = static_cast<int>(bytes > (1u << 30) ? (1u << 30) : bytes);
  set_one(r.fd, SO_RCVBUFFORCE, SO_RCVBUF, b);
  set_one(r.fd, SO_SNDBUFFORCE, SO_SNDBUF, b);
  socklen_t l = sizeof r.rcvbuf;
  (void)::getsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &r.rcvbuf, &l);
  l = sizeof r.sndbuf;
  (void)::getsockopt(r.fd, SOL_SOCKET, SO_SNDBUF, &r.sndbuf, &l);
  return r;
}

}  // namespace parley::adapters::sip

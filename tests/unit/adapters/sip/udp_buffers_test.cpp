// sip.udp_buffer (adapters/sip/udp_buffers.hpp): the socket is found by its bound address
// and both buffers grow; an address nothing is bound to is an error, not a crash.
#include "adapters/sip/udp_buffers.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <fstream>

using namespace parley::adapters::sip;

namespace {

int proc_int(const char* path) {
  std::ifstream in(path);
  int v = 0;
  in >> v;
  return v;
}

}  // namespace

TEST_CASE("set_udp_buffers finds the UDP socket bound to an address and enlarges its buffers") {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  // A TCP socket on the same port must not be taken for it.
  int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(tcp >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  (void)::bind(tcp, reinterpret_cast<sockaddr*>(&a), sizeof a);
  int before = 0;
  socklen_t bl = sizeof before;
  REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &before, &bl) == 0);

  constexpr std::size_t kWant = 1u << 20;
  auto r = set_udp_buffers(reinterpret_cast<sockaddr*>(&a), len, kWant);
  CHECK(r.error.empty());
  CHECK(r.fd == fd);
  // Capped by net.core.rmem_max/wmem_max without CAP_NET_ADMIN; Linux reports twice the size set.
  int rmax = proc_int("/proc/sys/net/core/rmem_max"), wmax = proc_int("/proc/sys/net/core/wmem_max");
  if (rmax > before) CHECK(r.rcvbuf > before);
  CHECK(r.rcvbuf >= std::min<int>(kWant, rmax));
  CHECK(r.sndbuf >= std::min<int>(kWant, wmax));

  sockaddr_in other = a;
  other.sin_port = htons(static_cast<std::uint16_t>(ntohs(a.sin_port) ^ 1));
  auto none = set_udp_buffers(reinterpret_cast<sockaddr*>(&other), sizeof other, kWant);
  CHECK(none.fd == -1);
  CHECK_FALSE(none.error.empty());
  CHECK_FALSE(set_udp_buffers(nullptr, 0, kWant).error.empty());
  ::close(tcp);
  ::close(fd);
}

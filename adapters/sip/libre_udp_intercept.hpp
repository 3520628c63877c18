#pragma once
// SIP's UDP sockets seen from outside libre (the NOTIFY fast path, libre_fast_notify.hpp).
//
// libre opens SIP's UDP socket inside sip_transp_add and keeps it private. As for
// tcp_accept (libre_tcp_admission.hpp), the executable defines libre's udp_listen (the link
// exports it, CMakeLists.txt): it runs libre's own and, while a UdpListenCapture lives on
// the calling thread, records the socket with the receive handler and argument libre gave
// it (sip/transp.c's udp_recv_handler and its transport).
//
// UdpReceiver then sits in front of that handler as a libre UDP helper: each datagram is
// offered to `consume` first (the fast path takes the responses to its NOTIFYs), anything
// not consumed goes to libre's handler unchanged, in arrival order. And one wake-up serves
// many datagrams: after the one libre read, the socket is drained with recvmmsg
// (MSG_DONTWAIT), at most kDrainBatches x kDrainBatch datagrams, so a fan-out's 200s do not
// each cost an epoll round trip (libre reads one datagram per wake-up).
//
// All on the libre thread.
#include <re.h>

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace parley::adapters::sip {

struct UdpPort {
  struct udp_sock* us = nullptr;
  udp_recv_h* rh = nullptr;  // libre's handler for it
  void* arg = nullptr;
};

// True when libre's udp_listen resolves to this file's definition.
bool udp_listen_interposed();

// Records the udp_listen calls this thread makes while it lives (not nested).
class UdpListenCapture {
 public:
  UdpListenCapture();
  ~UdpListenCapture();
  UdpListenCapture(const UdpListenCapture&) = delete;
  UdpListenCapture& operator=(const UdpListenCapture&) = delete;
  const std::vector<UdpPort>& taken() const { return taken_; }

 private:
  std::vector<UdpPort> taken_;
};

class UdpReceiver {
 public:
  // true: the datagram was the fast path's; libre never sees it.
  using Consume = bool (*)(void* arg, const struct sa& src, std::string_view datagram);
  static constexpr std::size_t kDrainBatch = 32;
  static constexpr std::size_t kDrainBatches = 8;
  static constexpr std::size_t kMaxDatagram = 8192;  // libre's own receive size (udp.c)

  // nullptr when the helper cannot be registered.
  static std::unique_ptr<UdpReceiver> attach(const UdpPort& port, Consume consume, void* arg);
  ~UdpReceiver();
  UdpReceiver(const UdpReceiver&) = delete;
  UdpReceiver& operator=(const UdpReceiver&) = delete;

  int fd() const { return fd_; }
  const struct sa& local() const { return local_; }
  struct udp_sock* socket() const { return port_.us; }

 private:
  UdpReceiver() = default;
  static bool on_helper(struct sa* src, struct mbuf* mb, void* arg);
  void drain();
  void to_libre(const struct sa& src, const char* data, std::size_t n);

  UdpPort port_;
  Consume consume_ = nullptr;
  void* arg_ = nullptr;
  struct udp_helper* helper_ = nullptr;
  int fd_ = -1;
  struct sa local_ {};
  bool draining_ = false;
  std::unique_ptr<char[]> bufs_;  // kDrainBatch x kMaxDatagram
};

}  // namespace parley::adapters::sip

#pragma once
// SIP's UDP sockets seen from outside libre (the NOTIFY fast path, libre_fast_notify.hpp).
//
// libre opens SIP's UDP socket inside sip_transp_add and keeps it private. As for
// tcp_accept (libre_tcp_admission.hpp), the executable defines libre's udp_listen (the link
// exports it, CMakeLists.txt): it runs libre's own and, while a UdpListenCapture lives on
// the calling thread, records the socket with the receive handler and argument libre gave
// it (sip/transp.c's udp_recv_handler and its transport).
//
// The same capture interposes fd_listen, to learn the read handler libre's udp_listen
// registers for that socket's descriptor (udp.c's udp_read_handler).
//
// UdpReceiver then takes the descriptor over (fd_listen with its own handler; libre's is
// put back when it detaches): each wake-up drains the socket with recvmmsg (MSG_DONTWAIT),
// offers every datagram to `consume` first (the fast path takes the responses to its
// NOTIFYs), and hands anything not consumed to libre's receive handler unchanged, in
// arrival order, as libre's udp_read would have (an mbuf with the datagram; cut at
// kMaxDatagram as libre cuts it). And while `busy` says many answers are due (a fan-out in
// flight), it stops waiting on the descriptor and reads it every kPollMs instead, for as
// long as ticks find datagrams: the watchers' 200s then cost one wake-up per tick, not one
// each (an epoll sleep and wake-up was ~40 % of the CPU per NOTIFY). Other requests wait
// at most kPollMs longer meanwhile. A small fan-out (kSmallAt to kBusyAt - 1 due) is read
// the same way by a kSmallPollUs tick (a timerfd): at N = 10 a 1 ms wait per PUBLISH cost
// 30 % of the rate; 250 µs found the watchers' 200s half in (a second tick read the rest
// with the next PUBLISH), 500 µs reads them and that PUBLISH in one wake-up at the same
// rate (sleeps per PUBLISH 3.0 -> 2.0). A small fan-out sent by another thread through
// LibreLoop::try_run_here may have that thread run its tick too (set_remote_tick: the
// core strand's timer, then try_run_here again), so the sleeping libre thread wakes neither
// for the answers nor for the request read with them (one sleep per PUBLISH at N = 10, the
// core strand's); a 5 ms timerfd stays armed behind it in case that thread is late.
// libre's helpers (udp_register_helper) on this socket are not run: SIP registers none.
//
// All on the libre thread.
#include <re.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace parley::adapters::sip {

struct UdpPort {
  struct udp_sock* us = nullptr;
  udp_recv_h* rh = nullptr;  // libre's handler for it
  void* arg = nullptr;
  int fd = -1;  // its descriptor, and libre's read handler for that
  fd_h* read_h = nullptr;
  void* read_arg = nullptr;
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
  // true: the datagram was the fast path's; libre never sees it. `fd`: the socket it came
  // in on (a fast-path answer leaves by the same one).
  using Consume = bool (*)(void* arg, int fd, const struct sa& src, std::string_view datagram);
  // How many answers are due (NOTIFYs in flight).
  using Busy = std::size_t (*)(void* arg);
  // Reading goes by tick from kBusyAt answers due after a wake-up, and back to waking on
  // the descriptor once a tick reads nothing or nothing is due (silent watchers, whose
  // NOTIFYs wait for timer F, do not keep it ticking).
  static constexpr std::size_t kBusyAt = 16;
  static constexpr std::size_t kDrainBatch = 32;
  static constexpr std::size_t kDrainBatches = 8;    // per wake-up or tick
  static constexpr std::size_t kMaxDatagram = 8192;  // libre's own receive size (udp.c)
  static constexpr std::uint64_t kPollMs = 1;
  // A small fan-out (kSmallAt..kBusyAt-1 answers due): ticks of kSmallPollUs (a timerfd,
  // libre's timers count milliseconds).
  static constexpr std::size_t kSmallAt = 4;
  static constexpr std::uint64_t kSmallPollUs = 500;
  static constexpr std::uint64_t kRemoteGuardUs = 5000;  // the libre thread's, behind a remote tick

  // Arms another thread's timer for `us`; when it expires, that thread calls remote_tick
  // under LibreLoop::try_run_here (or posts it to the libre thread). false: not armed.
  using RemoteTick = bool (*)(void* arg, std::uint64_t us);

  // nullptr when the socket cannot be taken over (libre keeps it as it was).
  static std::unique_ptr<UdpReceiver> attach(const UdpPort& port, Consume consume, Busy busy, void* arg);
  ~UdpReceiver();  // libre's read handler back on the descriptor
  UdpReceiver(const UdpReceiver&) = delete;
  UdpReceiver& operator=(const UdpReceiver&) = delete;

  // Before a batch of `coming` NOTIFYs leaves: a small fan-out (kSmallAt..kBusyAt-1
  // answers due with them) is read by the short tick from now on, not from the wake-up its
  // first answer would cause (-0.4 to -0.5 sleeps per PUBLISH at 10 watchers). Before, not
  // after: a batch sent by another thread in LibreLoop::try_run_here must not wake the
  // sleeping libre thread with its first answers either.
  // `remote`: the caller is another thread in LibreLoop::try_run_here, whose RemoteTick
  // (set_remote_tick) may then read the answers.
  void expect(std::size_t coming, bool remote = false);
  void set_remote_tick(RemoteTick f, void* arg) {
    remote_tick_ = f;
    remote_arg_ = arg;
  }
  // The RemoteTick's expiry, with the libre loop's lock: in try_run_here (`on_libre` false:
  // further ticks stay remote) or on the libre thread (`on_libre`: they go on there).
  void remote_tick(bool on_libre);

  int fd() const { return port_.fd; }
  const struct sa& local() const { return local_; }
  std::uint64_t wakeups() const { return wakeups_; }
  std::uint64_t ticks() const { return ticks_; }
  bool polling() const { return polling_; }  // reading by tick, not waiting on the descriptor

 private:
  UdpReceiver() = default;
  static void on_readable(int flags, void* arg);
  static void on_tick(void* arg);
  static void on_short(int flags, void* arg);
  bool arm_short();
  void tick();
  std::size_t drain();
  void to_libre(const struct sa& src, const char* data, std::size_t n);

  UdpPort port_;
  Consume consume_ = nullptr;
  Busy busy_ = nullptr;
  void* arg_ = nullptr;
  struct sa local_ {};
  bool polling_ = false;  // off epoll, read by tick_
  struct tmr tick_ {};
  int tfd_ = -1;         // the short tick's timerfd (-1: none, small fan-outs wake per datagram)
  bool short_ = false;   // polling_ by tfd_, not tick_
  bool remote_ = false;  // short_, by remote_tick_ (tfd_ only as the guard)
  RemoteTick remote_tick_ = nullptr;
  void* remote_arg_ = nullptr;
  std::uint64_t wakeups_ = 0, ticks_ = 0;
  std::unique_ptr<char[]> bufs_;  // kDrainBatch x kMaxDatagram
};

}  // namespace parley::adapters::sip

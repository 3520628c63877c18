#include "adapters/sip/libre_udp_intercept.hpp"

#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace {

using ListenFn = int (*)(struct udp_sock**, const struct sa*, udp_recv_h*, void*);
using FdListenFn = int (*)(int, int, fd_h*, void*);

ListenFn real_listen() {
  static const ListenFn f = reinterpret_cast<ListenFn>(dlsym(RTLD_NEXT, "udp_listen"));
  return f;
}

FdListenFn real_fd_listen() {
  static const FdListenFn f = reinterpret_cast<FdListenFn>(dlsym(RTLD_NEXT, "fd_listen"));
  return f;
}

struct Capture {
  std::vector<parley::adapters::sip::UdpPort>* ports = nullptr;
  // The last fd_listen for reading while capturing: udp_listen's own socket is the one it
  // registers (udp.c: udp_alloc -> fd_listen(fd, FD_READ, udp_read_handler, us)).
  int fd = -1;
  fd_h* fh = nullptr;
  void* arg = nullptr;
};
thread_local Capture capture;

}  // namespace

// libre's own signatures (re_udp.h, re_main.h); see the header for why they are defined here.
extern "C" int udp_listen(struct udp_sock** usp, const struct sa* local, udp_recv_h* rh, void* arg) {
  ListenFn listen = real_listen();
  if (!listen) return ENOSYS;
  capture.fd = -1;
  const int err = listen(usp, local, rh, arg);
  if (!err && capture.ports && usp && *usp) {
    parley::adapters::sip::UdpPort p{*usp, rh, arg};
    struct sa laddr {};
    p.fd = udp_local_get(*usp, &laddr) == 0 ? udp_sock_fd(*usp, sa_af(&laddr)) : -1;
    // Only when the registration seen is this socket's and libre's handler takes it as arg.
    if (p.fd >= 0 && capture.fd == p.fd && capture.arg == *usp) {
      p.read_h = capture.fh;
      p.read_arg = capture.arg;
    }
    capture.ports->push_back(p);
  }
  return err;
}

extern "C" int fd_listen(int fd, int flags, fd_h* fh, void* arg) {
  FdListenFn f = real_fd_listen();
  if (!f) return ENOSYS;
  if (capture.ports && (flags & FD_READ) && fh) {
    capture.fd = fd;
    capture.fh = fh;
    capture.arg = arg;
  }
  return f(fd, flags, fh, arg);
}

namespace parley::adapters::sip {

bool udp_listen_interposed() {
  return dlsym(RTLD_DEFAULT, "udp_listen") == reinterpret_cast<void*>(&::udp_listen) &&
         dlsym(RTLD_DEFAULT, "fd_listen") == reinterpret_cast<void*>(&::fd_listen) && real_listen() &&
         real_fd_listen();
}

UdpListenCapture::UdpListenCapture() { capture = Capture{&taken_}; }
UdpListenCapture::~UdpListenCapture() { capture = Capture{}; }

std::unique_ptr<UdpReceiver> UdpReceiver::attach(const UdpPort& port, Consume consume, Busy busy, void* arg) {
  if (!port.us || !port.rh || port.fd < 0 || !port.read_h) return nullptr;
  std::unique_ptr<UdpReceiver> r(new UdpReceiver());
  r->port_ = port;
  r->consume_ = consume;
  r->busy_ = busy;
  r->arg_ = arg;
  tmr_init(&r->tick_);
  if (udp_local_get(port.us, &r->local_)) return nullptr;
  r->bufs_ = std::make_unique<char[]>(kDrainBatch * kMaxDatagram);
  // The short tick's timer stays registered; it is armed one-shot, so it wakes the loop only
  // while a small fan-out is read by it. Without it, small fan-outs wake per datagram.
  r->tfd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (r->tfd_ >= 0 && fd_listen(r->tfd_, FD_READ, &UdpReceiver::on_short, r.get())) {
    ::close(r->tfd_);
    r->tfd_ = -1;
  }
  if (fd_listen(port.fd, FD_READ, &UdpReceiver::on_readable, r.get())) {
    // libre's fd_listen dropped the descriptor on failure: give it back to libre.
    (void)fd_listen(port.fd, FD_READ, port.read_h, port.read_arg);
    return nullptr;
  }
  return r;
}

UdpReceiver::~UdpReceiver() {
  tmr_cancel(&tick_);
  if (tfd_ >= 0) {
    fd_close(tfd_);
    ::close(tfd_);
  }
  (void)fd_listen(port_.fd, FD_READ, port_.read_h, port_.read_arg);
}

void UdpReceiver::to_libre(const struct sa& src, const char* data, std::size_t n) {
  struct mbuf* mb = mbuf_alloc(n);
  if (!mb) return;
  (void)mbuf_write_mem(mb, reinterpret_cast<const uint8_t*>(data), n);
  mb->pos = 0;
  port_.rh(&src, mb, port_.arg);
  mem_deref(mb);
}

void UdpReceiver::on_readable(int flags, void* arg) {
  auto* self = static_cast<UdpReceiver*>(arg);
  (void)flags;
  ++self->wakeups_;
  self->drain();
  if (self->polling_) return;
  const std::size_t due = self->busy_(self->arg_);
  if (due >= kBusyAt) {
    self->polling_ = true;
    self->short_ = false;
    (void)fd_listen(self->port_.fd, 0, nullptr, nullptr);
    tmr_start(&self->tick_, kPollMs, &UdpReceiver::on_tick, self);
  } else if (due >= kSmallAt && (self->remote_ = false, self->arm_short())) {
    self->polling_ = true;
    self->short_ = true;
    (void)fd_listen(self->port_.fd, 0, nullptr, nullptr);
  }
}

void UdpReceiver::expect(std::size_t coming, bool remote) {
  if (polling_) return;
  const std::size_t due = busy_(arg_) + coming;
  if (due < kSmallAt || due >= kBusyAt) return;
  remote_ = remote && remote_tick_;
  if (!arm_short()) return;
  polling_ = true;
  short_ = true;
  (void)fd_listen(port_.fd, 0, nullptr, nullptr);
}

bool UdpReceiver::arm_short() {
  // A remote tick keeps the libre thread asleep; its timerfd waits behind it, longer, in
  // case the other thread is held up (its tick then finds nothing to do).
  const bool remote = remote_ && remote_tick_(remote_arg_, kSmallPollUs);
  remote_ = remote;
  if (tfd_ < 0) return remote;
  itimerspec t{};
  t.it_value.tv_nsec = static_cast<long>((remote ? kRemoteGuardUs : kSmallPollUs) * 1000);  // one-shot
  return ::timerfd_settime(tfd_, 0, &t, nullptr) == 0 || remote;
}

void UdpReceiver::on_short(int flags, void* arg) {
  auto* self = static_cast<UdpReceiver*>(arg);
  (void)flags;
  std::uint64_t expirations = 0;
  (void)!::read(self->tfd_, &expirations, sizeof expirations);
  if (!self->polling_ || !self->short_) return;
  self->remote_ = false;  // the remote tick was late: the libre thread reads on from here
  self->tick();
}

void UdpReceiver::remote_tick(bool on_libre) {
  if (!polling_ || !short_ || !remote_) return;  // a late one: the guard or a wake-up took over
  if (tfd_ >= 0) {
    itimerspec off{};  // disarms the guard (tick() arms it again if still due)
    (void)::timerfd_settime(tfd_, 0, &off, nullptr);
  }
  if (on_libre) remote_ = false;
  tick();
}

void UdpReceiver::on_tick(void* arg) { static_cast<UdpReceiver*>(arg)->tick(); }

void UdpReceiver::tick() {
  ++ticks_;
  const std::size_t got = drain();
  const std::size_t due = got ? busy_(arg_) : 0;
  if (due >= kBusyAt || (due && !short_)) {
    short_ = false;  // a fan-out grown large goes on by the 1 ms tick
    remote_ = false;
    tmr_start(&tick_, kPollMs, &UdpReceiver::on_tick, this);
    return;
  }
  if (due && short_ && arm_short()) return;
  short_ = false;
  remote_ = false;
  // Level-triggered: whatever arrived since the drain wakes the loop at once.
  polling_ = false;
  if (fd_listen(port_.fd, FD_READ, &UdpReceiver::on_readable, this)) {
    polling_ = true;  // could not wait on it: keep reading by timer
    tmr_start(&tick_, kPollMs, &UdpReceiver::on_tick, this);
  }
}

std::size_t UdpReceiver::drain() {
  mmsghdr msgs[kDrainBatch];
  iovec iov[kDrainBatch];
  sockaddr_storage from[kDrainBatch];
  std::size_t total = 0;
  for (std::size_t batch = 0; batch < kDrainBatches; ++batch) {
    for (std::size_t i = 0; i < kDrainBatch; ++i) {
      iov[i] = {bufs_.get() + i * kMaxDatagram, kMaxDatagram};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    const int n = ::recvmmsg(port_.fd, msgs, kDrainBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    total += static_cast<std::size_t>(n);
    for (int i = 0; i < n; ++i) {
      // A datagram over kMaxDatagram arrives cut there, as libre's own read (8192 bytes,
      // udp.c) cuts it; libre gets what it would have got.
      struct sa src {};
      if (msgs[i].msg_hdr.msg_namelen > sizeof src.u) continue;
      std::memcpy(&src.u, &from[i], msgs[i].msg_hdr.msg_namelen);
      src.len = msgs[i].msg_hdr.msg_namelen;
      const char* data = bufs_.get() + static_cast<std::size_t>(i) * kMaxDatagram;
      const std::size_t len = msgs[i].msg_len;
      if (!consume_(arg_, port_.fd, src, std::string_view(data, len))) to_libre(src, data, len);
    }
    if (static_cast<std::size_t>(n) < kDrainBatch) break;
  }
  return total;
}

}  // namespace parley::adapters::sip

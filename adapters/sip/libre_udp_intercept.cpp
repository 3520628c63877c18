#include "adapters/sip/libre_udp_intercept.hpp"

#include <dlfcn.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace {

using ListenFn = int (*)(struct udp_sock**, const struct sa*, udp_recv_h*, void*);

ListenFn real_listen() {
  static const ListenFn f = reinterpret_cast<ListenFn>(dlsym(RTLD_NEXT, "udp_listen"));
  return f;
}

thread_local std::vector<parley::adapters::sip::UdpPort>* capturing = nullptr;

}  // namespace

// libre's own signature (re_udp.h); see the header for why it is defined here.
extern "C" int udp_listen(struct udp_sock** usp, const struct sa* local, udp_recv_h* rh, void* arg) {
  ListenFn listen = real_listen();
  if (!listen) return ENOSYS;
  const int err = listen(usp, local, rh, arg);
  if (!err && capturing && usp && *usp) capturing->push_back({*usp, rh, arg});
  return err;
}

namespace parley::adapters::sip {

bool udp_listen_interposed() {
  return dlsym(RTLD_DEFAULT, "udp_listen") == reinterpret_cast<void*>(&::udp_listen) && real_listen();
}

UdpListenCapture::UdpListenCapture() { capturing = &taken_; }
UdpListenCapture::~UdpListenCapture() { capturing = nullptr; }

std::unique_ptr<UdpReceiver> UdpReceiver::attach(const UdpPort& port, Consume consume, void* arg) {
  if (!port.us || !port.rh) return nullptr;
  std::unique_ptr<UdpReceiver> r(new UdpReceiver());
  r->port_ = port;
  r->consume_ = consume;
  r->arg_ = arg;
  if (udp_local_get(port.us, &r->local_)) return nullptr;
  r->fd_ = udp_sock_fd(port.us, sa_af(&r->local_));
  if (r->fd_ < 0) return nullptr;
  r->bufs_ = std::make_unique<char[]>(kDrainBatch * kMaxDatagram);
  // Layer: any; SIP registers no helper of its own on this socket.
  if (udp_register_helper(&r->helper_, port.us, 0, nullptr, &UdpReceiver::on_helper, r.get())) return nullptr;
  return r;
}

UdpReceiver::~UdpReceiver() { mem_deref(helper_); }

void UdpReceiver::to_libre(const struct sa& src, const char* data, std::size_t n) {
  struct mbuf* mb = mbuf_alloc(n);
  if (!mb) return;
  (void)mbuf_write_mem(mb, reinterpret_cast<const uint8_t*>(data), n);
  mb->pos = 0;
  port_.rh(&src, mb, port_.arg);
  mem_deref(mb);
}

// libre's udp_read calls this for every datagram before its handler (return true: handled).
bool UdpReceiver::on_helper(struct sa* src, struct mbuf* mb, void* arg) {
  auto* self = static_cast<UdpReceiver*>(arg);
  if (self->draining_) return false;  // not reached: drain() hands datagrams to libre itself
  std::string_view d(reinterpret_cast<const char*>(mbuf_buf(mb)), mbuf_get_left(mb));
  if (!self->consume_(self->arg_, *src, d)) self->port_.rh(src, mb, self->port_.arg);
  self->drain();
  return true;
}

void UdpReceiver::drain() {
  draining_ = true;
  mmsghdr msgs[kDrainBatch];
  iovec iov[kDrainBatch];
  sockaddr_storage from[kDrainBatch];
  for (std::size_t batch = 0; batch < kDrainBatches; ++batch) {
    for (std::size_t i = 0; i < kDrainBatch; ++i) {
      iov[i] = {bufs_.get() + i * kMaxDatagram, kMaxDatagram};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    const int n = ::recvmmsg(fd_, msgs, kDrainBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) {
      // Truncated (larger than libre's own receive size): libre would have got it cut too.
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) continue;
      struct sa src {};
      if (msgs[i].msg_hdr.msg_namelen > sizeof src.u) continue;
      std::memcpy(&src.u, &from[i], msgs[i].msg_hdr.msg_namelen);
      src.len = msgs[i].msg_hdr.msg_namelen;
      const char* data = bufs_.get() + static_cast<std::size_t>(i) * kMaxDatagram;
      const std::size_t len = msgs[i].msg_len;
      if (!consume_(arg_, src, std::string_view(data, len))) to_libre(src, data, len);
    }
    if (static_cast<std::size_t>(n) < kDrainBatch) break;
  }
  draining_ = false;
}

}  // namespace parley::adapters::sip

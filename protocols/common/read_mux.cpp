#include "protocols/common/read_mux.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace parley::protocols {

namespace {
constexpr int kEventsPerWait = 64;
}  // namespace

std::shared_ptr<ReadMux> ReadMux::create(const Strand& strand) {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return nullptr;
  return std::shared_ptr<ReadMux>(new ReadMux(strand, fd));
}

ReadMux::ReadMux(const Strand& strand, int epfd) : strand_(strand), epoll_(strand, epfd) {}

ReadMux::~ReadMux() {
  boost::system::error_code ec;
  epoll_.close(ec);
}

std::uint64_t ReadMux::add(int fd, const std::weak_ptr<Connection>& c) {
  const std::uint64_t id = next_id_++;
  epoll_event ev{};
  // EPOLLRDHUP/ERR/HUP: a peer that closes is read (recv returns 0 or the error) at once.
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) return 0;
  conns_.emplace(id, c);
  if (!armed_) arm();
  return id;
}

void ReadMux::remove(std::uint64_t id, int fd) {
  if (conns_.erase(id) == 0) return;
  // Before Asio closes the socket (closing would drop it from the set too, unless the
  // descriptor were shared); an event already returned for `id` finds no entry.
  if (fd >= 0) ::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_DEL, fd, nullptr);
}

void ReadMux::arm() {
  armed_ = true;
  epoll_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                    [w = weak_from_this()](const boost::system::error_code& ec) {
                      auto self = w.lock();
                      if (!self) return;
                      self->armed_ = false;
                      if (ec) return;  // closed: the mux is going away
                      self->on_readable();
                    });
}

// Asio watches the set's descriptor edge-triggered too: every ready entry is taken before
// waiting again, or one left over would never be reported.
void ReadMux::on_readable() {
  epoll_event events[kEventsPerWait];
  std::vector<std::shared_ptr<Connection>> ready;
  for (;;) {
    const int n = ::epoll_wait(epoll_.native_handle(), events, kEventsPerWait, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    ready.clear();
    for (int i = 0; i < n; ++i) {
      auto it = conns_.find(events[i].data.u64);
      if (it == conns_.end()) continue;
      if (auto c = it->second.lock())
        ready.push_back(std::move(c));
      else
        conns_.erase(it);  // gone without close(): its socket closed with it
    }
    // Each reads a bounded amount (Connection::read_from_mux), so one busy peer cannot hold
    // the others back; what it leaves in the kernel is read in a later turn.
    for (auto& c : ready) c->read_from_mux();
    if (n < kEventsPerWait) break;
  }
  if (!conns_.empty() && !armed_) arm();
}

}  // namespace parley::protocols

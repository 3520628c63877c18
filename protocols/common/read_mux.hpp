#pragma once
// Reads for many connections of one strand through one epoll set of their own (the IRC
// gateway's puppets: ten occupants of a channel are ten IRC connections, and every channel
// line arrives on each of them within microseconds).
//
// Through Asio's reactor each socket's read is its own event: the reactor queues the socket,
// runs its read, hands the completion to the strand, and the next read is started with a
// speculative recv that fails (EAGAIN) before it is queued again; measured on the gateway
// that is ~40 % of its user-space time per line at 200 lines/s. Here the strand waits on
// one epoll descriptor; when it is readable, one epoll_wait names every connection that got
// bytes and each reads them with one recv. The set is edge-triggered (EPOLLET), so a read
// shorter than the buffer means the socket is drained and no further recv is tried until
// the kernel reports new bytes (epoll(7): a new arrival is a new edge).
//
// Connections opt in with Connection::Limits::read_mux (with read_ahead > 0: the reads go
// into that buffer); they must live on the mux's strand. Writes, timers and closing stay
// Asio's. Everything here runs on the strand.
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "protocols/common/net.hpp"

namespace parley::protocols {

class ReadMux : public std::enable_shared_from_this<ReadMux> {
 public:
  // Null when the epoll descriptor cannot be made (EMFILE): connections then read through
  // Asio as before.
  static std::shared_ptr<ReadMux> create(const Strand& strand);
  ~ReadMux();
  ReadMux(const ReadMux&) = delete;
  ReadMux& operator=(const ReadMux&) = delete;

  const Strand& strand() const { return strand_; }
  std::size_t size() const { return conns_.size(); }

 private:
  friend class Connection;
  ReadMux(const Strand& strand, int epfd);
  // Connection side: watch `fd` for `c` (0: failed, read through Asio); forget it again.
  std::uint64_t add(int fd, const std::weak_ptr<Connection>& c);
  void remove(std::uint64_t id, int fd);
  void arm();
  void on_readable();

  Strand strand_;
  boost::asio::posix::basic_stream_descriptor<Strand> epoll_;  // the set's own descriptor
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> conns_;
  std::uint64_t next_id_ = 1;
  bool armed_ = false;
};

}  // namespace parley::protocols

#pragma once
// ReactorRead: a socket read that tells Boost's epoll reactor when it drained the socket,
// for connections on a direct lane (lane.hpp: the core's own io_context, one thread).
//
// Why: Boost 1.74's own read (reactive_socket_recv_op) counts a socket as drained only at
// end of file, so every read a connection starts after a short one first tries recv() at
// once and gets EAGAIN: one system call and ~400 instructions per read that can never
// succeed. A gateway's puppets each read a copy of every channel line, one line per read
// at 200 msgs/s (bench/README.md, issue 11). Here a read that got fewer bytes than asked
// reports "done and exhausted": the reactor then queues the next read without trying it,
// and epoll's next edge (EPOLLET, registered once) performs it. A stream socket's recv()
// returns everything it holds up to the size asked, so a short read did drain it; bytes
// that arrive later raise a new edge.
//
// One case the edge does not cover: the peer's FIN queued behind the last bytes (it sent
// and closed at once, or both came while the reader was busy). The short read takes the
// bytes and the FIN with them, and the next recv would return 0, but no edge ever comes for
// it: the connection would sit open until a write fails or a ping timeout. So a read left
// short is watched: if no read completes for a whole sweep interval (1 s), the owner is
// asked to probe the socket (`Probe`: Connection::read_queued), 1 to 2 s after the read. A
// reader whose reads the reactor keeps completing is never probed (nothing can follow a
// FIN), nor is one whose last read filled its buffer (the reactor tries the next one at
// once). One that cannot be probed now (input held) is asked again every interval.
//
// Only where the reactor is Boost 1.74's epoll reactor (start() says so); elsewhere, and for
// strand lanes (whose completions must pass through the strand), Connection uses
// async_read_some as before.
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "protocols/common/lane.hpp"

namespace parley::protocols {

class HiddenEofSweep;

// One outstanding read at a time, reused for the connection's life. The owner (a
// Connection, which owns this ReactorRead: the sweep counts on that) is kept alive by
// `keep_alive` while a read is queued in the reactor, and the
// read calls back `done(owner, ec, n)` from the reactor's completion on the lane's thread.
// When the io_context is destroyed with a read queued, the read lets go of its owner and
// `done` is not called.
class ReactorRead {
 public:
  using Done = void (*)(void* owner, const boost::system::error_code& ec, std::size_t n);
  // Reads the socket once now if its read waits (Connection::read_queued), on the lane's
  // thread. False: not possible now; asked again a sweep later.
  using Probe = bool (*)(void* owner);
  using SocketType = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Lane>;

  // probe null: a short read is never probed.
  ReactorRead(void* owner, Done done, Probe probe = nullptr);
  ~ReactorRead();
  ReactorRead(const ReactorRead&) = delete;
  ReactorRead& operator=(const ReactorRead&) = delete;

  // Reads at most `len` bytes into `buf` once the socket has any. The socket's executor
  // must be a direct lane and this must run on its thread. False: not started (not
  // available here); the caller reads another way.
  bool start(SocketType& socket, char* buf, std::size_t len, std::shared_ptr<void> keep_alive);
  // recv() calls made so far, EAGAIN included (tests: none is made after a short read).
  std::uint64_t recv_calls() const;
  // A started read waits in the reactor and has read nothing yet: the buffer is free and no
  // bytes are on their way to `done`, so the owner may recv() from the socket itself
  // without reordering anything (Connection::read_queued). On the lane's thread.
  bool waiting() const;
  // The connection closed: nothing to probe for any more (else its entry would keep the
  // sweep's timer, and so the io_context, running until the next sweep), not even after a
  // read that completes later.
  void settle();
  // The sweep interval for every io_context (tests shorten it).
  static void set_sweep_interval(std::chrono::milliseconds interval);

 private:
  friend class HiddenEofSweep;  // reactor_read.cpp: the sweep of short reads
  struct Op;
  std::unique_ptr<Op> op_;
};

}  // namespace parley::protocols

#include "protocols/common/reactor_read.hpp"

#include <boost/version.hpp>

#if BOOST_VERSION == 107400 && defined(__linux__)
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#endif
#include <sys/socket.h>

#include <cerrno>

namespace parley::protocols {

#if BOOST_VERSION == 107400 && defined(__linux__) && defined(BOOST_ASIO_HAS_EPOLL) && \
    !defined(BOOST_ASIO_HAS_IO_URING) && !defined(BOOST_ASIO_DISABLE_EPOLL)
#define PARLEY_REACTOR_READ 1
#endif

#ifdef PARLEY_REACTOR_READ
namespace detail = boost::asio::detail;

namespace {

// The socket's reactor registration lives in its implementation, which basic_socket keeps
// protected: a member pointer taken through a derived class reaches it without a cast.
struct SocketImplAccess : ReactorRead::SocketType {
  static auto& impl(ReactorRead::SocketType& s) { return s.*(&SocketImplAccess::impl_); }
};

}  // namespace

struct ReactorRead::Op : detail::reactor_op {
  Op(void* owner, Done on_done)
      : detail::reactor_op(boost::system::error_code(), &Op::perform_read, &Op::complete),
        owner_(owner),
        done_(on_done) {}

  // In the reactor (under its descriptor lock): one recv, never blocking.
  static status perform_read(detail::reactor_op* base) {
    auto* o = static_cast<Op*>(base);
    for (;;) {
      ++o->recv_calls_;
      const ssize_t n = ::recv(o->fd_, o->buf_, o->len_, 0);
      if (n > 0) {
        o->waiting_ = false;
        o->ec_ = {};
        o->bytes_transferred_ = static_cast<std::size_t>(n);
        return static_cast<std::size_t>(n) < o->len_ ? done_and_exhausted : done;
      }
      if (n == 0) {
        o->waiting_ = false;
        o->ec_ = boost::asio::error::eof;
        o->bytes_transferred_ = 0;
        return done_and_exhausted;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
      o->waiting_ = false;
      o->ec_ = boost::system::error_code(errno, boost::asio::error::get_system_category());
      o->bytes_transferred_ = 0;
      return done;
    }
  }

  // From the scheduler: owner null when the io_context is being destroyed with this queued
  // (then only the owner is released). ec_ is the read's result, or operation_aborted when
  // the socket was closed or cancelled while the read was queued.
  static void complete(void* owner, detail::scheduler_operation* base, const boost::system::error_code&,
                       std::size_t) {
    auto* o = static_cast<Op*>(base);
    o->waiting_ = false;  // aborted unperformed, too
    // Released before the callback returns: the owner (and this Op with it) may go.
    std::shared_ptr<void> keep = std::move(o->keep_alive_);
    if (!owner) return;
    o->done_(o->owner_, o->ec_, o->bytes_transferred_);
  }

  void* owner_;
  Done done_;
  int fd_ = -1;
  char* buf_ = nullptr;
  std::size_t len_ = 0;
  std::shared_ptr<void> keep_alive_;
  std::uint64_t recv_calls_ = 0;
  bool waiting_ = false;  // started, nothing read yet (ReactorRead::waiting)
};

ReactorRead::ReactorRead(void* owner, Done done) : op_(std::make_unique<Op>(owner, done)) {}

ReactorRead::~ReactorRead() = default;

std::uint64_t ReactorRead::recv_calls() const { return op_->recv_calls_; }

bool ReactorRead::waiting() const { return op_->waiting_; }

bool ReactorRead::start(SocketType& socket, char* buf, std::size_t len, std::shared_ptr<void> keep_alive) {
  if (!socket.get_executor().is_direct() || len == 0) return false;
  auto& impl = SocketImplAccess::impl(socket);
  auto& data = impl.get_implementation();
  boost::system::error_code ec;
  // What Boost's own reads do before their first attempt (reactive_socket_service_base).
  if (!(data.state_ & detail::socket_ops::non_blocking) &&
      !detail::socket_ops::set_internal_non_blocking(data.socket_, data.state_, true, ec))
    return false;
  auto& reactor = boost::asio::use_service<detail::reactor>(
      boost::asio::query(socket.get_executor(), boost::asio::execution::context));
  Op& op = *op_;
  op.fd_ = data.socket_;
  op.buf_ = buf;
  op.len_ = len;
  op.ec_ = {};
  op.bytes_transferred_ = 0;
  op.keep_alive_ = std::move(keep_alive);
  op.waiting_ = true;
  reactor.start_op(detail::reactor::read_op, data.socket_, data.reactor_data_, &op, false, true);
  return true;
}

#else  // no Boost 1.74 epoll reactor: Connection reads with async_read_some

struct ReactorRead::Op {};
ReactorRead::ReactorRead(void*, Done) {}
ReactorRead::~ReactorRead() = default;
bool ReactorRead::start(SocketType&, char*, std::size_t, std::shared_ptr<void>) { return false; }
std::uint64_t ReactorRead::recv_calls() const { return 0; }
bool ReactorRead::waiting() const { return false; }

#endif

}  // namespace parley::protocols

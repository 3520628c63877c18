#include "protocols/common/reactor_read.hpp"

#include <boost/version.hpp>

#if BOOST_VERSION == 107400 && defined(__linux__)
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#endif
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <vector>

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

std::chrono::milliseconds sweep_interval{1000};

}  // namespace

struct ReactorRead::Op : detail::reactor_op {
  Op(void* owner, Done on_done, Probe probe)
      : detail::reactor_op(boost::system::error_code(), &Op::perform_read, &Op::complete),
        owner_(owner),
        done_(on_done),
        probe_(probe) {}

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
    o->after_read(keep);
    o->done_(o->owner_, o->ec_, o->bytes_transferred_);
  }

  // A short read with data may have taken the peer's FIN with it (reactor_read.hpp).
  void after_read(const std::shared_ptr<void>& keep);

  void* owner_;
  Done done_;
  int fd_ = -1;
  char* buf_ = nullptr;
  std::size_t len_ = 0;
  std::shared_ptr<void> keep_alive_;
  std::uint64_t recv_calls_ = 0;
  bool waiting_ = false;  // started, nothing read yet (ReactorRead::waiting)
  // The sweep (HiddenEofSweep): the last read was short with data and none completed since
  // (unsure_); a sweep has seen it so (aged_); it is on the sweep's list (watched_).
  Probe probe_;
  HiddenEofSweep* sweep_ = nullptr;
  bool unsure_ = false;
  bool aged_ = false;
  bool watched_ = false;
};

// One per io_context: every sweep interval, probes the reads left short a whole interval
// ago with no read since. Runs on the io_context's one thread (a direct lane's).
class HiddenEofSweep : public boost::asio::execution_context::service {
 public:
  using key_type = HiddenEofSweep;
  static inline boost::asio::execution_context::id id;

  explicit HiddenEofSweep(boost::asio::io_context& io)
      : boost::asio::execution_context::service(io),
        timer_(std::make_unique<boost::asio::steady_timer>(io)) {}

  void watch(ReactorRead::Op* op, const std::shared_ptr<void>& owner) {
    op->watched_ = true;
    watched_.push_back({op, owner});
    arm();
  }

 private:
  struct Watched {
    ReactorRead::Op* op;
    std::weak_ptr<void> owner;  // the Connection that owns op: op lives as long
  };

  void shutdown() override {
    watched_.clear();
    timer_.reset();
  }

  void sweep() {
    std::vector<Watched> due;
    std::erase_if(watched_, [&](Watched& w) {
      if (w.owner.expired()) return true;
      ReactorRead::Op* op = w.op;
      if (op->unsure_ && !op->aged_) {  // short a moment ago: stays for one more sweep
        op->aged_ = true;
        return false;
      }
      op->watched_ = false;
      if (!op->unsure_) return true;  // a read or a probe settled it
      due.push_back(std::move(w));
      return true;
    });
    for (auto& w : due) {
      const auto owner = w.owner.lock();
      ReactorRead::Op* op = w.op;
      // A read may have completed meanwhile (the earlier probes ran the owners' code).
      if (!owner || !op->unsure_ || !op->aged_ || op->watched_) continue;
      op->unsure_ = false;
      if (op->probe_(op->owner_)) continue;
      op->unsure_ = true;  // not now: the next sweep asks again
      watch(op, owner);
    }
    if (!watched_.empty()) arm();
  }

  void arm() {
    if (armed_ || !timer_) return;
    armed_ = true;
    timer_->expires_after(sweep_interval);
    timer_->async_wait([this](const boost::system::error_code& ec) {
      armed_ = false;
      if (!ec) sweep();
    });
  }

  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::vector<Watched> watched_;
  bool armed_ = false;
};

void ReactorRead::Op::after_read(const std::shared_ptr<void>& keep) {
  unsure_ = !ec_ && bytes_transferred_ > 0 && bytes_transferred_ < len_;
  aged_ = false;
  if (unsure_ && !watched_ && sweep_ && probe_ && keep) sweep_->watch(this, keep);
}

ReactorRead::ReactorRead(void* owner, Done done, Probe probe)
    : op_(std::make_unique<Op>(owner, done, probe)) {}

void ReactorRead::set_sweep_interval(std::chrono::milliseconds interval) { sweep_interval = interval; }

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
  auto& io = boost::asio::query(socket.get_executor(), boost::asio::execution::context);
  auto& reactor = boost::asio::use_service<detail::reactor>(io);
  Op& op = *op_;
  if (!op.sweep_ && op.probe_) op.sweep_ = &boost::asio::use_service<HiddenEofSweep>(io);
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
ReactorRead::ReactorRead(void*, Done, Probe) {}
void ReactorRead::set_sweep_interval(std::chrono::milliseconds) {}
ReactorRead::~ReactorRead() = default;
bool ReactorRead::start(SocketType&, char*, std::size_t, std::shared_ptr<void>) { return false; }
std::uint64_t ReactorRead::recv_calls() const { return 0; }
bool ReactorRead::waiting() const { return false; }

#endif

}  // namespace parley::protocols

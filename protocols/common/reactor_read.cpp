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

#include <atomic>
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

std::atomic<std::int64_t> sweep_interval_ms{1000};

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
    o->after_read();
    o->done_(o->owner_, o->ec_, o->bytes_transferred_);
  }

  ~Op();

  // A short read with data may have hidden the peer's FIN behind it (reactor_read.hpp).
  void after_read();

  void* owner_;
  Done done_;
  int fd_ = -1;
  char* buf_ = nullptr;
  std::size_t len_ = 0;
  std::shared_ptr<void> keep_alive_;
  std::uint64_t recv_calls_ = 0;
  bool waiting_ = false;  // started, nothing read yet (ReactorRead::waiting)
  // The sweep (HiddenEofSweep): the last read was short with data and none completed since
  // (unsure_: then it is on the sweep's list, at index_); a sweep has seen it so (aged_).
  Probe probe_;
  HiddenEofSweep* sweep_ = nullptr;
  // The socket's reactor, found once as sweep_ is (one Op per Connection, whose socket keeps
  // its io_context): use_service locks the io_context's registry and walks it comparing type
  // names, at every read (~1.5-2 % of the gateway's CPU in bench x2i).
  detail::reactor* reactor_ = nullptr;
  std::size_t index_ = 0;
  bool unsure_ = false;
  bool aged_ = false;
  bool probing_ = false;  // in the sweep's probes in progress
  bool settled_ = false;  // the owner closed (ReactorRead::settle): never listed again
};

// One per io_context: every sweep interval, probes the reads left short a whole interval
// ago with no read since. It lists only those (unsure_), so its timer stops, and lets the
// io_context finish, once every read is settled: closed, probed or read again. On the
// io_context's one thread (a direct lane's).
class HiddenEofSweep : public boost::asio::execution_context::service {
 public:
  using key_type = HiddenEofSweep;
  static inline boost::asio::execution_context::id id;

  explicit HiddenEofSweep(boost::asio::io_context& io)
      : boost::asio::execution_context::service(io),
        timer_(std::make_unique<boost::asio::steady_timer>(io)) {}

  void watch(ReactorRead::Op* op) {
    op->unsure_ = true;
    op->aged_ = false;
    op->index_ = unsure_.size();
    unsure_.push_back(op);
    arm();
  }

  // op is settled, or going: off the list, and out of a sweep in progress.
  void forget(ReactorRead::Op* op) {
    if (op->unsure_) remove(op);
    if (op->probing_)
      for (auto& p : probing_)
        if (p == op) p = nullptr;
    op->probing_ = false;
  }

 private:
  void shutdown() override {
    for (auto* op : unsure_) op->unsure_ = false;
    for (auto* op : probing_)
      if (op) op->probing_ = false;
    probing_.clear();
    unsure_.clear();
    timer_.reset();
  }

  void remove(ReactorRead::Op* op) {
    op->unsure_ = false;
    ReactorRead::Op* last = unsure_.back();
    unsure_[op->index_] = last;
    last->index_ = op->index_;
    unsure_.pop_back();
    if (unsure_.empty() && armed_ && timer_) {
      timer_->cancel();
      armed_ = false;
    }
  }

  void sweep() {
    // Those short a whole interval ago are probed; the others are seen short now.
    probing_.clear();
    for (std::size_t k = 0; k < unsure_.size();) {
      ReactorRead::Op* op = unsure_[k];
      if (!op->aged_) {
        op->aged_ = true;
        ++k;
        continue;
      }
      op->probing_ = true;
      probing_.push_back(op);
      remove(op);  // moves the last entry to k
    }
    // A probe runs its owner's code, which may close or destroy other connections (forget
    // then clears them here) and may read again (watch).
    for (std::size_t k = 0; k < probing_.size(); ++k) {
      ReactorRead::Op* op = probing_[k];
      if (!op) continue;
      bool done = true;
      try {
        done = op->probe_(op->owner_);
      } catch (...) {  // past the owner's firewall: this read is not probed again
      }
      if (!probing_[k]) continue;  // gone meanwhile
      op->probing_ = false;
      if (!done && !op->unsure_ && !op->settled_) {  // not now: the next sweep asks again
        watch(op);
        op->aged_ = true;
      }
    }
    probing_.clear();
    if (!unsure_.empty()) arm();
  }

  void arm() {
    if (armed_ || !timer_) return;
    armed_ = true;
    timer_->expires_after(std::chrono::milliseconds(sweep_interval_ms.load(std::memory_order_relaxed)));
    timer_->async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: settle() cleared armed_
      armed_ = false;
      sweep();
    });
  }

  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::vector<ReactorRead::Op*> unsure_;
  std::vector<ReactorRead::Op*> probing_;  // the sweep in progress
  bool armed_ = false;
};

// Only a listed or probed op touches the sweep: after the io_context's shutdown none is.
ReactorRead::Op::~Op() {
  if ((unsure_ || probing_) && sweep_) sweep_->forget(this);
}

void ReactorRead::Op::after_read() {
  const bool unsure = !ec_ && bytes_transferred_ > 0 && bytes_transferred_ < len_;
  if (unsure && !unsure_ && sweep_ && !settled_)  // (a read completed after its owner closed)
    sweep_->watch(this);
  else if (unsure)
    aged_ = false;  // read again: seen short anew
  else if (unsure_)
    sweep_->forget(this);
}

void ReactorRead::settle() {
  op_->settled_ = true;
  if (op_->unsure_ && op_->sweep_) op_->sweep_->forget(op_.get());
}

ReactorRead::ReactorRead(void* owner, Done done, Probe probe)
    : op_(std::make_unique<Op>(owner, done, probe)) {}

void ReactorRead::set_sweep_interval(std::chrono::milliseconds interval) {
  sweep_interval_ms.store(interval.count(), std::memory_order_relaxed);
}

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
  Op& op = *op_;
  if (!op.reactor_) op.reactor_ = &boost::asio::use_service<detail::reactor>(io);
  detail::reactor& reactor = *op.reactor_;
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
void ReactorRead::settle() {}
ReactorRead::~ReactorRead() = default;
bool ReactorRead::start(SocketType&, char*, std::size_t, std::shared_ptr<void>) { return false; }
std::uint64_t ReactorRead::recv_calls() const { return 0; }
bool ReactorRead::waiting() const { return false; }

#endif

}  // namespace parley::protocols

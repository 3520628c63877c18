// Listener (declared in net.hpp): accepts on a typed ListenAddress and hands each socket,
// on a fresh strand of its own, to the protocol.
#include <sys/resource.h>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "protocols/common/net.hpp"

namespace parley::protocols {

namespace {
// Errors that say the process or the system is out of something: retrying at once fails
// again at once (accept(2): EMFILE, ENFILE, ENOBUFS, ENOMEM). Compared by value: comparing
// with an error condition calls the category's virtual equivalent(), and while no
// descriptor is free nothing on this path should need more than it already has (a
// sanitizer build's first vptr check of a type needs a pipe(2)).
bool out_of_resources(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  switch (ec.value()) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM: return true;
    default: return false;
  }
}

std::string errno_text(int value) {
  char buf[128];
  return ::strerror_r(value, buf, sizeof buf);  // the GNU variant: returns the text
}

// accept(2) returns the lowest free descriptor: one at `fd` means every one below is in use.
bool near_fd_limit(int fd, std::string& why) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return false;
  if (static_cast<rlim_t>(fd) + Listener::kFdReserve < rl.rlim_cur) return false;
  why = "descriptors almost exhausted (descriptor " + std::to_string(fd) + " of " + std::to_string(rl.rlim_cur) +
        ", " + std::to_string(Listener::kFdReserve) + " kept for the daemon)";
  return true;
}
}  // namespace

// Handlers hold a shared_ptr to this, so the Listener may be destroyed while one runs. The
// mutex orders the acceptor's uses: the accept path (one at a time anyway: one accept is
// pending) against stop() from another thread. Once stop() has returned, `stopped` is seen
// by every handler, and a socket accepted just before is closed instead of handed over.
struct Listener::State : std::enable_shared_from_this<Listener::State> {
  State(asio::io_context& ctx, ListenAddress where, AcceptHandler handler)
      : io(ctx), address(std::move(where)), on_accept(std::move(handler)), acceptor(ctx), pause(ctx) {}

  void accept_one();  // with mu held
  void on_accepted(Socket s);
  void refuse(Socket& s, AddressLimiter::Verdict why);
  void pause_accepting(const std::string& why);
  void notify(Event e, std::string_view text) {
    if (notify_fn) notify_fn(e, text);
  }

  asio::io_context& io;
  const ListenAddress address;
  const AcceptHandler on_accept;
  std::mutex mu;
  std::atomic<bool> stopped{false};
  tcp::acceptor acceptor;          // under mu
  asio::steady_timer pause;        // under mu
  tcp::endpoint local;             // set by open(), before any handler exists
  std::shared_ptr<AddressLimiter> limiter;  // set before start()
  Refusal refusal;
  Notify notify_fn;
  std::chrono::milliseconds backoff{0};  // under mu
  std::size_t failures = 0;              // accept failures in the current episode; under mu
};

Listener::Listener(asio::io_context& io, ListenAddress address, AcceptHandler on_accept)
    : state_(std::make_shared<State>(io, std::move(address), std::move(on_accept))) {}

Listener::~Listener() { stop(); }

void Listener::set_limiter(std::shared_ptr<AddressLimiter> limiter, Refusal refusal) {
  state_->limiter = std::move(limiter);
  state_->refusal = std::move(refusal);
}

void Listener::set_notify(Notify notify) { state_->notify_fn = std::move(notify); }

const ListenAddress& Listener::address() const { return state_->address; }

boost::system::error_code Listener::open() {
  std::lock_guard lock(state_->mu);
  auto& acceptor = state_->acceptor;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(state_->address.host, ec);
  if (ec) return ec;
  tcp::endpoint ep(addr, state_->address.port);
  acceptor.open(ep.protocol(), ec);
  if (ec) return ec;
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ep.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  acceptor.bind(ep, ec);
  if (ec) return ec;
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  state_->local = acceptor.local_endpoint(ec);
  return ec;
}

void Listener::start() {
  std::lock_guard lock(state_->mu);
  if (!state_->stopped) state_->accept_one();
}

void Listener::stop() {
  std::lock_guard lock(state_->mu);
  state_->stopped = true;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
  state_->pause.cancel();
}

tcp::endpoint Listener::local_endpoint() const { return state_->local; }

void Listener::State::accept_one() {
  // With an executor argument the peer socket comes typed on it: a Socket on a new strand.
  const Strand fresh = asio::make_strand(io);
  acceptor.async_accept(fresh, [self = shared_from_this()](boost::system::error_code ec, Socket s) {
    std::lock_guard lock(self->mu);
    if (self->stopped || ec == asio::error::operation_aborted) return;
    if (!ec) {
      std::string why;
      if (near_fd_limit(s.native_handle(), why)) {
        boost::system::error_code ignored;
        s.close(ignored);  // at once: better than waiting in the backlog for nothing
        return self->pause_accepting(why);
      }
      if (self->failures) {
        self->notify(Event::accept_resumed, std::to_string(self->failures) + " accept failures");
        self->failures = 0;
      }
      self->backoff = std::chrono::milliseconds(0);
      self->on_accepted(std::move(s));
    } else if (out_of_resources(ec)) {
      return self->pause_accepting(errno_text(ec.value()));
    } else if (ec != asio::error::connection_aborted && ec != asio::error::interrupted) {
      // Anything else unexpected: back off too rather than risk a busy loop.
      return self->pause_accepting(errno_text(ec.value()));
    }
    self->accept_one();
  });
}

void Listener::State::pause_accepting(const std::string& why) {
  backoff = backoff.count() == 0 ? kMinPause : std::min(2 * backoff, kMaxPause);
  if (failures++ == 0)
    notify(Event::accept_paused, why + "; pausing accepts (" + std::to_string(backoff.count()) + " ms, up to " +
                                     std::to_string(kMaxPause.count()) + " ms)");
  pause.expires_after(backoff);
  pause.async_wait([self = shared_from_this()](boost::system::error_code wec) {
    std::lock_guard lock(self->mu);
    if (self->stopped || wec) return;
    self->accept_one();
  });
}

void Listener::State::on_accepted(Socket s) {
  boost::system::error_code ignored;
  Admission admission;
  if (limiter) {
    auto peer = s.remote_endpoint(ignored);
    if (ignored) return;  // already gone
    admission = limiter->admit(peer.address());
    if (!admission) {
      notify(Event::refused, peer.address().to_string() + (admission.verdict() == AddressLimiter::Verdict::too_many
                                                               ? ": too many connections"
                                                               : ": connecting too fast"));
      return refuse(s, admission.verdict());
    }
  }
  s.set_option(tcp::no_delay(true), ignored);
  auto exec = s.get_executor();
  // Hand over on the socket's own strand.
  asio::post(exec, [self = shared_from_this(), s = std::move(s), admission = std::move(admission)]() mutable {
    // Under the mutex: stop() waits for a handover in progress, and none starts after it.
    std::lock_guard lock(self->mu);
    if (!self->stopped) self->on_accept(std::move(s), self->address.tls(), std::move(admission));
  });
}

void Listener::State::refuse(Socket& s, AddressLimiter::Verdict why) {
  // One non-blocking write into an empty socket buffer, then close: a refusal costs no
  // state and no wait. Whatever the peer already sent is read away first, so that the close
  // is a FIN after the text and not a reset that could discard it.
  boost::system::error_code ec;
  s.non_blocking(true, ec);
  char scratch[512];
  s.read_some(asio::buffer(scratch), ec);
  if (!address.tls() && refusal) {
    std::string text = refusal(why);
    if (!text.empty()) s.write_some(asio::buffer(text), ec);
  }
  s.shutdown(tcp::socket::shutdown_send, ec);
  s.close(ec);
}

}  // namespace parley::protocols

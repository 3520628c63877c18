#include "adapters/common/libre_bridge.hpp"

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <future>

#include "adapters/common/libre_rand.hpp"
#include "adapters/common/libre_timers.hpp"

// re.h includes libre's headers in the order they need (and wraps them in extern "C");
// Debian's 1.1.0 needs HAVE_INTTYPES_H etc., which CMake defines (DESIGN.md, Threading).
#include <re.h>

namespace parley::adapters {

namespace {

// libre keeps its main loop in process-global state (libre 1.1.0 main.c: global_re for any
// thread that did not call re_thread_init): two loops would share it.
std::atomic<bool> g_loop_running{false};

int default_max_fds() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 65'536;
  return static_cast<int>(std::clamp<rlim_t>(rl.rlim_cur, 1024, 65'536));
}

}  // namespace

LibreLoop::LibreLoop() : LibreLoop(Options{}) {}

LibreLoop::LibreLoop(Options options) : options_(options) {}

LibreLoop::~LibreLoop() {
  stop();
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::string LibreLoop::start() {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::stopped || thread_.joinable()) return "the libre loop is already started";
    if (wake_fd_ < 0) wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return "eventfd failed: " + std::string(std::strerror(errno));
  }
  bool expected = false;
  if (!g_loop_running.compare_exchange_strong(expected, true)) return "another libre loop is running";
  std::promise<std::string> started;
  auto result = started.get_future();
  // The promise lives in the thread: set_value may still be running when get() returns.
  thread_ = std::thread([this, p = std::move(started)]() mutable { run(&p); });
  std::string why = result.get();
  if (!why.empty()) {
    thread_.join();
    g_loop_running.store(false);
  }
  return why;
}

void LibreLoop::run(std::promise<std::string>* started) {
  thread_id_.store(std::this_thread::get_id());
  // libre_init installs a SIGPIPE handler of its own (for its OpenSSL use); the daemon's
  // disposition stays what it was.
  struct sigaction old_pipe {};
  ::sigaction(SIGPIPE, nullptr, &old_pipe);
  int err = libre_init();
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  if (err) {
    thread_id_.store({});
    started->set_value("libre_init failed: " + std::string(std::strerror(err)));
    return;
  }
  err = fd_setsize(options_.max_fds > 0 ? options_.max_fds : default_max_fds());
  if (!err) err = fd_listen(wake_fd_, FD_READ, &LibreLoop::on_wake, this);
  // libre's loop mutex is ours, so try_run_here can try it (libre 1.1.0: re_main holds it
  // except in epoll_wait). Set on the loop libre_init made (the process's: re_get()).
  if (!err) re_set_mutex(&re_mu_);
  if (err) {
    libre_close();
    thread_id_.store({});
    started->set_value("libre fd_listen (wake eventfd) failed: " + std::string(std::strerror(err)));
    return;
  }
  {
    std::lock_guard lock(mu_);
    state_ = State::running;
  }
  running_.store(true, std::memory_order_release);
  started->set_value({});  // start() returns
  wake();                  // the first drain (inside re_main, the lock held) opens try_run_here
  if (!libre_timers_indexed())
    spdlog::warn(
        "libre: timers are libre's own sorted list (tmr_start not interposed); many SIP "
        "subscriptions make every new timer slower");
  if (!libre_rand_pooled())
    spdlog::warn("libre: random numbers are libre's own (rand_u32 not interposed): one RAND_bytes call each");

  // NULL: libre installs no signal handlers (the daemon owns SIGINT/SIGTERM/SIGHUP).
  err = re_main(nullptr);
  if (err) spdlog::error("libre: re_main ended with {}", std::strerror(err));
  // re_main let go of the lock: no other thread may run libre work from now on.
  pthread_mutex_lock(&re_mu_);
  here_ok_ = false;
  pthread_mutex_unlock(&re_mu_);

  {
    // No push can follow: post() refuses once stopping. A wake written late (after its
    // poster released mu_) lands in the eventfd, which stays open until the destructor.
    std::lock_guard lock(mu_);
    state_ = State::stopped;
    wake_pending_ = false;
    queue_.clear();  // only if re_main ended on its own; destroyed here, on the libre thread
  }
  running_.store(false, std::memory_order_release);
  fd_close(wake_fd_);
  re_set_mutex(nullptr);
  libre_close();
  thread_id_.store({});
  g_loop_running.store(false);
}

bool LibreLoop::claim_wake_locked() {
  if (wake_pending_) return false;  // someone's wake is written or about to be
  wake_pending_ = true;
  return true;
}

void LibreLoop::wake() const {
  const std::uint64_t one = 1;
  // Fails only if the counter would overflow (2^64 - 2 unread wakes): it is readable then.
  if (::write(wake_fd_, &one, sizeof one) != static_cast<ssize_t>(sizeof one) && errno != EAGAIN)
    spdlog::error("libre: cannot wake the loop: {}", std::strerror(errno));
}

bool LibreLoop::post(std::function<void()> fn) {
  bool must_wake = false;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::running || queue_.size() >= options_.max_queue) return false;
    queue_.push_back(std::move(fn));
    must_wake = claim_wake_locked();
  }
  // Outside mu_: the libre thread this wakes takes mu_ first thing (drain).
  if (must_wake) wake();
  return true;
}

void LibreLoop::on_wake(int, void* arg) { static_cast<LibreLoop*>(arg)->drain(); }

bool LibreLoop::try_run_here(std::function<void()>& fn) {
  if (!fn || on_libre_thread() || !libre_timers_indexed()) return false;
  if (pthread_mutex_trylock(&re_mu_) != 0) return false;  // the libre thread is at work
  if (!here_ok_) {
    pthread_mutex_unlock(&re_mu_);
    return false;
  }
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::running) {
      pthread_mutex_unlock(&re_mu_);
      return false;
    }
    // What was posted before runs first. A wake written for it stays in the eventfd: the
    // libre thread wakes once more and finds the queue empty (never a lost function).
    batch.swap(queue_);
  }
  libre_timers_begin_foreign();
  batch.push_back(std::move(fn));
  fn = nullptr;
  run_batch(batch);  // destroyed here too, under the lock
  const bool new_earliest = libre_timers_end_foreign();
  pthread_mutex_unlock(&re_mu_);
  if (new_earliest) wake();  // re_main recomputes its epoll timeout
  return true;
}

void LibreLoop::run_batch(std::deque<std::function<void()>>& batch) {
  for (auto& f : batch) {
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::error("exception on the libre thread: {}; dropped, still serving", e.what());
    } catch (...) {
      spdlog::error("unknown exception on the libre thread; dropped, still serving");
    }
  }
  batch.clear();
}

// On the libre thread, from re_main.
void LibreLoop::drain() {
  std::deque<std::function<void()>> batch;
  bool stopping;
  // Read the counter before taking the queue: a wake written after this read marks a push
  // this drain may already take; that costs one empty drain later, never a lost push (a
  // push after the swap below finds wake_pending_ false and writes its own wake).
  std::uint64_t count = 0;
  (void)!::read(wake_fd_, &count, sizeof count);
  {
    std::lock_guard lock(mu_);
    batch.swap(queue_);
    wake_pending_ = false;
    stopping = state_ == State::stopping;
  }
  // Inside re_main with its lock held (drain runs from an fd handler): other threads may
  // now try_run_here, until the stop.
  here_ok_ = !stopping;
  run_batch(batch);
  if (stopping) re_cancel();  // nothing was queued after stop(): post refuses then
}

void LibreLoop::stop() {
  bool must_wake = false;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::running) {
      state_ = State::stopping;
      wake_pending_ = true;  // this wake carries the stop
      must_wake = true;
    }
  }
  if (must_wake) wake();
  if (on_libre_thread()) return;  // asked; the destructor (or a stop() from elsewhere) joins
  if (thread_.joinable()) thread_.join();
}

std::size_t LibreLoop::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace parley::adapters

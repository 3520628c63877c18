#pragma once
// libre (SIP, DESIGN.md "Threading") on its own thread, and the two ways across:
//
//   LibreLoop loop;                   // one per process: libre's main loop state is global
//   loop.start();                     // thread: libre_init, the wake eventfd, re_main(NULL)
//   post_to_libre(loop, [=] { sipsess_connect(...); });        // any thread -> libre thread
//   post_to_asio(rt.core_strand, "sip: message", [=] { ... }); // libre thread -> Asio
//   loop.stop();                      // runs what was posted before, re_cancel, libre_close, join
//
// libre is not thread-safe: every re_* call (and every mem_deref of a libre object) must
// happen on the libre thread, so work goes there as a function and data comes back as
// copies (copy pl / sip_msg fields before posting: they die with the libre message).
// Crossing in: one mutex-guarded queue of functions, bounded by Options::max_queue (post
// refuses beyond it), and one eventfd write to wake re_main when the queue turns non-empty,
// so a burst costs one wake-up. The write is made after the queue's mutex is released: made
// under it (libre's mqueue pipe, before), the woken libre thread often blocked on that
// mutex at once and needed a second wake-up (perf at N = 10 SIP watchers: futex waits in
// drain). Crossing out: adapters::post_guarded (the exception firewall).
// The functions run behind a firewall too: an exception must not unwind through libre's C.
//
// One more way in, try_run_here: libre (1.1.0 main.c) holds its loop mutex whenever it
// runs, except while it waits in epoll_wait, and the loop's mutex is ours (re_set_mutex).
// Another thread that gets it with a try-lock may run libre work itself, in place, while
// the libre thread sleeps: what was posted before runs first (order is kept), then the
// function, then the lock goes back. That saves the libre thread a wake-up (a sleep and a
// wake-up each time, ~40 % of the CPU of a SIP PUBLISH to 10 watchers; issue 12). It never
// waits: a busy libre thread (or one not yet or no longer in re_main) means false, and the
// caller posts as before. A timer it starts that becomes libre's earliest wakes the loop,
// whose epoll timeout was computed before (libre_timers.hpp); without Parley's timer index
// (libre's own tmr_start) try_run_here always refuses.
//
// Kept out of core/ and out of parley_adapters: only the target parley_libre links libre.
#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "adapters/common/post_guarded.hpp"

namespace parley::adapters {

class LibreLoop {
 public:
  struct Options {
    std::size_t max_queue = 65'536;  // functions waiting for the libre thread
    // Highest descriptor number libre may poll (fd_setsize); libre refuses larger ones. 0:
    // the process's RLIMIT_NOFILE, at most 65536 (libre keeps a table entry per descriptor).
    int max_fds = 0;
  };

  LibreLoop();
  explicit LibreLoop(Options options);
  ~LibreLoop();  // stop()
  LibreLoop(const LibreLoop&) = delete;
  LibreLoop& operator=(const LibreLoop&) = delete;

  // Starts the libre thread and waits until re_main is about to run. Empty on success, else
  // why not (libre_init or the wake eventfd failed, or another LibreLoop is running).
  std::string start();
  // Runs fn on the libre thread, after everything posted before. Any thread. false (fn is
  // dropped unrun) when not running, stopping, or max_queue functions are waiting.
  bool post(std::function<void()> fn);
  // Runs fn here, on the calling thread (never the libre thread), as if on the libre thread,
  // when the libre thread is idle in re_main; true: fn ran (after every function posted
  // before it) and was destroyed, under the loop's lock. false: fn is untouched (post it).
  bool try_run_here(std::function<void()>& fn);
  // Runs what was posted before it, leaves re_main, frees libre's state, joins the thread.
  // Any thread but the libre thread (there it only asks; the destructor joins, so it must
  // not run on the libre thread either). Idempotent.
  void stop();

  bool running() const { return running_.load(std::memory_order_acquire); }
  bool on_libre_thread() const { return std::this_thread::get_id() == thread_id_.load(); }
  std::size_t pending() const;

 private:
  enum class State : std::uint8_t { stopped, running, stopping };
  static void on_wake(int flags, void* arg);
  void run(std::promise<std::string>* started);
  void drain();
  void run_batch(std::deque<std::function<void()>>& batch);
  // Under mu_: true when the caller must wake the loop (wake()) once it has released mu_.
  bool claim_wake_locked();
  void wake() const;

  Options options_;
  mutable std::mutex mu_;
  std::deque<std::function<void()>> queue_;  // under mu_
  // The wake eventfd: made by the first start(), closed by the destructor (after the join),
  // so a poster writing after it released mu_ never writes to a closed descriptor; watched
  // by re_main only while it runs.
  int wake_fd_ = -1;
  State state_ = State::stopped;  // under mu_
  bool wake_pending_ = false;     // under mu_: a wake is written or about to be
  // libre's loop mutex (re_set_mutex): held by re_main except in epoll_wait, or by a thread
  // in try_run_here. here_ok_ (under it): re_main is running and serving.
  pthread_mutex_t re_mu_ = PTHREAD_MUTEX_INITIALIZER;
  bool here_ok_ = false;
  std::atomic<bool> running_{false};
  std::atomic<std::thread::id> thread_id_{};
  std::thread thread_;
};

inline bool post_to_libre(LibreLoop& loop, std::function<void()> fn) { return loop.post(std::move(fn)); }

// From the libre thread back to Asio (a strand or any executor), behind the firewall.
// `name` must be a string literal (post_guarded).
template <class Executor, class F>
void post_to_asio(const Executor& ex, const char* name, F&& f) {
  post_guarded(ex, name, std::forward<F>(f));
}

}  // namespace parley::adapters

// The libre<->Asio bridge (adapters/common/libre_bridge.hpp) with the real libre: a
// thread running re_main, functions crossing both ways, a clean stop (ASan/LSan in the
// Debug build would report what libre or the bridge left behind).
#include "adapters/common/libre_bridge.hpp"

#include <doctest/doctest.h>
#include <re.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

using namespace parley;
using namespace std::chrono_literals;
namespace asio = boost::asio;

TEST_CASE("10k functions each way between an Asio thread and the libre thread, then a clean stop") {
  constexpr int kN = 10'000;
  asio::io_context io;
  auto strand = asio::make_strand(io);
  auto guard = asio::make_work_guard(io);
  std::thread asio_thread([&] { io.run(); });

  adapters::LibreLoop loop;
  REQUIRE(loop.start().empty());
  CHECK(loop.running());

  std::atomic<int> on_libre{0};
  std::atomic<int> wrong_thread{0};
  int back_on_asio = 0;  // touched on the strand only
  std::atomic<int> back_done{0};
  std::atomic<int> refused{0};

  // Posted from the Asio thread (the strand), each one posts back.
  asio::post(strand, [&] {
    for (int i = 0; i < kN; ++i) {
      bool ok = adapters::post_to_libre(loop, [&] {
        if (!loop.on_libre_thread()) ++wrong_thread;
        // A libre call that is only legal on its thread: a timer armed and cancelled.
        tmr t;
        tmr_init(&t);
        tmr_start(
            &t, 1000, [](void*) {}, nullptr);
        tmr_cancel(&t);
        ++on_libre;
        adapters::post_to_asio(strand, "test: back", [&] {
          ++back_on_asio;
          back_done.store(back_on_asio);
        });
      });
      if (!ok) ++refused;
    }
  });
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (back_done.load() < kN && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
  CHECK(refused.load() == 0);
  CHECK(on_libre.load() == kN);
  CHECK(back_done.load() == kN);
  CHECK(wrong_thread.load() == 0);

  loop.stop();
  CHECK_FALSE(loop.running());
  CHECK_FALSE(loop.post([] {}));  // after stop: refused, not run
  guard.reset();
  asio_thread.join();
}

TEST_CASE("stop runs what was posted before it, the queue is bounded, exceptions are contained") {
  adapters::LibreLoop::Options o;
  o.max_queue = 100;
  adapters::LibreLoop loop(o);
  REQUIRE(loop.start().empty());

  // Hold the libre thread so the queue fills.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> holding{false};
  REQUIRE(loop.post([&] {
    holding = true;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
  }));
  while (!holding) std::this_thread::sleep_for(1ms);

  std::atomic<int> ran{0};
  int accepted = 0;
  REQUIRE(loop.post([] { throw std::runtime_error("boom"); }));  // logged and dropped
  ++accepted;
  for (int i = 0; i < 200; ++i)
    if (loop.post([&] { ++ran; })) ++accepted;
  CHECK(accepted == 100);
  CHECK(loop.pending() == 100);

  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  loop.stop();  // the 99 accepted counters run before the loop ends
  CHECK(ran.load() == 99);
  CHECK(loop.pending() == 0);
}

TEST_CASE("one libre loop per process, and it can start again after a stop") {
  adapters::LibreLoop a;
  REQUIRE(a.start().empty());
  adapters::LibreLoop b;
  CHECK_FALSE(b.start().empty());
  CHECK_FALSE(a.start().empty());
  a.stop();
  a.stop();  // idempotent
  REQUIRE(b.start().empty());
  std::atomic<bool> ran{false};
  CHECK(b.post([&] { ran = true; }));
  b.stop();
  CHECK(ran.load());
}

TEST_CASE(
    "posts from several threads at once all run: no wake is lost (the wake is written after the lock)") {
  adapters::LibreLoop loop;
  REQUIRE(loop.start().empty());
  constexpr int kThreads = 4, kEach = 5000;
  std::atomic<int> ran{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t)
    posters.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        while (!loop.post([&] { ran.fetch_add(1); })) std::this_thread::yield();  // queue full: retry
      }
    });
  for (auto& p : posters) p.join();
  // Every function runs without a stop to flush them: each post's wake reached the loop.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ran.load() < kThreads * kEach && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(ran.load() == kThreads * kEach);
  loop.stop();
}

namespace {

// try_run_here opens once the loop's first drain ran inside re_main: retried, bounded.
bool run_here_eventually(adapters::LibreLoop& loop, std::function<void()>& fn) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    if (loop.try_run_here(fn)) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

}  // namespace

TEST_CASE("try_run_here: runs on the caller while the libre thread sleeps, after what was posted before") {
  adapters::LibreLoop loop;
  REQUIRE(loop.start().empty());
  std::vector<int> order;  // touched under the loop's lock only
  std::thread::id ran_on;
  std::function<void()> fn = [&] {
    order.push_back(2);
    ran_on = std::this_thread::get_id();
  };
  // Hold the libre thread in a posted function: try_run_here must refuse, not wait.
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  REQUIRE(loop.post([&] {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  }));
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 5s, [&] { return entered; }));
  }
  CHECK_FALSE(loop.try_run_here(fn));
  CHECK(static_cast<bool>(fn));  // untouched: the caller posts it instead
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  REQUIRE(run_here_eventually(loop, fn));  // the libre thread went back to sleep
  CHECK_FALSE(static_cast<bool>(fn));      // run and destroyed
  CHECK(ran_on == std::this_thread::get_id());
  CHECK(order == std::vector<int>{2});

  // Something posted but not yet run when try_run_here gets the loop runs first. The post
  // wakes the loop, so the race is real: either the libre thread ran it already (then it
  // is first anyway) or try_run_here does; either way 1 comes before 2.
  order.clear();
  std::function<void()> second = [&] { order.push_back(2); };
  REQUIRE(loop.post([&] { order.push_back(1); }));
  REQUIRE(run_here_eventually(loop, second));
  CHECK(order == std::vector<int>{1, 2});

  loop.stop();
  std::function<void()> late = [] {};
  CHECK_FALSE(loop.try_run_here(late));  // stopped: refused
  CHECK(static_cast<bool>(late));
}

TEST_CASE("try_run_here: a timer it starts that is libre's earliest wakes the sleeping loop") {
  adapters::LibreLoop loop;
  REQUIRE(loop.start().empty());
  // The loop has no timer at all: it sleeps in epoll_wait without a timeout, so a timer
  // started from another thread fires only if that thread wakes it.
  struct tmr t;
  tmr_init(&t);
  std::atomic<bool> fired{false};
  std::function<void()> fn = [&] {
    tmr_start(
        &t, 20, [](void* arg) { static_cast<std::atomic<bool>*>(arg)->store(true); }, &fired);
  };
  REQUIRE(run_here_eventually(loop, fn));
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!fired.load() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  CHECK(fired.load());
  std::function<void()> cancel = [&] { tmr_cancel(&t); };
  if (!loop.try_run_here(cancel)) REQUIRE(loop.post(std::move(cancel)));
  loop.stop();
}

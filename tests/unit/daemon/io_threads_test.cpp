// daemon/io_threads and adapters/common/post_guarded: an exception in a handler costs one
// event, never an io thread; io threads that stop on their own are an unexpected exit.
#include "daemon/io_threads.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters/common/post_guarded.hpp"
#include "protocols/common/lane.hpp"

using namespace parley;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
bool wait_until(const std::atomic<int>& v, int want) {
  for (int i = 0; i < 500 && v.load() < want; ++i) std::this_thread::sleep_for(10ms);
  return v.load() >= want;
}
}  // namespace

TEST_CASE("io threads survive exceptions that escape handlers and keep serving") {
  asio::io_context io(2);
  auto work = asio::make_work_guard(io);
  auto strand = asio::make_strand(io);
  daemon::IoThreads pool;
  pool.run(io, 2);
  std::atomic<int> done{0};
  // More throwing handlers than threads: before, each took its thread with it.
  for (int i = 0; i < 5; ++i) asio::post(strand, [] { throw std::runtime_error("handler bug"); });
  for (int i = 0; i < 10; ++i) asio::post(strand, [&] { ++done; });
  CHECK(wait_until(done, 10));
  CHECK(pool.escaped_exceptions() == 5);
  CHECK_FALSE(pool.unexpected_exit());
  pool.request_shutdown();
  work.reset();
  io.stop();
  CHECK(pool.wait_finished(5s));
  pool.join();
  CHECK_FALSE(pool.unexpected_exit());
}

TEST_CASE("post_guarded drops a throwing task without unwinding the io thread") {
  asio::io_context io(1);
  auto work = asio::make_work_guard(io);
  auto strand = asio::make_strand(io);
  daemon::IoThreads pool;
  pool.run(io, 1);
  std::atomic<int> done{0};
  adapters::post_guarded(strand, "test: throws", [] { throw std::logic_error("bad state"); });
  adapters::post_guarded(strand, "test: counts", [&] { ++done; });
  CHECK(wait_until(done, 1));
  CHECK(pool.escaped_exceptions() == 0);
  pool.request_shutdown();
  work.reset();
  io.stop();
  CHECK(pool.wait_finished(5s));
  pool.join();
}

TEST_CASE("io threads that return without a shutdown request are an unexpected exit") {
  asio::io_context io(1);
  daemon::IoThreads pool;
  pool.run(io, 2);  // no work: run() returns at once
  pool.wait_shutdown_request();
  CHECK(pool.unexpected_exit());
  pool.join();
}

TEST_CASE("the core's own io_context keeps posts in the order they were made, from any thread") {
  // A direct lane posts to the context itself (protocols/common/lane.hpp). What a handler on
  // the core thread posts must not wait for the handler to return while another thread's
  // later post goes ahead (Asio's thread-private queue with concurrency hint 1).
  boost::asio::io_context io(parley::daemon::kCoreIoConcurrencyHint);
  const auto lane = parley::protocols::Lane::direct(io);
  std::vector<std::string> order;
  boost::asio::post(lane, [&] {
    boost::asio::post(lane, [&] { order.push_back("posted here first"); });
    std::thread([&] { boost::asio::post(lane, [&] { order.push_back("posted elsewhere next"); }); }).join();
  });
  io.run();
  CHECK(order == std::vector<std::string>{"posted here first", "posted elsewhere next"});
}

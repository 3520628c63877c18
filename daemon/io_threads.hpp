#pragma once
// The io threads that run the io_context, and how the main thread waits for them.
//
// An exception that escapes a handler propagates out of io_context::run(); the thread logs
// it and calls run() again (Asio allows that without restart(), and a strand whose handler
// threw goes on with its next handler), so one faulty handler costs one event, not a
// thread: before, each such exception ended a thread for good, and when all had ended
// parleyd exited 0 and a supervisor saw a clean stop. Handlers posted by the adapters are
// guarded closer to their cause (adapters/common/post_guarded.hpp, Connection::on_exception);
// this is the last line.
// io threads returning while nobody asked for a shutdown is a state the daemon cannot
// recover from: unexpected_exit() says so and the daemon exits non-zero.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace parley::daemon {

// The concurrency hint of the core strand's own io_context (server.threads >= 2), which one
// thread runs and whose core strand is a direct lane (protocols/common/lane.hpp). Not 1:
// with 1 Asio keeps what a handler posts in a queue private to its thread until the handler
// returns, so a post made from another thread meanwhile overtook it. A strand queued both
// in the order they were made, and so does the context with full locking: e.g. at SIGTERM
// the gateway's QUITs (posted by the XMPP plugin's stop) run before the c2s streams'
// session ends (posted from their strands), as they did on the strand.
inline constexpr int kCoreIoConcurrencyHint = BOOST_ASIO_CONCURRENCY_HINT_SAFE;

class IoThreads {
 public:
  void run(boost::asio::io_context& io, unsigned n);
  // True once every io thread has returned, within `timeout`.
  bool wait_finished(std::chrono::steady_clock::duration timeout);
  void join();
  void detach();
  // Blocks until request_shutdown() was called or every io thread returned.
  void wait_shutdown_request();
  void request_shutdown();
  // The io threads returned without a shutdown request.
  bool unexpected_exit();
  // Exceptions that escaped a handler so far (each logged, each survived).
  std::size_t escaped_exceptions();

 private:
  void thread_main(boost::asio::io_context& io);
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t finished_ = 0;
  std::size_t escaped_ = 0;
  bool shutdown_ = false;
};

}  // namespace parley::daemon

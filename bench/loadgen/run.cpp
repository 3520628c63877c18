#include "run.hpp"

namespace loadgen {

Run::Run() { tls.set_verify_mode(asio::ssl::verify_none); }

void Run::fail(const std::string& what) {
  if (!error_.empty() || stopping) return;
  error_ = what;
  io.stop();
}

void Run::deadline(double seconds, std::string phase) {
  phase_ = std::move(phase);
  hard_.expires_after(std::chrono::milliseconds(static_cast<long long>(seconds * 1000)));
  hard_.async_wait([this, seconds](boost::system::error_code ec) {
    if (!ec) fail("hard deadline of " + std::to_string(static_cast<long long>(seconds)) + " s passed during " + phase_);
  });
}

int Run::run(std::function<awaitable<void>()> main) {
  raise_fd_limit();
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        try {
          co_await main();
        } catch (const std::exception& e) {
          fail(phase_ + ": " + e.what());
        }
        done = true;
        hard_.cancel();
        io.stop();
      },
      asio::detached);
  io.run();
  if (failed()) {
    std::fprintf(stderr, "parley_loadgen: FAILED: %s\n", error_.c_str());
    return 2;
  }
  if (!done) {
    std::fprintf(stderr, "parley_loadgen: FAILED: event loop ended early during %s\n", phase_.c_str());
    return 2;
  }
  return 0;
}

void spawn_guarded(Run& run, std::string who, std::function<awaitable<void>()> body) {
  asio::co_spawn(
      run.io,
      [&run, who = std::move(who), body = std::move(body)]() -> awaitable<void> {
        try {
          co_await body();
        } catch (const std::exception& e) {
          if (!run.stopping) run.fail(who + ": " + e.what());
        }
      },
      asio::detached);
}

}  // namespace loadgen

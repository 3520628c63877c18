#include "daemon/io_threads.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace parley::daemon {

void IoThreads::run(boost::asio::io_context& io, unsigned n) {
  for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this, &io] { thread_main(io); });
}

void IoThreads::thread_main(boost::asio::io_context& io) {
  for (;;) {
    const char* what = nullptr;
    std::string text;
    try {
      io.run();
      break;  // stopped, or out of work: the shutdown's doing
    } catch (const std::exception& e) {
      text = e.what();
      what = text.c_str();
    } catch (...) {
      what = "an exception of unknown type";
    }
    {
      std::lock_guard lock(mutex_);
      ++escaped_;
    }
    spdlog::critical("io thread: exception escaped a handler: {}; the event is dropped, still serving", what);
  }
  std::lock_guard lock(mutex_);
  ++finished_;
  cv_.notify_all();
}

bool IoThreads::wait_finished(std::chrono::steady_clock::duration timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return finished_ == threads_.size(); });
}

void IoThreads::join() {
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void IoThreads::detach() {
  for (auto& t : threads_) t.detach();
  threads_.clear();
}

void IoThreads::wait_shutdown_request() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return shutdown_ || finished_ == threads_.size(); });
}

void IoThreads::request_shutdown() {
  std::lock_guard lock(mutex_);
  shutdown_ = true;
  cv_.notify_all();
}

bool IoThreads::unexpected_exit() {
  std::lock_guard lock(mutex_);
  return !shutdown_ && finished_ == threads_.size();
}

std::size_t IoThreads::escaped_exceptions() {
  std::lock_guard lock(mutex_);
  return escaped_;
}

}  // namespace parley::daemon

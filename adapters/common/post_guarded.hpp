#pragma once
// The exception firewall for work handed to another strand (STYLE.md, after InspIRCd's
// FOREACH_MOD): a task that throws is logged with its name and dropped, and the strand and
// its io thread go on serving everyone else. Without it the exception unwinds io.run() and
// takes the thread with it.
//
//   post_guarded(rt.core_strand, "irc: detach", [=] { server->detach(*client, reason); });
#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <exception>
#include <utility>

namespace parley::adapters {

// Runs f() here, inside the firewall (for a task already on its strand, e.g. after a
// dispatch). `name` must outlive the call (a string literal).
template <class F>
void run_guarded(const char* name, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("exception in {}: {}; dropped, still serving", name, e.what());
  } catch (...) {
    spdlog::error("unknown exception in {}; dropped, still serving", name);
  }
}

// `name` must outlive the task (a string literal).
template <class Executor, class F>
void post_guarded(const Executor& ex, const char* name, F&& f) {
  boost::asio::post(ex, [name, f = std::forward<F>(f)]() mutable { run_guarded(name, f); });
}

// Runs f on `strand` after what its io_context already has ready (the reads of the same
// reactor round): posted through that io_context, then dispatched onto the strand. Posted
// straight onto a strand it would run right after the task that posted it, ahead of those
// reads; behind them, one wake-up's output goes out in one write (IrcServer::flush_soon,
// Component::send, FlushBatch). `name` as for post_guarded.
template <class Strand, class F>
void post_after_ready(const Strand& strand, const char* name, F&& f) {
  boost::asio::post(strand.get_inner_executor(), [strand, name, f = std::forward<F>(f)]() mutable {
    boost::asio::dispatch(strand, [name, f = std::move(f)]() mutable { run_guarded(name, f); });
  });
}

}  // namespace parley::adapters

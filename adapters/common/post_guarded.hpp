#pragma once
// The exception firewall for work handed to another strand (STYLE.md, after InspIRCd's
// FOREACH_MOD): a task that throws is logged with its name and dropped, and the strand and
// its io thread go on serving everyone else. Without it the exception unwinds io.run() and
// takes the thread with it.
//
//   post_guarded(rt.core_strand, "irc: detach", [=] { server->detach(*client, reason); });
#include <spdlog/spdlog.h>

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

}  // namespace parley::adapters

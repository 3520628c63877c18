#pragma once
// Lane: the executor every connection, timer and the core run on. Usually a strand
// (asio::strand over an io_context): handlers of one lane never run concurrently, whichever
// of the io_context's threads runs them. The one exception is a *direct* lane
// (Lane::direct): the lane of an io_context that exactly one thread runs (the daemon's core
// strand with server.threads >= 2, docs/ARCHITECTURE.md). Its handlers are serialised by
// that thread already, so they skip the strand: an I/O completion is invoked straight from
// the reactor, where a strand locked its mutex twice, allocated an operation and took work
// counts for every completion (~600 instructions; every gateway puppet reads its own copy
// of each channel line, bench/README.md, issue 11).
//
// What stays the same for a direct lane: running_in_this_thread() is true exactly on the
// thread running the io_context (the core's thread check, PARLEY_ASSERT_ON_CORE); post()
// queues behind what the io_context has ready; dispatch() runs inline on that thread and
// posts from any other. What differs: a strand ran a posted task ahead of I/O completions
// that became ready before it ran (they queued behind it in the strand); a direct lane runs
// everything in the io_context's order.
//
// A Lane converts implicitly from an asio::strand, so `Lane(asio::make_strand(io))` and
// every place that hands a strand keep working. It is a strand and two flags: 8 bytes more
// than the strand in every socket and timer.
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <type_traits>
#include <utility>

namespace parley::protocols {

class Lane {
 public:
  using inner_executor_type = boost::asio::io_context::executor_type;
  using strand_type = boost::asio::strand<inner_executor_type>;

  // A strand lane (implicit: wherever a strand was handed before).
  Lane(const strand_type& strand) noexcept : strand_(strand) {}  // NOLINT(google-explicit-constructor)
  // A direct lane on `io`, which must be run by exactly one thread at a time (the caller's
  // promise: nothing here can check it).
  static Lane direct(boost::asio::io_context& io) {
    Lane l(boost::asio::make_strand(io));
    l.direct_ = true;
    return l;
  }

  bool is_direct() const noexcept { return direct_; }
  inner_executor_type get_inner_executor() const noexcept { return strand_.get_inner_executor(); }
  // Inside a handler of this lane (a direct lane: on the thread running its io_context).
  bool running_in_this_thread() const noexcept {
    return direct_ ? strand_.get_inner_executor().running_in_this_thread() : strand_.running_in_this_thread();
  }

  // ---- the standard executor interface (Boost.Asio 1.74 execution::executor) ----
  boost::asio::io_context& query(boost::asio::execution::context_t) const noexcept {
    return strand_.get_inner_executor().context();
  }
  constexpr boost::asio::execution::blocking_t query(boost::asio::execution::blocking_t) const noexcept {
    return never_ ? boost::asio::execution::blocking_t(boost::asio::execution::blocking.never)
                  : boost::asio::execution::blocking_t(boost::asio::execution::blocking.possibly);
  }
  constexpr boost::asio::execution::relationship_t query(
      boost::asio::execution::relationship_t) const noexcept {
    return boost::asio::execution::relationship.fork;
  }
  static constexpr boost::asio::execution::mapping_t query(boost::asio::execution::mapping_t) noexcept {
    return boost::asio::execution::mapping.thread;
  }
  Lane require(boost::asio::execution::blocking_t::never_t) const noexcept {
    Lane l(*this);
    l.never_ = true;
    return l;
  }
  Lane require(boost::asio::execution::blocking_t::possibly_t) const noexcept {
    Lane l(*this);
    l.never_ = false;
    return l;
  }

  template <class Function>
  void execute(Function&& f) const {
    namespace ex = boost::asio::execution;
    if (!direct_) {
      if (never_)
        ex::execute(boost::asio::require(strand_, ex::blocking.never), std::forward<Function>(f));
      else
        ex::execute(strand_, std::forward<Function>(f));
      return;
    }
    const auto inner = strand_.get_inner_executor();
    if (!never_ && inner.running_in_this_thread()) {
      std::decay_t<Function> tmp(std::forward<Function>(f));
      std::move(tmp)();
      return;
    }
    ex::execute(boost::asio::require(inner, ex::blocking.never), std::forward<Function>(f));
  }

  friend bool operator==(const Lane& a, const Lane& b) noexcept {
    return a.direct_ == b.direct_ && a.never_ == b.never_ && a.strand_ == b.strand_;
  }
  friend bool operator!=(const Lane& a, const Lane& b) noexcept { return !(a == b); }

 private:
  strand_type strand_;
  bool direct_ = false;
  bool never_ = false;  // blocking.never required: execute() always queues
};

}  // namespace parley::protocols

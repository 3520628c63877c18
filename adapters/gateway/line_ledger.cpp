#include "adapters/gateway/line_ledger.hpp"

#include <algorithm>

#include "adapters/gateway/marker_ping.hpp"

namespace parley::adapters::gateway {

void LineLedger::written(std::string line, Clock::time_point now) {
  if (entries_.size() >= max_lines_) entries_.pop_front();
  entries_.push_back({std::move(line), now, 0});
}

bool LineLedger::marker_starved(Clock::time_point now) const {
  std::size_t unmarked = 0;
  auto oldest = now;
  for (auto e = entries_.rbegin(); e != entries_.rend() && e->marker == 0; ++e) {
    ++unmarked;
    oldest = e->at;
  }
  return unmarked >= kMarkerLines || (unmarked != 0 && oldest + kMarkerAge <= now);
}

std::string LineLedger::take_marker() {
  ++marker_;
  markers_sent_ = true;
  for (auto e = entries_.rbegin(); e != entries_.rend() && e->marker == 0; ++e) e->marker = marker_;
  return marker_line(marker_);
}

void LineLedger::on_pong(std::string_view token) {
  if (const auto marker = marker_of(token)) {
    markers_answered_ = true;
    // Markers are given in increasing order and the server answers them in that order.
    while (!entries_.empty() && entries_.front().marker != 0 && entries_.front().marker <= *marker)
      entries_.pop_front();
    return;
  }
  if (markers_sent_ && token != kKeepaliveToken) tokenless_pong_ = true;  // RFC 2812 3.7.2 says to return it
}

namespace {
// The lost or refused lines were said first: the newest queued go.
void bound(std::deque<std::string>& queue, std::size_t max_queue, std::size_t& dropped) {
  while (queue.size() > max_queue) {
    queue.pop_back();
    ++dropped;
  }
}
}  // namespace

std::size_t LineLedger::requeue_lost(std::deque<std::string>& queue, std::size_t max_queue, bool& tokenless,
                                     std::size_t& dropped) {
  tokenless = !markers_answered_ && tokenless_pong_;
  std::size_t n = tokenless ? 0 : entries_.size();
  if (left_) {  // out of the channel: the refused lines go too, confirmed by a PONG or not
    n = requeue_left(std::max(n, std::min(refused_since_left_, left_lines_.size())), queue, max_queue,
                     dropped);
  } else {
    if (!tokenless)
      for (auto e = entries_.rbegin(); e != entries_.rend(); ++e) queue.push_front(std::move(e->line));
    bound(queue, max_queue, dropped);
  }
  entries_.clear();
  markers_sent_ = false;
  markers_answered_ = false;
  tokenless_pong_ = false;
  return n;
}

void LineLedger::left_channel() {
  if (left_) return;  // nothing was written since
  left_ = true;
  refused_since_left_ = 0;
  left_lines_.clear();
  for (const auto& e : entries_) left_lines_.push_back(e.line);
}

bool LineLedger::refused() {
  if (!left_) return false;
  ++refused_since_left_;
  return true;
}

LineLedger::Requeued LineLedger::requeue_refused(std::deque<std::string>& queue, std::size_t max_queue,
                                                 std::size_t& dropped) {
  if (!left_) return {};
  const std::size_t refused = refused_since_left_;
  const std::size_t n = std::min(refused, left_lines_.size());
  // The ledger's tail is the refused lines not confirmed yet: they are written again, and a
  // later loss must not send them a third time.
  for (std::size_t i = 0; i < n && !entries_.empty(); ++i) entries_.pop_back();
  const std::size_t again = requeue_left(n, queue, max_queue, dropped);
  return {.again = again, .lost = refused - again};
}

std::size_t LineLedger::requeue_left(std::size_t n, std::deque<std::string>& queue, std::size_t max_queue,
                                     std::size_t& dropped) {
  for (std::size_t i = 0; i < n; ++i) {
    queue.push_front(std::move(left_lines_.back()));
    left_lines_.pop_back();
  }
  bound(queue, max_queue, dropped);
  left_ = false;
  left_lines_.clear();
  refused_since_left_ = 0;
  return std::min(n, max_queue);  // the bound takes the newest first: these are the oldest
}

}  // namespace parley::adapters::gateway

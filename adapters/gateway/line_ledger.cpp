#include "adapters/gateway/line_ledger.hpp"

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

std::size_t LineLedger::requeue_lost(std::deque<std::string>& queue, std::size_t max_queue, bool& tokenless,
                                     std::size_t& dropped) {
  tokenless = !markers_answered_ && tokenless_pong_;
  const std::size_t n = tokenless ? 0 : entries_.size();
  if (!tokenless)
    for (auto e = entries_.rbegin(); e != entries_.rend(); ++e) queue.push_front(std::move(e->line));
  while (queue.size() > max_queue) {  // the lost lines were said first: the newest queued go
    queue.pop_back();
    ++dropped;
  }
  entries_.clear();
  markers_sent_ = false;
  markers_answered_ = false;
  tokenless_pong_ = false;
  return n;
}

}  // namespace parley::adapters::gateway

#include "adapters/gateway/line_ids.hpp"

#include <algorithm>

namespace parley::adapters::gateway {

void RecentLines::mark(Cursor& c, std::int64_t key) {
  if (key < c.base) return;
  if (key - c.base >= 64) {
    // Slide the window: keys it leaves behind are forgotten (never heard, or too old).
    const std::int64_t shift = key - c.base - 63;
    c.mask = shift >= 64 ? 0 : c.mask >> shift;
    c.base += shift;
  }
  c.mask |= std::uint64_t{1} << (key - c.base);
  while (c.mask & 1) {  // matched in order: the window moves on
    c.mask >>= 1;
    ++c.base;
  }
}

std::optional<std::int64_t> RecentLines::match(Cursor& c, std::string_view nick, std::string_view body) {
  if (lines_.empty() || lines_.back().key < c.base) return std::nullopt;
  // Keys grow strictly (add() starts over otherwise): the first unmatched candidate is found
  // by binary search.
  auto it = std::partition_point(lines_.begin(), lines_.end(), [&](const Line& l) { return l.key < c.base; });
  for (; it != lines_.end(); ++it) {
    const Line& l = *it;
    const std::int64_t bit = l.key - c.base;
    if (bit < 64 && ((c.mask >> bit) & 1)) continue;
    if (l.body != body || l.nick != nick) continue;
    mark(c, l.key);
    return l.key;
  }
  return std::nullopt;
}

void RecentLines::add(Cursor& c, std::int64_t key, std::string_view nick, std::string_view body) {
  if (!lines_.empty() && key <= lines_.back().key) lines_.clear();  // keys re-read: start over
  if (lines_.size() >= kRecent) lines_.pop_front();
  lines_.push_back(Line{key, std::string(nick), std::string(body)});
  mark(c, key);
}

}  // namespace parley::adapters::gateway

#pragma once
// Styled byte ranges -> runs: the sorted, disjoint ranges of one effective style each.
//
// Rich text arrives as spans that may overlap and come in any order (the core's StyleSpan,
// the IRC codec's Span: same fields). A renderer that asks every span about every byte or
// every segment is quadratic in the number of spans (issue 9: 28k spans in one message held
// the core strand for seconds), so each renderer walks these runs once instead: O(s log s)
// for s spans plus O(n) for the text.
//
// Where spans overlap, flags combine and the colour of the later span (in vector order)
// wins. Only the first `max_spans` spans count: the text past them stays plain, never
// dropped. Offsets are clamped to the text and moved forward onto UTF-8 character
// boundaries, so that no run splits a character.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <string_view>
#include <vector>

namespace parley::protocols {

struct StyleRun {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::uint8_t flags = 0;
  std::optional<std::uint32_t> fg;
  std::optional<std::uint32_t> bg;
  bool plain() const { return flags == 0 && !fg && !bg; }
  friend bool operator==(const StyleRun&, const StyleRun&) = default;
};

// The first offset at or after i that starts a UTF-8 character (or the end of s).
inline std::size_t utf8_boundary(std::string_view s, std::size_t i) {
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xc0) == 0x80) ++i;
  return std::min(i, s.size());
}

template <class SpanT>
std::vector<StyleRun> style_runs(std::string_view text, const std::vector<SpanT>& spans,
                                 std::size_t max_spans) {
  struct Edge {
    std::uint32_t pos;
    std::uint32_t index;
    bool open;
  };
  const std::size_t n = std::min(spans.size(), max_spans);
  std::vector<Edge> edges;
  edges.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& s = spans[i];
    if (s.flags == 0 && !s.fg && !s.bg) continue;
    const auto b =
        static_cast<std::uint32_t>(utf8_boundary(text, std::min<std::size_t>(s.begin, text.size())));
    const auto e = static_cast<std::uint32_t>(utf8_boundary(text, std::min<std::size_t>(s.end, text.size())));
    if (b >= e) continue;
    edges.push_back({b, static_cast<std::uint32_t>(i), true});
    edges.push_back({e, static_cast<std::uint32_t>(i), false});
  }
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.pos < b.pos; });

  std::vector<StyleRun> runs;
  std::vector<bool> active(n, false);
  std::size_t flag_count[8] = {};
  // The active span with a colour and the highest index wins; closed ones are popped lazily.
  std::priority_queue<std::uint32_t> fg_heap, bg_heap;
  auto top = [&](std::priority_queue<std::uint32_t>& heap) -> const SpanT* {
    while (!heap.empty() && !active[heap.top()]) heap.pop();
    return heap.empty() ? nullptr : &spans[heap.top()];
  };
  for (std::size_t k = 0; k < edges.size();) {
    const std::uint32_t pos = edges[k].pos;
    for (; k < edges.size() && edges[k].pos == pos; ++k) {
      const Edge& ed = edges[k];
      const auto& s = spans[ed.index];
      active[ed.index] = ed.open;
      for (int bit = 0; bit < 8; ++bit)
        if (s.flags & (1u << bit)) ed.open ? ++flag_count[bit] : --flag_count[bit];
      if (ed.open && s.fg) fg_heap.push(ed.index);
      if (ed.open && s.bg) bg_heap.push(ed.index);
    }
    if (k == edges.size()) break;
    StyleRun r;
    r.begin = pos;
    r.end = edges[k].pos;
    for (int bit = 0; bit < 8; ++bit)
      if (flag_count[bit] > 0) r.flags |= static_cast<std::uint8_t>(1u << bit);
    if (const SpanT* s = top(fg_heap)) r.fg = s->fg;
    if (const SpanT* s = top(bg_heap)) r.bg = s->bg;
    if (r.plain() || r.begin >= r.end) continue;
    StyleRun* last = runs.empty() ? nullptr : &runs.back();
    if (last && last->end == r.begin && last->flags == r.flags && last->fg == r.fg && last->bg == r.bg)
      last->end = r.end;
    else
      runs.push_back(r);
  }
  return runs;
}

}  // namespace parley::protocols

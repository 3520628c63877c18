// mIRC formatting <-> spans at scale (issue 9): the renderers and the parser are linear in
// the text and the spans, bound the spans, never lose text, and split long and multi-line
// texts into IRC lines that re-open their style.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "protocols/common/style_runs.hpp"
#include "protocols/irc/text.hpp"

using namespace parley::protocols::irc;
using parley::protocols::style_runs;
using parley::protocols::StyleRun;

namespace {

struct ByteStyle {
  std::uint8_t flags = 0;
  std::optional<std::uint32_t> fg, bg;
  bool operator==(const ByteStyle&) const = default;
};

// The reference: the style of every byte, asking every span (the quadratic definition).
std::vector<ByteStyle> per_byte(std::size_t n, const std::vector<Span>& spans) {
  std::vector<ByteStyle> out(n);
  for (const auto& s : spans)
    for (std::size_t i = s.begin; i < s.end && i < n; ++i) {
      out[i].flags |= s.flags;
      if (s.fg) out[i].fg = s.fg;
      if (s.bg) out[i].bg = s.bg;
    }
  return out;
}

std::vector<ByteStyle> per_byte_runs(std::size_t n, const std::vector<StyleRun>& runs) {
  std::vector<ByteStyle> out(n);
  for (const auto& r : runs)
    for (std::size_t i = r.begin; i < r.end; ++i) out[i] = ByteStyle{r.flags, r.fg, r.bg};
  return out;
}

std::string alternating_bold(std::size_t words) {
  std::string in;
  for (std::size_t i = 0; i < words; ++i) {
    if (i % 2) in += '\x02';
    in += "word";
    if (i % 2) in += '\x02';
    in += ' ';
  }
  return in;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("style runs: overlapping spans in any order match the per-byte definition") {
  std::mt19937 rng(9);
  const std::uint32_t palette[] = {0xFF0000, 0x00FC00, 0x0000FC};
  for (int round = 0; round < 200; ++round) {
    const std::size_t n = 1 + rng() % 60;
    std::string text(n, 'x');
    std::vector<Span> spans;
    for (int k = 0, count = static_cast<int>(rng() % 8); k < count; ++k) {
      Span s;
      s.begin = rng() % (n + 3);
      s.end = rng() % (n + 3);
      s.flags = static_cast<std::uint8_t>(rng() % 32);
      if (rng() % 3 == 0) s.fg = palette[rng() % 3];
      if (rng() % 4 == 0) s.bg = palette[rng() % 3];
      spans.push_back(s);
    }
    auto runs = style_runs(text, spans, 1000);
    CHECK(per_byte_runs(n, runs) == per_byte(n, spans));
    for (std::size_t i = 1; i < runs.size(); ++i) CHECK(runs[i - 1].end <= runs[i].begin);
  }
}

TEST_CASE("style runs: offsets move onto UTF-8 boundaries, past max_spans the text is plain") {
  std::string text = "\xc3\xa9t\xc3\xa9";  // "été"
  auto runs = style_runs(text, std::vector<Span>{{1, 4, Span::bold, {}, {}}}, 10);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].begin == 2);
  CHECK(runs[0].end == 5);
  std::vector<Span> spans{{0, 1, Span::bold, {}, {}}, {2, 3, Span::italic, {}, {}}};
  runs = style_runs(std::string_view("abcd"), spans, 1);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].flags == Span::bold);
}

TEST_CASE("irc formatting: random spans survive render -> parse") {
  std::mt19937 rng(42);
  for (int round = 0; round < 300; ++round) {
    const std::size_t n = 1 + rng() % 40;
    std::string text;
    for (std::size_t i = 0; i < n; ++i) text += static_cast<char>("ab1,2 "[rng() % 6]);
    std::vector<Span> spans;
    for (int k = 0, count = static_cast<int>(rng() % 6); k < count; ++k) {
      Span s;
      s.begin = rng() % (n + 1);
      s.end = rng() % (n + 1);
      s.flags = static_cast<std::uint8_t>(rng() % 32);
      if (rng() % 3 == 0) s.fg = colour_rgb(static_cast<int>(rng() % 16));
      if (rng() % 4 == 0) s.bg = colour_rgb(static_cast<int>(rng() % 16));
      spans.push_back(s);
    }
    auto back = parse_formatting(render_formatting(text, spans));
    INFO("round ", round, " text '", text, "'");
    CHECK(back.text == text);
    // A background alone renders as colour 99 (default) + background.
    auto expected = per_byte(n, spans);
    auto got = per_byte(n, back.spans);
    CHECK(got == expected);
  }
}

TEST_CASE("irc formatting: a colour followed by a comma keeps the comma as text") {
  std::vector<Span> spans{{0, 1, 0, 0xFF0000, std::nullopt}};
  auto out = render_formatting(",5", spans);
  auto back = parse_formatting(out);
  CHECK(back.text == ",5");
  REQUIRE(back.spans.size() == 1);
  CHECK_FALSE(back.spans[0].bg);
}

TEST_CASE("irc formatting: 28k alternating spans parse and render in linear time, bounded") {
  // The message: ~250 KB, ~28k spans. A quadratic renderer takes minutes here.
  const std::string in = alternating_bold(56000);
  auto t0 = std::chrono::steady_clock::now();
  auto styled = parse_formatting(in);
  CHECK(styled.spans.size() == kMaxSpans);  // the rest is plain
  CHECK(styled.text.size() == 56000 * 5);   // every word kept
  std::vector<Span> many;
  for (std::uint32_t i = 0; i < 28000; ++i) many.push_back(Span{i * 10, i * 10 + 5, Span::bold, {}, {}});
  auto out = render_formatting(styled.text, many);
  auto lines = render_lines(styled.text, many, 400, 10);
  const double took = seconds_since(t0);
  CHECK(took < 5.0);
  // Only the first kMaxSpans spans render; the text is complete.
  auto back = parse_formatting(out);
  CHECK(back.text == styled.text);
  CHECK(back.spans.size() == kMaxSpans);
  CHECK(lines.lines.size() == 10);
  CHECK(lines.more > 600);
}

TEST_CASE("irc formatting: four times the spans take about four times as long, not sixteen") {
  // The fastest of a few runs for each size, so that a busy machine does not decide.
  auto time_for = [](std::uint32_t spans_n) {
    std::string text(spans_n * 10, 'x');
    std::vector<Span> spans;
    // Spans in reverse order, overlapping their neighbours: the worst order for a naive sweep.
    for (std::uint32_t i = spans_n; i-- > 0;) spans.push_back(Span{i * 10, i * 10 + 15, Span::bold, {}, {}});
    double best = 1e9;
    for (int k = 0; k < 3; ++k) {
      auto t0 = std::chrono::steady_clock::now();
      (void)style_runs(text, spans, spans.size());  // no bound: the sweep itself
      best = std::min(best, seconds_since(t0));
    }
    return best;
  };
  const double small = time_for(5000), big = time_for(20000);
  INFO("5k spans: ", small, " s, 20k spans: ", big, " s");
  CHECK(big < small * 10 + 0.02);
}

TEST_CASE("irc lines: blank lines skipped, long lines cut within the budget, style re-opened") {
  auto r = render_lines("one\r\n\n\ntwo\n", {}, 400, 10);
  REQUIRE(r.lines.size() == 2);
  CHECK(r.lines[0] == "one");
  CHECK(r.lines[1] == "two");
  CHECK(r.more == 0);

  // A bold run across a cut: both halves are bold, each within the budget with its codes.
  std::string text(100, 'b');
  r = render_lines(text, {Span{0, 100, Span::bold, {}, {}}}, 41, 10);
  REQUIRE(r.lines.size() == 3);
  std::string joined;
  for (const auto& l : r.lines) {
    CHECK(l.size() <= 41);
    CHECK(l.front() == '\x02');
    auto p = parse_formatting(l);
    REQUIRE(p.spans.size() == 1);
    CHECK(p.spans[0].flags == Span::bold);
    joined += p.text;
  }
  CHECK(joined == text);

  // UTF-8 characters are never split.
  std::string e;
  for (int i = 0; i < 50; ++i) e += "\xc3\xa9";
  r = render_lines(e, {}, 33, 10);
  for (const auto& l : r.lines) {
    CHECK(l.size() <= 33);
    CHECK(l.size() % 2 == 0);
  }

  // Lines past max_lines are counted, not kept.
  std::string many;
  for (int i = 0; i < 25; ++i) many += "line " + std::to_string(i) + "\n";
  r = render_lines(many, {}, 400, 10);
  CHECK(r.lines.size() == 10);
  CHECK(r.lines[9] == "line 9");
  CHECK(r.more == 15);
}

TEST_CASE("irc lines: a plain line that fits comes back whole, exactly at and just over the budget") {
  // The one-line fast path must agree with the general loop: what fits is one line as given
  // (control bytes, invalid UTF-8 and all); one byte more and it is cut; CR or LF and it is
  // split; no text, no line.
  std::mt19937 rng(11);
  for (int round = 0; round < 2000; ++round) {
    std::string text(1 + rng() % 60, '\0');
    for (auto& c : text) {
      c = static_cast<char>(rng() % 256);
      if (c == '\r' || c == '\n') c = 'x';
    }
    auto r = render_lines(text, {}, text.size(), 3);
    REQUIRE(r.lines.size() == 1);
    CHECK(r.lines[0] == text);
    CHECK(r.more == 0);
    r = render_lines(text, {}, text.size(), 0);
    CHECK(r.lines.empty());
    CHECK(r.more == 1);
  }
  auto r = render_lines(std::string(20, 'a'), {}, 19, 3);
  REQUIRE(r.lines.size() == 2);
  CHECK(r.lines[0] == std::string(19, 'a'));
  CHECK(r.lines[1] == "a");
  r = render_lines("a\rb", {}, 100, 3);
  REQUIRE(r.lines.size() == 1);
  CHECK(r.lines[0] == "a\rb");  // a lone CR is text to the loop too (normalise made it LF before)
  r = render_lines("a\nb", {}, 100, 3);
  CHECK(r.lines.size() == 2);
  CHECK(render_lines("", {}, 100, 3).lines.empty());
}

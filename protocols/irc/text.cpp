#include "protocols/irc/text.hpp"

#include <array>
#include <climits>

#include "protocols/common/style_runs.hpp"

namespace parley::protocols::irc {

using protocols::style_runs;
using protocols::StyleRun;

namespace {

constexpr std::array<std::uint32_t, 16> kColours = {
    0xFFFFFF, 0x000000, 0x00007F, 0x009300, 0xFF0000, 0x7F0000, 0x9C009C, 0xFC7F00,
    0xFFFF00, 0x00FC00, 0x009393, 0x00FFFF, 0x0000FC, 0xFF00FF, 0x7F7F7F, 0xD2D2D2};

// Extended colours 16..98 (https://modern.ircdocs.horse/formatting#colors-16-98).
constexpr std::array<std::uint32_t, 83> kExtended = {
    0x470000, 0x472100, 0x474700, 0x324700, 0x004700, 0x00472c, 0x004747, 0x002747, 0x000047, 0x2e0047,
    0x470047, 0x47002a, 0x740000, 0x743a00, 0x747400, 0x517400, 0x007400, 0x007449, 0x007474, 0x004074,
    0x000074, 0x4b0074, 0x740074, 0x740045, 0xb50000, 0xb56300, 0xb5b500, 0x7db500, 0x00b500, 0x00b571,
    0x00b5b5, 0x0063b5, 0x0000b5, 0x7500b5, 0xb500b5, 0xb5006b, 0xff0000, 0xff8c00, 0xffff00, 0xb2ff00,
    0x00ff00, 0x00ffa0, 0x00ffff, 0x008cff, 0x0000ff, 0xa500ff, 0xff00ff, 0xff0098, 0xff5959, 0xffb459,
    0xffff71, 0xcfff60, 0x6fff6f, 0x65ffc9, 0x6dffff, 0x59b4ff, 0x5959ff, 0xc459ff, 0xff66ff, 0xff59bc,
    0xff9c9c, 0xffd39c, 0xffff9c, 0xe2ff9c, 0x9cff9c, 0x9cffdb, 0x9cffff, 0x9cd3ff, 0x9c9cff, 0xdc9cff,
    0xff9cff, 0xff94d3, 0x000000, 0x131313, 0x282828, 0x363636, 0x4d4d4d, 0x656565, 0x818181, 0x9f9f9f,
    0xbcbcbc, 0xe2e2e2, 0xffffff};

struct Style {
  std::uint8_t flags = 0;
  std::optional<std::uint32_t> fg, bg;
  bool operator==(const Style&) const = default;
  bool plain() const { return flags == 0 && !fg && !bg; }
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int nearest_colour(std::uint32_t rgb) {
  int best = 0;
  long best_d = LONG_MAX;
  for (int i = 0; i < 16; ++i) {
    long dr = static_cast<long>((rgb >> 16) & 0xFF) - static_cast<long>((kColours[i] >> 16) & 0xFF);
    long dg = static_cast<long>((rgb >> 8) & 0xFF) - static_cast<long>((kColours[i] >> 8) & 0xFF);
    long db = static_cast<long>(rgb & 0xFF) - static_cast<long>(kColours[i] & 0xFF);
    long d = dr * dr + dg * dg + db * db;
    if (d < best_d) {
      best_d = d;
      best = i;
    }
  }
  return best;
}

bool is_nick_special(char c) {
  return c == '[' || c == ']' || c == '\\' || c == '`' || c == '_' || c == '^' || c == '{' || c == '|' ||
         c == '}';
}

}  // namespace

std::optional<std::uint32_t> colour_rgb(int index) {
  if (index >= 0 && index < 16) return kColours[index];
  if (index >= 16 && index < 99) return kExtended[index - 16];
  return std::nullopt;
}

bool has_formatting(std::string_view in) {
  for (char c : in) {
    switch (c) {
      case 0x02: case 0x03: case 0x04: case 0x0F: case 0x11: case 0x16: case 0x1D: case 0x1E: case 0x1F:
        return true;
      default: break;
    }
  }
  return false;
}

StyledText parse_formatting(std::string_view in) {
  StyledText out;
  if (!has_formatting(in)) {
    out.text = std::string(in);
    return out;
  }
  out.text.reserve(in.size());
  Style cur;
  std::uint32_t span_start = 0;
  bool full = false;
  auto close_span = [&] {
    if (full) return;
    auto pos = static_cast<std::uint32_t>(out.text.size());
    if (!cur.plain() && pos > span_start) {
      Span s{span_start, pos, cur.flags, cur.fg, cur.bg};
      // Merge with the previous span when adjacent and identical in style.
      if (!out.spans.empty() && out.spans.back().end == span_start && out.spans.back().flags == s.flags &&
          out.spans.back().fg == s.fg && out.spans.back().bg == s.bg)
        out.spans.back().end = pos;
      else if (out.spans.size() < kMaxSpans)
        out.spans.push_back(s);
      else
        full = true;  // the rest stays plain
    }
    span_start = pos;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    Style next = cur;
    switch (c) {
      case 0x02: next.flags ^= Span::bold; break;
      case 0x1D: next.flags ^= Span::italic; break;
      case 0x1F: next.flags ^= Span::underline; break;
      case 0x1E: next.flags ^= Span::strike; break;
      case 0x11: next.flags ^= Span::monospace; break;
      case 0x16: break;  // reverse: no neutral equivalent, dropped
      case 0x0F: next = Style{}; break;
      case 0x03: {
        std::size_t j = i + 1;
        int fg = -1, bg = -1;
        if (j < in.size() && is_digit(in[j])) {
          fg = in[j++] - '0';
          if (j < in.size() && is_digit(in[j])) fg = fg * 10 + (in[j++] - '0');
          if (j + 1 < in.size() && in[j] == ',' && is_digit(in[j + 1])) {
            ++j;
            bg = in[j++] - '0';
            if (j < in.size() && is_digit(in[j])) bg = bg * 10 + (in[j++] - '0');
          }
        }
        if (fg < 0) {
          next.fg.reset();
          next.bg.reset();
        } else {
          next.fg = colour_rgb(fg);
          if (bg >= 0) next.bg = colour_rgb(bg);
        }
        i = j - 1;
        break;
      }
      case 0x04: {
        std::size_t j = i + 1;
        auto hex6 = [&](std::size_t at, std::uint32_t& v) {
          if (at + 6 > in.size()) return false;
          v = 0;
          for (std::size_t k = 0; k < 6; ++k) {
            int h = hexval(in[at + k]);
            if (h < 0) return false;
            v = (v << 4) | static_cast<std::uint32_t>(h);
          }
          return true;
        };
        std::uint32_t fg = 0, bg = 0;
        if (hex6(j, fg)) {
          j += 6;
          next.fg = fg;
          if (j < in.size() && in[j] == ',' && hex6(j + 1, bg)) {
            next.bg = bg;
            j += 7;
          }
        } else {
          next.fg.reset();
          next.bg.reset();
        }
        i = j - 1;
        break;
      }
      default:
        out.text.push_back(c);
        continue;
    }
    if (!(next == cur)) {
      close_span();
      cur = next;
    }
  }
  close_span();
  return out;
}

namespace {

Style style_of(const StyleRun& r) { return Style{r.flags, r.fg, r.bg}; }

// Appends the codes that take the style from cur to `to` and updates cur; `next` is the
// text byte that will follow (a ',' right after a colour code would read as its background).
void append_transition(std::string& out, Style& cur, const Style& to, char next) {
  if (to == cur) return;
  // Colours removed: reset everything, then re-apply flags ("\x03" alone would swallow
  // a following digit).
  if ((cur.fg && !to.fg) || (cur.bg && !to.bg)) {
    out.push_back(0x0F);
    cur = Style{};
  }
  std::uint8_t diff = cur.flags ^ to.flags;
  if (diff & Span::bold) out.push_back(0x02);
  if (diff & Span::italic) out.push_back(0x1D);
  if (diff & Span::underline) out.push_back(0x1F);
  if (diff & Span::strike) out.push_back(0x1E);
  if (diff & Span::monospace) out.push_back(0x11);
  if ((to.fg || to.bg) && (to.fg != cur.fg || to.bg != cur.bg)) {
    auto two = [&](int n) {
      out.push_back(static_cast<char>('0' + n / 10));
      out.push_back(static_cast<char>('0' + n % 10));
    };
    out.push_back(0x03);
    two(to.fg ? nearest_colour(*to.fg) : 99);  // 99: the default colour, for a background alone
    if (to.bg) {
      out.push_back(',');
      two(nearest_colour(*to.bg));
    } else if (next == ',') {
      out.append("\x02\x02");  // an empty toggle ends the code: the ',' is text
    }
  }
  cur = to;
}

// Walks the runs in text order: style_at(pos) for increasing pos, O(1) amortised.
class RunCursor {
 public:
  explicit RunCursor(const std::vector<StyleRun>& runs) : runs_(runs) {}
  Style style_at(std::size_t pos) {
    while (i_ < runs_.size() && runs_[i_].end <= pos) ++i_;
    if (i_ < runs_.size() && runs_[i_].begin <= pos) return style_of(runs_[i_]);
    return Style{};
  }

 private:
  const std::vector<StyleRun>& runs_;
  std::size_t i_ = 0;
};

std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  std::size_t j = i + 1;
  while (j < s.size() && j < i + len && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
  return j - i;
}

}  // namespace

std::string render_formatting(std::string_view text, const std::vector<Span>& spans) {
  if (spans.empty()) return std::string(text);
  const auto runs = style_runs(text, spans, kMaxSpans);
  std::string out;
  out.reserve(text.size() + runs.size() * 8);
  Style cur;
  std::size_t pos = 0;
  auto plain_to = [&](std::size_t end) {
    if (end <= pos) return;
    append_transition(out, cur, Style{}, text[pos]);
    out.append(text.substr(pos, end - pos));
    pos = end;
  };
  for (const auto& r : runs) {
    plain_to(r.begin);
    append_transition(out, cur, style_of(r), text[r.begin]);
    out.append(text.substr(r.begin, r.end - r.begin));
    pos = r.end;
  }
  plain_to(text.size());
  if (!cur.plain()) out.push_back(0x0F);
  return out;
}

RenderedLines render_lines(std::string_view text, const std::vector<Span>& spans, std::size_t budget,
                           std::size_t max_lines) {
  RenderedLines out;
  // The common case, one plain line that fits: what the loop below would make of it, without
  // its per-character style bookkeeping.
  if (spans.empty() && text.size() <= budget && text.find_first_of("\r\n") == std::string_view::npos) {
    if (text.empty()) return out;
    if (max_lines > 0)
      out.lines.emplace_back(text);
    else
      ++out.more;
    return out;
  }
  const auto runs = style_runs(text, spans, kMaxSpans);
  RunCursor cursor(runs);
  std::string line, codes;
  Style cur;
  bool has_text = false;
  std::size_t count = 0;
  auto finish = [&] {
    if (has_text) {
      if (count < max_lines)
        out.lines.push_back(line);
      else
        ++out.more;
      ++count;
    }
    line.clear();  // keeps its capacity: lines past max_lines are only counted
    cur = Style{};
    has_text = false;
  };
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\n') {
      finish();
      ++i;
      continue;
    }
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
      continue;
    }
    const std::size_t len = utf8_length(text, i);
    const Style want = cursor.style_at(i);
    codes.clear();
    Style after = cur;
    append_transition(codes, after, want, c);
    if (has_text && line.size() + codes.size() + len > budget) {
      finish();
      codes.clear();
      after = Style{};
      append_transition(codes, after, want, c);
    }
    line += codes;
    line.append(text.substr(i, len));
    cur = after;
    has_text = true;
    i += len;
  }
  finish();
  return out;
}

std::optional<Ctcp> parse_ctcp(std::string_view body) {
  if (body.size() < 2 || body.front() != '\x01') return std::nullopt;
  body.remove_prefix(1);
  if (!body.empty() && body.back() == '\x01') body.remove_suffix(1);
  auto sp = body.find(' ');
  Ctcp c;
  c.command = body.substr(0, sp);
  if (sp != std::string_view::npos) c.params = body.substr(sp + 1);
  if (c.command.empty()) return std::nullopt;
  return c;
}

std::optional<std::string_view> ctcp_action(std::string_view body) {
  auto c = parse_ctcp(body);
  if (!c || !equal_fold(c->command, "ACTION")) return std::nullopt;
  return c->params;
}

std::string make_ctcp_action(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 9);
  out += "\x01" "ACTION ";
  out += text;
  out += '\x01';
  return out;
}

bool is_valid_nick(std::string_view nick, std::size_t max_len) {
  if (nick.empty() || nick.size() > max_len) return false;
  char f = nick.front();
  if (is_digit(f) || f == '-') return false;
  for (char c : nick) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || is_nick_special(c) || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_valid_channel(std::string_view chan, std::size_t max_len) {
  if (chan.size() < 2 || chan.size() > max_len || chan.front() != '#') return false;
  for (char c : chan)
    if (c == ' ' || c == ',' || c == '\x07' || c == '\0' || c == '\r' || c == '\n' || c == ':') return false;
  return true;
}

std::vector<std::string_view> split_list(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto p = s.find(',');
    if (auto item = s.substr(0, p); !item.empty()) out.push_back(item);
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

bool mask_match(std::string_view mask, std::string_view text) {
  std::size_t m = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (m < mask.size() && (mask[m] == '?' || ascii_lower(mask[m]) == ascii_lower(text[t]))) {
      ++m;
      ++t;
    } else if (m < mask.size() && mask[m] == '*') {
      star = m++;
      mark = t;
    } else if (star != std::string_view::npos) {
      m = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (m < mask.size() && mask[m] == '*') ++m;
  return m == mask.size();
}

}  // namespace parley::protocols::irc

#include "protocols/irc/message.hpp"

#include <cstring>

namespace parley::protocols::irc {

std::string_view to_string(ParseError e) {
  switch (e) {
    case ParseError::none: return "none";
    case ParseError::line_too_long: return "line too long";
    case ParseError::tags_too_long: return "tags too long";
    case ParseError::empty: return "empty";
    case ParseError::no_command: return "no command";
    case ParseError::bad_command: return "bad command";
    case ParseError::bad_character: return "bad character";
    case ParseError::bad_encoding: return "bad encoding";
  }
  return "?";
}

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* e = p + s.size();
  while (p < e) {
    // Fast path: 8 ASCII bytes at a time.
    while (e - p >= 8) {
      std::uint64_t w;
      __builtin_memcpy(&w, p, 8);
      if (w & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p >= e) break;
    unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (e - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    p += n + 1;
  }
  return true;
}

void latin1_to_utf8(std::string_view s, std::string& out) {
  for (unsigned char c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
}

std::string_view utf8_truncate(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  // Back up over continuation bytes to the start of the cut sequence.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string unescape_tag_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= v.size()) break;  // a trailing lone backslash is dropped
    switch (v[i]) {
      case ':': out.push_back(';'); break;
      case 's': out.push_back(' '); break;
      case 'r': out.push_back('\r'); break;
      case 'n': out.push_back('\n'); break;
      default: out.push_back(v[i]); break;  // "\\" and unknown escapes: the character
    }
  }
  return out;
}

void escape_tag_value(std::string_view v, std::string& out) {
  for (char c : v) {
    switch (c) {
      case ';': out += "\\:"; break;
      case ' ': out += "\\s"; break;
      case '\\': out += "\\\\"; break;
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
}

void append_tag(std::string& tags, std::string_view key, std::string_view value) {
  if (!tags.empty()) tags += ';';
  tags += key;
  tags += '=';
  escape_tag_value(value, tags);
}

namespace {
// A command is letters (of either case) or exactly three digits.
bool is_command(std::string_view c) {
  auto all = [c](auto in_class) {
    for (char ch : c)
      if (!in_class(static_cast<unsigned char>(ch))) return false;
    return true;
  };
  if (c.size() == 3 && all([](unsigned char u) { return static_cast<unsigned char>(u - '0') < 10; }))
    return true;
  return all([](unsigned char u) { return static_cast<unsigned char>((u | 0x20) - 'a') < 26; });
}
}  // namespace

ParseError parse_line(std::string_view line, Message& m, std::size_t max_body) {
  // Only what a parse sets is reset: params past nparams are never read (param() checks),
  // and a whole `m = Message{}` cost a zeroed temporary and its copy, ~300 bytes, per line
  // (each gateway puppet parses its own copy of every channel line, bench/README.md).
  m.tags = {};
  m.prefix = {};
  m.command = {};
  m.nparams = 0;
  m.trailing = false;
  if (line.find('\0') != std::string_view::npos) return ParseError::bad_character;
  std::size_t i = 0;
  const std::size_t n = line.size();
  auto skip_spaces = [&] {
    while (i < n && line[i] == ' ') ++i;
  };
  // The end of the word starting at i: the next space, or the end of the line.
  auto word_end = [&] {
    const auto sp = line.find(' ', i);
    return sp == std::string_view::npos ? n : sp;
  };
  if (i < n && line[i] == '@') {
    const std::size_t end = word_end();
    if (end + 1 > kMaxTagSection) return ParseError::tags_too_long;
    m.tags = line.substr(1, end - 1);
    i = end;
    skip_spaces();
    if (i >= n) return ParseError::no_command;
  }
  if (n - i + 2 > max_body) return ParseError::line_too_long;
  skip_spaces();
  if (i >= n) return m.tags.empty() ? ParseError::empty : ParseError::no_command;
  if (line[i] == ':') {
    auto sp = line.find(' ', i);
    if (sp == std::string_view::npos) return ParseError::no_command;
    m.prefix = line.substr(i + 1, sp - i - 1);
    i = sp;
    skip_spaces();
    if (i >= n) return ParseError::no_command;
  }
  std::size_t cs = i;
  i = word_end();
  m.command = line.substr(cs, i - cs);
  if (!is_command(m.command)) return ParseError::bad_command;
  while (true) {
    skip_spaces();
    if (i >= n) break;
    if (line[i] == ':' || m.nparams == kMaxParams - 1) {
      if (line[i] == ':') {
        ++i;
        m.trailing = true;
      }
      m.params[m.nparams++] = line.substr(i);
      break;
    }
    std::size_t ps = i;
    i = word_end();
    m.params[m.nparams++] = line.substr(ps, i - ps);
  }
  return ParseError::none;
}

LineFramer::Result LineFramer::next_raw(std::string_view buf) {
  Result r;
  auto lf = buf.find('\n');
  if (discarding_) {
    if (lf == std::string_view::npos) {
      r.consumed = r.discarded = buf.size();
      return r;
    }
    discarding_ = false;
    buf.remove_prefix(lf + 1);
    r.consumed = r.discarded = lf + 1;
    lf = buf.find('\n');
  }
  std::size_t base = r.consumed;
  if (lf == std::string_view::npos) {
    if (buf.size() > kMaxLine) {
      discarding_ = true;
      r.status = Status::error;
      r.error = ParseError::line_too_long;
      r.consumed = base + buf.size();
    }
    return r;
  }
  std::string_view line = buf.substr(0, lf);
  r.consumed = base + lf + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > kMaxLine) {
    r.status = Status::error;
    r.error = ParseError::line_too_long;
    return r;
  }
  r.status = Status::line;
  r.line = line;
  return r;
}

LineFramer::Result LineFramer::decode(Result r) {
  if (r.status != Status::line) return r;
  const std::string_view line = r.line;
  if (!is_valid_utf8(line)) {
    if (fallback_ == Fallback::reject) {
      r.status = Status::error;
      r.error = ParseError::bad_encoding;
      return r;
    }
    // Limits apply to the bytes as sent: check them before conversion grows the line.
    Message probe;
    ParseError e = parse_line(line, probe);
    if (e == ParseError::line_too_long || e == ParseError::tags_too_long) {
      r.status = Status::error;
      r.error = e;
      return r;
    }
    scratch_.clear();
    latin1_to_utf8(line, scratch_);
    r.line = scratch_;
    r.converted = true;
  }
  return r;
}

// ---------------------------------------------------------------------------------------

LineWriter& LineWriter::tags(std::string_view raw) {
  if (raw.empty()) return *this;
  out_.push_back('@');
  out_.append(raw);
  out_.push_back(' ');
  return *this;
}

LineWriter& LineWriter::prefix(std::string_view p) {
  body_start_ = out_.size();
  out_.push_back(':');
  out_.append(p);
  out_.push_back(' ');
  return *this;
}

LineWriter& LineWriter::command(std::string_view c) {
  if (body_start_ == std::string::npos) body_start_ = out_.size();
  out_.append(c);
  return *this;
}

LineWriter& LineWriter::numeric(int n) {
  char d[3] = {static_cast<char>('0' + n / 100 % 10), static_cast<char>('0' + n / 10 % 10),
               static_cast<char>('0' + n % 10)};
  return command(std::string_view(d, 3));
}

LineWriter& LineWriter::param(std::string_view p) {
  if (p.empty() || p.front() == ':' || p.find(' ') != std::string_view::npos) return trailing(p);
  out_.push_back(' ');
  out_.append(p);
  return *this;
}

LineWriter& LineWriter::trailing(std::string_view p) {
  out_.append(" :");
  out_.append(p);
  return *this;
}

void LineWriter::end() {
  if (ended_) return;
  ended_ = true;
  std::size_t body = body_start_ == std::string::npos ? start_ : body_start_;
  // Never let CR, LF or NUL from a parameter break the framing. Three memchr scans (vector
  // code) find the usual none; only a line that has one is rewritten byte by byte.
  char* const from = out_.data() + start_;
  const std::size_t n = out_.size() - start_;
  if (std::memchr(from, '\r', n) || std::memchr(from, '\n', n) || std::memchr(from, '\0', n))
    for (char *p = from, *e = from + n; p != e; ++p)
      if (*p == '\r' || *p == '\n' || *p == '\0') *p = ' ';
  if (out_.size() - body > kMaxBody - 2) {
    std::string_view b(out_.data() + body, out_.size() - body);
    out_.resize(body + utf8_truncate(b, kMaxBody - 2).size());
  }
  out_.append("\r\n");
}

}  // namespace parley::protocols::irc

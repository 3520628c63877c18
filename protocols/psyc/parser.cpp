#include "protocols/psyc/parser.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "protocols/psyc/list.hpp"

namespace parley::protocols::psyc {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// `length = 1*DIGIT`. Leading zeros are refused: "007" would render as "7", and
// parse -> render must give back the same bytes. At most 10 digits (a 32-bit length).
enum class Number : std::uint8_t { ok, need_more, bad };
Number read_length(std::string_view in, std::size_t& i, std::size_t limit, std::size_t& out) {
  std::size_t start = i, v = 0;
  while (i < limit && is_digit(in[i])) {
    if (i - start >= 10) return Number::bad;
    v = v * 10 + static_cast<std::size_t>(in[i] - '0');
    ++i;
  }
  if (i == limit) return i - start > 10 ? Number::bad : Number::need_more;
  if (i == start || (in[start] == '0' && i - start > 1)) return Number::bad;
  out = v;
  return Number::ok;
}

// The scans below look at 16 bytes per step with SSE2 (every x86-64 has it) where the
// bytes are there, one at a time otherwise; names and short values are the common case,
// too short for a libc call to pay off.
#if defined(__SSE2__)
// Bit i set: byte i of `v` is a kwchar (0-9, A-Z, a-z, '_').
unsigned kwchar_mask(__m128i v) {
  // x <=u n as min(x, n) == x: SSE2 has no unsigned byte compare.
  auto le = [](__m128i x, char n) { return _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(n)), x); };
  __m128i digit = le(_mm_sub_epi8(v, _mm_set1_epi8('0')), 9);
  __m128i alpha = le(_mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a')), 25);
  __m128i under = _mm_cmpeq_epi8(v, _mm_set1_epi8('_'));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(digit, alpha), under)));
}
#endif

// The end of the run of kwchars starting at `i`, looking at no more than `cap` bytes.
std::size_t skip_kwchars(const char* d, std::size_t i, std::size_t cap) {
#if defined(__SSE2__)
  while (i + 16 <= cap) {
    unsigned other = ~kwchar_mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i))) & 0xffffu;
    if (other) return i + static_cast<std::size_t>(__builtin_ctz(other));
    i += 16;
  }
#endif
  while (i < cap && is_kwchar(d[i])) ++i;
  return i;
}

// The first LF in [i, end), or npos.
std::size_t find_lf(const char* d, std::size_t i, std::size_t end) {
#if defined(__SSE2__)
  // Two steps inline (most values and message lines are short), then libc's memchr,
  // which is faster on long runs.
  const __m128i lf = _mm_set1_epi8('\n');
  for (int step = 0; step < 2 && i + 16 <= end; ++step, i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
    if (unsigned m = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf))))
      return i + static_cast<std::size_t>(__builtin_ctz(m));
  }
  if (end - i < 16) {
    for (; i < end; ++i)
      if (d[i] == '\n') return i;
    return std::string_view::npos;
  }
#endif
  if (i >= end) return std::string_view::npos;
  const void* p = std::memchr(d + i, '\n', end - i);
  return p ? static_cast<std::size_t>(static_cast<const char*>(p) - d) : std::string_view::npos;
}

std::string_view view_at(const char* d, std::size_t off, std::size_t len) { return {d + off, len}; }

}  // namespace

void Parser::reset() {
  state_ = State::routing;
  pos_ = scan_ = content_start_ = content_end_ = method_lf_ = syncs_ = 0;
  sync_ = method_ = data_ = {};
  has_content_ = explicit_length_ = has_data_ = false;
  base_ = nullptr;
  packet_.clear();
  consumed_ = 0;
  error_.clear();
}

Status Parser::fail(std::string why) {
  error_ = std::move(why);
  state_ = State::finished;
  consumed_ = 0;
  return Status::error;
}

Parser::Step Parser::fail_step(const char* why) {
  fail(why);
  return Step::error;
}

// Out of bytes inside a modifier: wait for more, unless the content length says there
// are no more.
Parser::Step Parser::cut_short(bool complete) {
  return complete ? fail_step("content length does not match: modifier cut short") : Step::need_more;
}

// The views taken so far point into the buffer of an earlier call; the same bytes now
// start at `now`. Offsets from the packet's first byte did not change.
void Parser::rebase(const char* now) {
  if (now == base_) return;
  if (base_) {
    auto from = reinterpret_cast<std::uintptr_t>(base_);
    auto shift = [&](std::string_view& v) {
      v = std::string_view(now + (reinterpret_cast<std::uintptr_t>(v.data()) - from), v.size());
    };
    for (auto* mods : {&packet_.routing, &packet_.entity})
      for (auto& m : *mods) {
        shift(m.name);
        shift(m.value);
      }
  }
  base_ = now;
}

Status Parser::parse(std::string_view in) {
  if (state_ == State::finished) reset();
  rebase(in.data());
  return run(in);
}

Status Parser::run(std::string_view in) {
  // Each state moves on to the next itself; a call returns once it needs bytes, is done,
  // or failed.
  switch (state_) {
    case State::routing:
      return routing_line(in);
    case State::content:
      return content_item(in, in.size(), false);
    case State::length_wait:
      return length_content(in);
    case State::body_scan:
      return body_scan(in);
    case State::finished:
      break;
  }
  return Status::error;
}

Status Parser::routing_line(std::string_view in) {
  const char* d = in.data();
  for (;;) {
    if (pos_ >= in.size()) return Status::need_more;
    char c = d[pos_];
    if (is_operator(c)) {
      if (packet_.routing.size() >= limits_.max_modifiers) return fail("too many modifiers");
      auto st = modifier(in, in.size(), false, false);
      if (st == Step::ok) continue;
      return st == Step::need_more ? Status::need_more : Status::error;
    }
    if (c == '|') {
      if (pos_ + 1 >= in.size()) return Status::need_more;
      if (d[pos_ + 1] != '\n') return fail("expected LF after '|'");
      return finish(in, pos_ + 2);
    }
    has_content_ = true;
    if (c == '\n') {
      content_start_ = scan_ = ++pos_;
      state_ = State::content;
      return content_item(in, in.size(), false);
    }
    if (is_digit(c)) {
      std::size_t i = pos_, n = 0;
      switch (read_length(in, i, in.size(), n)) {
        case Number::need_more:
          return Status::need_more;
        case Number::bad:
          return fail("bad content length");
        case Number::ok:
          break;
      }
      if (d[i] != '\n') return fail("bad content length");
      if (n > limits_.max_content) return fail("content too large");
      explicit_length_ = true;
      content_start_ = scan_ = pos_ = i + 1;
      content_end_ = content_start_ + n;
      state_ = State::length_wait;
      return length_content(in);
    }
    return fail("expected a routing modifier, a content length or '|'");
  }
}

// operator variable ( HTAB text LF / SP length HTAB bytes LF / LF ), at pos_, which is an
// operator; on ok the modifier is in the packet and pos_ is past its LF.
Parser::Step Parser::modifier(std::string_view in, std::size_t limit, bool complete, bool entity) {
  const char* d = in.data();
  const std::size_t start = pos_;
  const std::size_t name_at = start + 1;
  // One kwchar more than allowed is enough to know the name is too long.
  std::size_t cap = name_at + limits_.max_name + 1;
  std::size_t i = skip_kwchars(d, name_at, cap < limit ? cap : limit);
  std::size_t name_len = i - name_at;
  if (name_len > limits_.max_name) return fail_step("modifier name too long");
  if (i >= limit) return cut_short(complete);
  if (name_len == 0) return fail_step("operator without a name");
  const char c = d[i];
  std::size_t value_at, value_len;
  ValueForm form;
  if (c == '\t') {
    // The value ends at the next LF; search at most max_value + 1 bytes, and never the
    // same bytes twice (scan_).
    value_at = i + 1;
    std::size_t end = value_at + limits_.max_value + 1;
    if (end > limit) end = limit;
    std::size_t lf = find_lf(d, scan_ > value_at ? scan_ : value_at, end);
    if (lf == std::string_view::npos) {
      scan_ = end;
      if (end - value_at > limits_.max_value) return fail_step("modifier value too long");
      return cut_short(complete);
    }
    value_len = lf - value_at;
    form = ValueForm::text;
    pos_ = scan_ = lf + 1;
  } else if (c == '\n') {
    value_at = i;
    value_len = 0;
    form = ValueForm::none;
    pos_ = scan_ = i + 1;
  } else if (c == ' ') {
    if (!entity) return fail_step("binary value in the routing header");
    std::size_t j = i + 1, n = 0;
    switch (read_length(in, j, limit, n)) {
      case Number::need_more:
        return cut_short(complete);
      case Number::bad:
        return fail_step("bad binary value length");
      case Number::ok:
        break;
    }
    if (d[j] != '\t') return fail_step("expected TAB after the binary value length");
    if (n > limits_.max_value) return fail_step("modifier value too long");
    std::size_t end = j + 1 + n;  // the LF
    if (end >= limit) return complete ? fail_step("binary value length does not match") : Step::need_more;
    if (d[end] != '\n') return fail_step("binary value length does not match");
    value_at = j + 1;
    value_len = n;
    form = ValueForm::binary;
    pos_ = scan_ = end + 1;
  } else {
    return fail_step("bad character in modifier name");
  }
  Modifier m{d[start], view_at(d, name_at, name_len), view_at(d, value_at, value_len), form};
  if (!check_list(m.name, m.value)) return Step::error;
  (entity ? packet_.entity : packet_.routing).push_back(m);
  return Step::ok;
}

// Variables of the _list type must hold a well-formed list (Spec:Packet, "List syntax").
bool Parser::check_list(std::string_view name, std::string_view value) {
  if (name.size() < 5 || name[1] != 'l' || name.substr(0, 5) != "_list" ||
      (name.size() > 5 && name[5] != '_'))
    return true;
  const char* why = validate_list(value);
  if (!why) return true;
  fail(std::string("bad list in ") + std::string(name) + ": " + why);
  return false;
}

Status Parser::content_item(std::string_view in, std::size_t limit, bool complete) {
  const char* d = in.data();
  for (;;) {
    // Checked on what was parsed, not on what is buffered: pipelined packets may follow.
    if (pos_ - content_start_ > limits_.max_content) return fail("content too large");
    if (pos_ >= limit) {
      if (complete) return Status::done;  // length mode: content without a body
      return Status::need_more;
    }
    char c = d[pos_];
    if (is_operator(c)) {
      const std::size_t count = packet_.routing.size() + packet_.entity.size() + syncs_;
      // sync-operation = ( "=" LF / "?" LF ), only before the entity modifiers.
      if (pos_ + 1 < limit && d[pos_ + 1] == '\n' && (c == '=' || c == '?')) {
        if (!packet_.entity.empty()) return fail("state sync after entity modifiers");
        if (count >= limits_.max_modifiers) return fail("too many modifiers");
        ++syncs_;
        if (sync_.len == 0) sync_.off = static_cast<std::uint32_t>(pos_);
        sync_.len += 2;
        pos_ = scan_ = pos_ + 2;
        continue;
      }
      if (count >= limits_.max_modifiers) return fail("too many modifiers");
      auto st = modifier(in, limit, complete, true);
      if (st == Step::ok) continue;
      return st == Step::need_more ? Status::need_more : Status::error;
    }
    if (c == '|' && !complete) {
      if (pos_ + 1 >= limit) return Status::need_more;
      if (d[pos_ + 1] != '\n') return fail("expected LF after '|'");
      return finish(in, pos_ + 2);
    }
    if (is_kwchar(c)) {
      // method = 1*kwchar, then LF; one kwchar more than allowed is enough to refuse it.
      std::size_t cap = pos_ + limits_.max_name + 1;
      std::size_t lf = skip_kwchars(d, pos_, cap < limit ? cap : limit);
      if (lf - pos_ > limits_.max_name) return fail("method name too long");
      if (lf >= limit) {
        if (complete) return fail("content length does not match: no LF after the body");
        return Status::need_more;
      }
      if (d[lf] != '\n') return fail("bad method name");
      method_ = {static_cast<std::uint32_t>(pos_), static_cast<std::uint32_t>(lf - pos_)};
      if (complete) {
        // Length mode: the body runs to the content's last byte, which is its LF.
        if (d[limit - 1] != '\n') return fail("content length does not match: no LF after the body");
        if (lf + 1 < limit) {
          has_data_ = true;
          data_ = {static_cast<std::uint32_t>(lf + 1), static_cast<std::uint32_t>(limit - 1 - (lf + 1))};
        }
        pos_ = limit;
        return Status::done;
      }
      method_lf_ = lf;
      pos_ = scan_ = lf;
      state_ = State::body_scan;
      return body_scan(in);
    }
    if (complete) return fail("content length does not match");
    return fail("expected an entity modifier, a method or '|'");
  }
}

// Implicit length: data runs until LF "|" LF; the LF after the method may be that LF.
Status Parser::body_scan(std::string_view in) {
  // Search no further than the largest content allowed (plus LF "|" LF): pipelined packets
  // may follow in the buffer, and a packet that never ends must fail once over the bound.
  const char* d = in.data();
  const std::size_t cap = content_start_ + limits_.max_content + 3;
  const std::size_t end = in.size() < cap ? in.size() : cap;
  std::size_t from = scan_ > method_lf_ ? scan_ : method_lf_;
  while (from < end) {
    std::size_t k = find_lf(d, from, end);
    if (k == std::string_view::npos) {
      from = end;
      break;
    }
    if (k + 2 >= end) {
      from = k;  // the LF may start the terminator: look again when more came
      break;
    }
    if (d[k + 1] == '|' && d[k + 2] == '\n') {
      if (k != method_lf_) {
        has_data_ = true;
        data_ = {static_cast<std::uint32_t>(method_lf_ + 1), static_cast<std::uint32_t>(k - method_lf_ - 1)};
      }
      return finish(in, k + 3);
    }
    from = k + 1;
  }
  scan_ = from;
  if (in.size() >= cap) return fail("content too large");
  return Status::need_more;
}

Status Parser::length_content(std::string_view in) {
  // O(1) until the whole content and the terminator are there.
  if (in.size() < content_end_ + 2) return Status::need_more;
  if (in[content_end_] != '|' || in[content_end_ + 1] != '\n')
    return fail("content length does not match: no '|' LF after the content");
  auto st = content_item(in, content_end_, true);
  if (st != Status::done) return st;
  return finish(in, content_end_ + 2);
}

Status Parser::finish(std::string_view in, std::size_t end) {
  const char* d = in.data();
  packet_.content = has_content_;
  packet_.explicit_length = explicit_length_;
  packet_.state_sync = sync_.len ? view_at(d, sync_.off, sync_.len) : std::string_view{};
  packet_.method = method_.len ? view_at(d, method_.off, method_.len) : std::string_view{};
  packet_.has_data = has_data_;
  packet_.data = has_data_ ? view_at(d, data_.off, data_.len) : std::string_view{};
  consumed_ = end;
  state_ = State::finished;
  return Status::done;
}

Status parse_packet(std::string_view in, Packet& out, std::string* error, Limits limits) {
  Parser p(limits);
  auto st = p.parse(in);
  if (st == Status::done && p.consumed() != in.size()) {
    if (error) *error = "bytes after the packet";
    return Status::error;
  }
  if (st == Status::error && error) *error = p.error();
  if (st == Status::done) out = p.packet();
  return st;
}

}  // namespace parley::protocols::psyc

#include "protocols/psyc/parser.hpp"

#include <cstring>

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

}  // namespace

void Parser::reset() {
  state_ = State::routing;
  pos_ = scan_ = content_start_ = content_end_ = method_lf_ = routing_count_ = count_ = 0;
  sync_ = method_ = data_ = {};
  has_content_ = explicit_length_ = has_data_ = false;
  raw_.clear();
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

std::size_t Parser::find_lf(std::string_view in, std::size_t limit) {
  std::size_t from = scan_ > pos_ ? scan_ : pos_;
  if (from >= limit) return std::string_view::npos;
  const void* p = std::memchr(in.data() + from, '\n', limit - from);
  if (!p) {
    scan_ = limit;
    return std::string_view::npos;
  }
  return static_cast<std::size_t>(static_cast<const char*>(p) - in.data());
}

Status Parser::parse(std::string_view in) {
  if (state_ == State::finished) reset();
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
  for (;;) {
    if (pos_ >= in.size()) return Status::need_more;
    char c = in[pos_];
    if (is_operator(c)) {
      if (++routing_count_ > limits_.max_modifiers) return fail("too many modifiers");
      auto st = modifier(in, in.size(), false, false);
      if (st == Step::ok) continue;
      --routing_count_;
      return st == Step::need_more ? Status::need_more : Status::error;
    }
    if (c == '|') {
      if (pos_ + 1 >= in.size()) return Status::need_more;
      if (in[pos_ + 1] != '\n') return fail("expected LF after '|'");
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
      std::size_t lim = in.size();
      switch (read_length(in, i, lim, n)) {
        case Number::need_more:
          return Status::need_more;
        case Number::bad:
          return fail("bad content length");
        case Number::ok:
          break;
      }
      if (in[i] != '\n') return fail("bad content length");
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

Parser::Step Parser::modifier(std::string_view in, std::size_t limit, bool complete, bool entity) {
  const std::size_t start = pos_;
  char op = in[start];
  std::size_t i = start + 1;
  while (i < limit && is_kwchar(in[i]) && i - start - 1 <= limits_.max_name) ++i;
  std::size_t name_len = i - start - 1;
  if (name_len > limits_.max_name) {
    fail("modifier name too long");
    return Step::error;
  }
  if (i >= limit) {
    if (complete) {
      fail("content length does not match: modifier cut short");
      return Step::error;
    }
    return Step::need_more;
  }
  char c = in[i];
  if (name_len == 0) {
    fail("operator without a name");
    return Step::error;
  }
  RawModifier m{
      op, ValueForm::none, {static_cast<std::uint32_t>(start + 1), static_cast<std::uint32_t>(name_len)}, {}};
  if (c == '\n') {
    m.value = {static_cast<std::uint32_t>(i), 0};
    pos_ = scan_ = i + 1;
  } else if (c == '\t') {
    if (scan_ < i + 1) scan_ = i + 1;
    std::size_t lf = find_lf(in, limit);
    if (lf == std::string_view::npos) {
      if (limit - (i + 1) > limits_.max_value) {
        fail("modifier value too long");
        return Step::error;
      }
      if (complete) {
        fail("content length does not match: modifier cut short");
        return Step::error;
      }
      return Step::need_more;
    }
    if (lf - (i + 1) > limits_.max_value) {
      fail("modifier value too long");
      return Step::error;
    }
    m.form = ValueForm::text;
    m.value = {static_cast<std::uint32_t>(i + 1), static_cast<std::uint32_t>(lf - i - 1)};
    pos_ = scan_ = lf + 1;
  } else if (c == ' ') {
    if (!entity) {
      fail("binary value in the routing header");
      return Step::error;
    }
    std::size_t j = i + 1, n = 0;
    switch (read_length(in, j, limit, n)) {
      case Number::need_more:
        if (complete) {
          fail("content length does not match: modifier cut short");
          return Step::error;
        }
        return Step::need_more;
      case Number::bad:
        fail("bad binary value length");
        return Step::error;
      case Number::ok:
        break;
    }
    if (in[j] != '\t') {
      fail("expected TAB after the binary value length");
      return Step::error;
    }
    if (n > limits_.max_value) {
      fail("modifier value too long");
      return Step::error;
    }
    std::size_t end = j + 1 + n;  // the LF
    if (end >= limit) {
      if (complete) {
        fail("binary value length does not match");
        return Step::error;
      }
      return Step::need_more;
    }
    if (in[end] != '\n') {
      fail("binary value length does not match");
      return Step::error;
    }
    m.form = ValueForm::binary;
    m.value = {static_cast<std::uint32_t>(j + 1), static_cast<std::uint32_t>(n)};
    pos_ = scan_ = end + 1;
  } else {
    fail("bad character in modifier name");
    return Step::error;
  }
  std::string_view name = in.substr(m.name.off, m.name.len);
  if (!check_list(name, in.substr(m.value.off, m.value.len))) return Step::error;
  raw_.push_back(m);
  return Step::ok;
}

// Variables of the _list type must hold a well-formed list (Spec:Packet, "List syntax").
bool Parser::check_list(std::string_view name, std::string_view value) {
  if (name.substr(0, 5) != "_list" || (name.size() > 5 && name[5] != '_')) return true;
  const char* why = validate_list(value);
  if (!why) return true;
  fail(std::string("bad list in ") + std::string(name) + ": " + why);
  return false;
}

Status Parser::content_item(std::string_view in, std::size_t limit, bool complete) {
  for (;;) {
    // Checked on what was parsed, not on what is buffered: pipelined packets may follow.
    if (pos_ - content_start_ > limits_.max_content) return fail("content too large");
    if (pos_ >= limit) {
      if (complete) return Status::done;  // length mode: content without a body
      return Status::need_more;
    }
    char c = in[pos_];
    if (is_operator(c)) {
      // sync-operation = ( "=" LF / "?" LF ), only before the entity modifiers.
      if (pos_ + 1 < limit && in[pos_ + 1] == '\n' && (c == '=' || c == '?')) {
        if (raw_.size() > routing_count_) return fail("state sync after entity modifiers");
        if (++count_ + routing_count_ > limits_.max_modifiers) return fail("too many modifiers");
        if (sync_.len == 0) sync_.off = static_cast<std::uint32_t>(pos_);
        sync_.len += 2;
        pos_ = scan_ = pos_ + 2;
        continue;
      }
      if (++count_ + routing_count_ > limits_.max_modifiers) return fail("too many modifiers");
      auto st = modifier(in, limit, complete, true);
      if (st == Step::ok) continue;
      --count_;
      return st == Step::need_more ? Status::need_more : Status::error;
    }
    if (c == '|' && !complete) {
      if (pos_ + 1 >= limit) return Status::need_more;
      if (in[pos_ + 1] != '\n') return fail("expected LF after '|'");
      return finish(in, pos_ + 2);
    }
    if (is_kwchar(c)) {
      std::size_t lf = find_lf(in, limit);
      if (lf == std::string_view::npos) {
        if (limit - pos_ > limits_.max_name) return fail("method name too long");
        if (complete) return fail("content length does not match: no LF after the body");
        return Status::need_more;
      }
      if (lf - pos_ > limits_.max_name) return fail("method name too long");
      std::string_view method = in.substr(pos_, lf - pos_);
      if (!is_keyword(method)) return fail("bad method name");
      method_ = {static_cast<std::uint32_t>(pos_), static_cast<std::uint32_t>(lf - pos_)};
      if (complete) {
        // Length mode: the body runs to the content's last byte, which is its LF.
        if (in[limit - 1] != '\n') return fail("content length does not match: no LF after the body");
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
  const std::size_t cap = content_start_ + limits_.max_content + 3;
  const std::size_t end = in.size() < cap ? in.size() : cap;
  std::size_t from = scan_ > method_lf_ ? scan_ : method_lf_;
  while (from < end) {
    const void* p = std::memchr(in.data() + from, '\n', end - from);
    if (!p) {
      from = end;
      break;
    }
    std::size_t k = static_cast<std::size_t>(static_cast<const char*>(p) - in.data());
    if (k + 2 >= end) {
      from = k;  // the LF may start the terminator: look again when more came
      break;
    }
    if (in[k + 1] == '|' && in[k + 2] == '\n') {
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
  auto view = [&](Span s) { return in.substr(s.off, s.len); };
  packet_.clear();
  packet_.content = has_content_;
  packet_.explicit_length = explicit_length_;
  for (std::size_t i = 0; i < raw_.size(); ++i) {
    const auto& r = raw_[i];
    Modifier m{r.op, view(r.name), view(r.value), r.form};
    (i < routing_count_ ? packet_.routing : packet_.entity).push_back(m);
  }
  if (sync_.len) packet_.state_sync = view(sync_);
  if (method_.len) packet_.method = view(method_);
  packet_.has_data = has_data_;
  if (has_data_) packet_.data = view(data_);
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

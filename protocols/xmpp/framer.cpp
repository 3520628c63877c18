#include "protocols/xmpp/framer.hpp"

#include <algorithm>
#include <array>

#include "protocols/xmpp/stanza_buffer.hpp"
#include "protocols/xmpp/xml_char.hpp"

namespace parley::protocols::xmpp {

namespace {

bool is_ws(unsigned char b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }
bool is_name_start(unsigned char b) {
  return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '_' || b == ':' || b >= 0x80;
}
bool is_name_char(unsigned char b) {
  return is_name_start(b) || (b >= '0' && b <= '9') || b == '-' || b == '.';
}

// Byte classes of the fast path (see feed()): an ASCII byte with bit k set is one the byte
// loop takes in that state without doing anything but appending it (it is an XML Char and
// not markup there). Non-ASCII bytes have no bit: whole UTF-8 sequences are checked apart.
constexpr std::uint8_t kText = 1;     // character data inside a stanza: not '<' '&'
constexpr std::uint8_t kAttr = 2;     // attribute value: not '<' '&' and neither quote
constexpr std::uint8_t kName = 4;     // element or attribute name: [A-Za-z0-9_:.-]
constexpr std::uint8_t kInCdata = 8;  // CDATA section: not ']' '>'
constexpr std::array<std::uint8_t, 256> kClass = [] {
  std::array<std::uint8_t, 256> t{};
  for (int b = 0; b < 0x80; ++b) {
    if (b < 0x20 && b != '\t' && b != '\n' && b != '\r') continue;  // not XML Chars
    t[b] = kText | kAttr | kInCdata;
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_' || b == ':' ||
        b == '-' || b == '.')
      t[b] |= kName;
  }
  t['<'] &= ~(kText | kAttr);
  t['&'] &= ~(kText | kAttr);
  t['"'] &= ~kAttr;
  t['\''] &= ~kAttr;
  t[']'] &= ~kInCdata;
  t['>'] &= ~kInCdata;
  return t;
}();

// Parses the body of a character reference ("#65", "#x41"); 0 on failure (0 is no Char).
std::uint64_t char_ref_value(std::string_view e) {
  if (e.size() < 2 || e[0] != '#') return 0;
  std::uint64_t v = 0;
  if (e[1] == 'x') {
    if (e.size() < 3) return 0;
    for (char c : e.substr(2)) {
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                               : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) return 0;
      v = v * 16 + static_cast<std::uint64_t>(d);
      if (v > 0x10FFFF) return 0;
    }
  } else {
    for (char c : e.substr(1)) {
      if (c < '0' || c > '9') return 0;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
      if (v > 0x10FFFF) return 0;
    }
  }
  return v;
}

void append_utf8(std::string& out, std::uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// A name Stanza::parse's namespace check has anything to decide about: one with a ':' whose
// prefix is not "xml" (bound by definition, Namespaces in XML 1.0 §3; "xml:lang" is on many
// clients' every stanza). Two xml: attributes with one local name are one qualified name,
// which the framer refuses as a duplicate; binding another prefix to the XML namespace is an
// xmlns:p declaration, which has a ':' and prefix "xmlns".
bool has_prefix(std::string_view name) {
  for (std::size_t i = 0; i < name.size(); ++i)  // names are short: no memchr call
    if (name[i] == ':') return name.substr(0, i) != "xml";
  return false;
}

constexpr std::size_t kMaxEntity = 16;
constexpr std::string_view kCdata = "[CDATA[";

}  // namespace

std::string_view StreamHeader::attr(std::string_view n) const {
  for (const auto& [k, v] : attributes)
    if (k == n) return v;
  return {};
}

bool StreamHeader::has(std::string_view n) const {
  return std::any_of(attributes.begin(), attributes.end(), [&](const auto& a) { return a.first == n; });
}

std::string decode_entities(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      out += raw[i];
      continue;
    }
    auto semi = raw.find(';', i);
    if (semi == std::string_view::npos) {
      out.append(raw.substr(i));
      break;
    }
    auto e = raw.substr(i + 1, semi - i - 1);
    if (e == "lt") out += '<';
    else if (e == "gt") out += '>';
    else if (e == "amp") out += '&';
    else if (e == "quot") out += '"';
    else if (e == "apos") out += '\'';
    else if (auto v = char_ref_value(e); v && is_xml_char(v)) append_utf8(out, static_cast<std::uint32_t>(v));
    i = semi;
  }
  return out;
}

void StreamFramer::reset() {
  state_ = S::prolog;
  header_.reset();
  header_seen_ = false;
  decl_allowed_ = true;
  cp_ = cp_min_ = 0;
  need_ = 0;
  names_.clear();
  depth_ = 0;
  release_scratch();
  attr_count_ = 0;
  quote_ = 0;
  match_ = 0;
  stanza_.clear();
  buffering_ = false;
  prefixed_ = false;
  header_bytes_ = 0;
  error_ = StreamError::none;
  error_text_.clear();
}

const StreamHeader& StreamFramer::header() const {
  static const StreamHeader none;
  return header_ ? *header_ : none;
}

void StreamFramer::release_header() {
  header_.reset();
  if (sc_ && sc_->cur_value.capacity() > 15) std::string().swap(sc_->cur_value);
  trim();
}

void StreamFramer::trim() {
  // A std::string of at most 15 chars lives inside the object (libstdc++'s SSO), so
  // shrink_to_fit() frees the heap block; the stream name ("stream:stream" + NUL) fits.
  if (names_.capacity() > 15) names_.shrink_to_fit();
  if (!sc_) return;
  // Between stanzas none of these holds anything needed; what ordinary names need stays
  // (the scratch is per thread when idle, see release_scratch()), a huge one is given back.
  constexpr std::size_t kKeep = 256;
  for (std::string* s : {&sc_->open, &sc_->attr_names, &sc_->cur_name, &sc_->cur_attr})
    if (s->capacity() > kKeep) std::string().swap(*s);
}

std::unique_ptr<StreamFramer::Scratch>& StreamFramer::spare_scratch() {
  thread_local std::unique_ptr<Scratch> spare;
  return spare;
}

void StreamFramer::acquire_scratch() {
  if (sc_) return;
  auto& spare = spare_scratch();
  sc_ = spare ? std::move(spare) : std::make_unique<Scratch>();
}

void StreamFramer::release_scratch() {
  if (!sc_) return;
  trim();
  if (sc_->cur_value.capacity() > 15) std::string().swap(sc_->cur_value);  // a header's value
  sc_->open.clear();  // not empty after reset() inside a stanza
  auto& spare = spare_scratch();
  if (!spare) spare = std::move(sc_);
  sc_.reset();
}

void StreamFramer::release_if_idle() {
  // Between stanzas (inside the stream, no tag or entity open) nothing in the scratch matters.
  if (depth_ == 1 && state_ == S::text && !buffering_) release_scratch();
}

void StreamFramer::start_stanza() {
  stanza_.clear();
  if (stanza_.capacity() == 0) stanza_ = take_stanza_buffer();  // the last one was taken
}

std::vector<char> StreamFramer::take_stanza() {
  std::vector<char> out = std::move(stanza_);
  stanza_.clear();
  return out;
}

bool StreamFramer::fail(StreamError e, std::string text) {
  if (state_ != S::failed) {
    error_ = e;
    error_text_ = std::move(text);
    state_ = S::failed;
  }
  return false;
}

bool StreamFramer::check_char(unsigned char b) {
  if (need_ == 0) {
    if (b < 0x80) {
      if (b < 0x20 && b != 0x9 && b != 0xA && b != 0xD)
        return fail(StreamError::not_well_formed, b == 0 ? "NUL byte" : "control character");
      return true;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      need_ = 1, cp_ = b & 0x1F, cp_min_ = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need_ = 2, cp_ = b & 0x0F, cp_min_ = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need_ = 3, cp_ = b & 0x07, cp_min_ = 0x10000;
    } else {
      return fail(StreamError::not_well_formed, "invalid UTF-8");
    }
    return true;
  }
  if ((b & 0xC0) != 0x80) return fail(StreamError::not_well_formed, "invalid UTF-8");
  cp_ = (cp_ << 6) | (b & 0x3F);
  if (--need_ == 0 && (cp_ < cp_min_ || !is_xml_char(cp_)))
    return fail(StreamError::not_well_formed, "invalid UTF-8 or character");
  return true;
}

bool StreamFramer::on_entity_end() {
  const std::string& e = sc_->entity;
  if (e == "lt" || e == "gt" || e == "amp" || e == "quot" || e == "apos") return true;
  if (!e.empty() && e[0] == '#') {
    auto v = char_ref_value(e);
    if (v == 0 || !is_xml_char(v)) return fail(StreamError::not_well_formed, "invalid character reference");
    return true;
  }
  if (!e.empty() && is_name_start(static_cast<unsigned char>(e[0])))
    return fail(StreamError::restricted_xml, "undeclared entity");  // RFC 6120 §11.1
  return fail(StreamError::not_well_formed, "bad entity reference");
}

bool StreamFramer::finish_attribute(std::string_view name) {
  // The header is bounded by max_header instead.
  if (depth_ > 0 && attr_count_ + 1 > limits_.max_attributes)
    return fail(StreamError::policy_violation, "too many attributes");
  for (std::size_t at = 0; at < sc_->attr_names.size();) {
    std::size_t end = sc_->attr_names.find('\0', at);
    if (std::string_view(sc_->attr_names).substr(at, end - at) == name)
      return fail(StreamError::not_well_formed, "duplicate attribute");
    at = end + 1;
  }
  sc_->attr_names += name;
  sc_->attr_names += '\0';
  ++attr_count_;
  if (depth_ > 0 && has_prefix(name)) prefixed_ = true;
  if (depth_ == 0) {
    if (!header_) header_ = std::make_unique<StreamHeader>();
    header_->attributes.emplace_back(name, decode_entities(sc_->cur_value));
  }
  return true;
}

bool StreamFramer::finish_start_tag(bool empty) {
  sc_->attr_names.clear();
  attr_count_ = 0;
  if (depth_ == 0) {
    if (empty) return fail(StreamError::bad_format, "empty stream header");
    if (!header_) header_ = std::make_unique<StreamHeader>();
    header_->name = sc_->cur_name;
    names_ += sc_->cur_name;
    names_ += '\0';
    depth_ = 1;
    header_seen_ = true;
    state_ = S::text;
    return true;
  }
  // depth_ - 1 elements of the stanza are open; this one is at stanza depth depth_.
  if (depth_ > limits_.max_depth) return fail(StreamError::policy_violation, "stanza nesting too deep");
  state_ = S::text;
  if (has_prefix(sc_->cur_name)) prefixed_ = true;
  if (!empty) {
    sc_->open += sc_->cur_name;
    sc_->open += '\0';
    ++depth_;
  }
  return true;
}

bool StreamFramer::finish_end_tag() {
  if (depth_ == 0) return fail(StreamError::not_well_formed, "unbalanced end tag");
  // The innermost open element: the last NUL-ended name of the stanza's stack, or the
  // stream element itself.
  std::string& stack = depth_ >= 2 ? sc_->open : names_;
  const std::size_t end = stack.size() - 1;
  const std::size_t prev = end == 0 ? std::string::npos : stack.rfind('\0', end - 1);
  const std::size_t start = prev == std::string::npos ? 0 : prev + 1;
  if (std::string_view(stack).substr(start, end - start) != sc_->cur_name)
    return fail(StreamError::not_well_formed, "mismatched end tag");
  stack.resize(start);
  --depth_;
  state_ = depth_ == 0 ? S::done_end : S::text;
  return true;
}

std::uint8_t StreamFramer::run_mask() const {
  switch (state_) {
    case S::text:
      return depth_ >= 2 ? kText : 0;  // between stanzas only whitespace is allowed
    case S::attr_value:
      return kAttr;
    case S::start_name:
    case S::attr_name:
    case S::end_name:
      return kName;
    case S::cdata:
      return kInCdata;
    default:
      return 0;
  }
}

namespace {

// The end of the run of bytes of class `mask` from data[i], stopping at `end`. Every state
// with a fast path takes any non-ASCII XML Char as a plain one (names too: the byte loop
// takes bytes >= 0x80 as name characters), so a whole valid sequence is skipped; an invalid
// or cut one is left to the byte loop, which reports it where it used to.
std::size_t plain_run(std::string_view data, std::size_t i, std::size_t end, std::uint8_t mask) {
  const std::string_view window = data.substr(0, end);
  while (i < end) {
    const auto b = static_cast<unsigned char>(data[i]);
    if (kClass[b] & mask) {
      ++i;
    } else if (std::size_t n = b >= 0x80 ? xml_char_length(window, i) : 0) {
      i += n;
    } else {
      break;
    }
  }
  return i;
}

bool is_ascii_name_start(unsigned char b) {
  return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '_' || b == ':';
}

// The end of the run of ASCII name characters from data[i], stopping at `end`.
std::size_t name_run(std::string_view data, std::size_t i, std::size_t end) {
  while (i < end && (kClass[static_cast<unsigned char>(data[i])] & kName)) ++i;
  return i;
}

}  // namespace

bool StreamFramer::markup_run(std::string_view data, std::size_t& i, std::size_t& buf_from) {
  // Each byte taken here has the effects its step in the byte loop has: it is an ASCII XML
  // Char or a whole valid UTF-8 sequence (no decoder state), inside the stream (no header
  // count), and before `lim`, so within max_stanza; anything else stops the run there.
  std::size_t lim = 0;  // the bytes before lim fit in max_stanza (the byte loop's overflow())
  auto bound = [&] {
    const std::size_t held = stanza_.size();  // the stanza's bytes from earlier reads
    const std::size_t room = held <= limits_.max_stanza ? limits_.max_stanza - held : 0;
    lim = room < data.size() - buf_from ? buf_from + room : data.size();
  };
  if (state_ != S::text || depth_ >= 2) bound();  // depth 1: the stanza starts below
  for (;;) {
    if (state_ == S::text) {
      if (depth_ >= 2) i = plain_run(data, i, lim, kText);  // character data
      if (i >= data.size() || data[i] != '<') return true;
      if (depth_ == 1) {
        // A new stanza: like the byte loop, its '<' is not counted against the limit
        // (nothing is buffered yet), the bytes after it are.
        buffering_ = true;
        prefixed_ = false;
        buf_from = i;
        start_stanza();
        bound();
      } else if (i >= lim) {
        return true;
      }
      state_ = S::lt;
      ++i;
      if (i >= lim) return true;
      const auto b = static_cast<unsigned char>(data[i]);
      if (b == '/') {
        sc_->cur_name.clear();
        state_ = S::end_name;
      } else if (is_ascii_name_start(b)) {
        sc_->cur_name.assign(1, static_cast<char>(b));
        sc_->attr_names.clear();
        state_ = S::start_name;
      } else {
        return true;  // '!', '?' or an error: the byte loop
      }
      decl_allowed_ = false;
      const std::size_t e = name_run(data, ++i, lim);
      sc_->cur_name.append(data.data() + i, e - i);
      i = e;
      if (i >= lim) return true;
      if (state_ == S::end_name) {
        // An end tag inside the stanza; the stanza's own ends it (an event): the byte loop.
        if (data[i] != '>' || depth_ <= 2) return true;
        if (!finish_end_tag()) return false;
        ++i;
        continue;
      }
      if (data[i] == ' ') {
        state_ = S::in_tag;
        ++i;
      } else if (data[i] != '>') {
        return true;
      }
    }
    // Between attributes, or right after the start tag's name.
    while (i < lim && state_ != S::text) {
      const auto b = static_cast<unsigned char>(data[i]);
      if (b == '>') {  // start_name, in_tag or attr_after_value: the start tag ends
        if (!finish_start_tag(false)) return false;
        ++i;
        break;
      }
      if (state_ == S::start_name) return true;
      if (b == ' ') {
        state_ = S::in_tag;
        ++i;
        continue;
      }
      if (state_ != S::in_tag || !is_ascii_name_start(b)) return true;  // '/', other whitespace, errors
      // The name stays in data until the byte loop needs it in cur_attr (a stop inside it).
      const std::size_t name_at = i;
      state_ = S::attr_name;
      i = name_run(data, i + 1, lim);
      if (i >= lim || data[i] != '=') {
        sc_->cur_attr.assign(data.data() + name_at, i - name_at);
        return true;
      }
      const std::string_view name = data.substr(name_at, i - name_at);
      auto stop = [&] {  // the byte loop goes on from here: it ends the attribute with cur_attr
        sc_->cur_attr.assign(name);
        return true;
      };
      state_ = S::attr_eq;
      if (++i >= lim || (data[i] != '\'' && data[i] != '"')) return stop();
      quote_ = data[i];
      sc_->cur_value.clear();
      state_ = S::attr_value;
      i = plain_run(data, ++i, lim, kAttr);
      if (i >= lim || data[i] != quote_) return stop();  // '&', '<', a control, the limit
      const bool ok = finish_attribute(name);
      state_ = S::attr_after_value;  // as the byte loop leaves it, failed or not
      if (!ok) return false;
      ++i;
    }
    if (state_ != S::text) return true;
  }
}

StreamFramer::Step StreamFramer::feed(std::string_view data) {
  if (state_ == S::failed) return {Status::error, 0};
  if (state_ == S::done_end) return {Status::need_more, data.size()};  // after the end: ignored
  acquire_scratch();

  std::size_t buf_from = 0;  // start of this call's bytes belonging to the buffered stanza
  auto overflow = [&](std::size_t i) {
    return buffering_ && stanza_.size() + (i - buf_from + 1) > limits_.max_stanza;
  };

  for (std::size_t i = 0; i < data.size(); ++i) {
    // Fast path over tags and attributes (markup_run), then over runs of characters.
    if (need_ == 0 && depth_ >= 1 &&
        (state_ == S::text ? depth_ >= 2 || data[i] == '<'
                           : state_ == S::in_tag || state_ == S::attr_after_value)) {
      if (!markup_run(data, i, buf_from)) return {Status::error, i};
      if (i == data.size()) break;
    }
    // Fast path: a run of bytes the switch below would take one at a time with no effect
    // but appending them (valid characters that are not markup in this state) is taken at
    // once. The run stops short of the byte that would break the header or stanza limit,
    // so every error below is still reported by the byte loop, at the same offset.
    if (const std::uint8_t mask = need_ == 0 ? run_mask() : 0; mask != 0) {
      std::size_t end = data.size();
      if (depth_ == 0)
        end = std::min(end, i + (limits_.max_header - std::min(header_bytes_, limits_.max_header)));
      if (buffering_) {
        const std::size_t used = stanza_.size() + (i - buf_from);
        end = std::min(end, i + (used < limits_.max_stanza ? limits_.max_stanza - used : 0));
      }
      if (const std::size_t j = plain_run(data, i, end, mask); j > i) {
        const std::string_view run = data.substr(i, j - i);
        switch (state_) {
          case S::start_name:
          case S::end_name:
            sc_->cur_name += run;
            break;
          case S::attr_name:
            sc_->cur_attr += run;
            break;
          case S::attr_value:
            if (depth_ == 0) sc_->cur_value += run;
            break;
          case S::cdata:
            match_ = 0;
            break;
          default:
            break;
        }
        if (depth_ == 0) header_bytes_ += run.size();
        i = j;
        if (i == data.size()) break;
      }
    }
    const auto b = static_cast<unsigned char>(data[i]);
    // ASCII XML Chars (every one has a class bit) need no decoder outside a sequence.
    if ((need_ != 0 || kClass[b] == 0) && !check_char(b)) return {Status::error, i};
    if (depth_ == 0 && ++header_bytes_ > limits_.max_header)
      return fail(StreamError::policy_violation, "stream header too large"), Step{Status::error, i};
    if (overflow(i)) return fail(StreamError::policy_violation, "stanza too large"), Step{Status::error, i};

    bool ok = true;
    Status event = Status::need_more;
    switch (state_) {
      case S::prolog:
        if (b == '<') state_ = S::lt;
        else if (!is_ws(b)) ok = fail(StreamError::not_well_formed, "text before the stream header");
        break;
      case S::lt:
        if (b == '/') {
          if (depth_ == 0) ok = fail(StreamError::not_well_formed, "end tag before the stream header");
          sc_->cur_name.clear();
          state_ = S::end_name;
        } else if (b == '!') {
          match_ = 0;
          state_ = S::bang;
        } else if (b == '?') {
          if (depth_ == 0 && decl_allowed_) {
            sc_->entity.clear();
            match_ = 0;
            state_ = S::pi;
          } else {
            ok = fail(StreamError::restricted_xml, "processing instruction");
          }
        } else if (is_name_start(b)) {
          sc_->cur_name.assign(1, static_cast<char>(b));
          sc_->attr_names.clear();
          state_ = S::start_name;
        } else {
          ok = fail(StreamError::not_well_formed, "bad character after '<'");
        }
        decl_allowed_ = false;
        break;
      case S::bang:
        if (b == '-') ok = fail(StreamError::restricted_xml, "comment");
        else if (b == '[' && depth_ >= 2) match_ = 1, state_ = S::cdata_open;
        else if (b == '[') ok = fail(StreamError::not_well_formed, "CDATA outside a stanza");
        else ok = fail(StreamError::restricted_xml, "DTD or declaration");
        break;
      case S::cdata_open:
        if (b != static_cast<unsigned char>(kCdata[match_])) {
          ok = fail(StreamError::not_well_formed, "bad CDATA section");
        } else if (++match_ == kCdata.size()) {
          match_ = 0;
          state_ = S::cdata;
        }
        break;
      case S::cdata:
        if (b == ']') match_ = match_ < 2 ? match_ + 1 : 2;
        else if (b == '>' && match_ == 2) state_ = S::text;
        else match_ = 0;
        break;
      case S::pi:
        if (b == '>' && match_ == 1) {
          // Only the XML declaration: "<?xml" followed by whitespace.
          if (sc_->entity.size() < 4 || sc_->entity.compare(0, 3, "xml") != 0 ||
              !is_ws(static_cast<unsigned char>(sc_->entity[3])))
            ok = fail(StreamError::restricted_xml, "processing instruction");
          state_ = S::prolog;
        } else {
          match_ = b == '?' ? 1 : 0;
          sc_->entity += static_cast<char>(b);
        }
        break;
      case S::start_name:
        if (is_name_char(b)) sc_->cur_name += static_cast<char>(b);
        else if (is_ws(b)) state_ = S::in_tag;
        else if (b == '/') state_ = S::empty_slash;
        else if (b == '>') {
          bool header = depth_ == 0;
          ok = finish_start_tag(false);
          if (ok && header) event = Status::header;
        } else {
          ok = fail(StreamError::not_well_formed, "bad element name");
        }
        break;
      case S::in_tag:
      case S::attr_after_value:
        if (is_ws(b)) {
          state_ = S::in_tag;
        } else if (b == '/') {
          state_ = S::empty_slash;
        } else if (b == '>') {
          bool header = depth_ == 0;
          ok = finish_start_tag(false);
          if (ok && header) event = Status::header;
        } else if (state_ == S::in_tag && is_name_start(b)) {
          sc_->cur_attr.assign(1, static_cast<char>(b));
          state_ = S::attr_name;
        } else {
          ok = fail(StreamError::not_well_formed, "bad attribute syntax");
        }
        break;
      case S::attr_name:
        if (is_name_char(b)) sc_->cur_attr += static_cast<char>(b);
        else if (is_ws(b)) state_ = S::attr_after_name;
        else if (b == '=') state_ = S::attr_eq;
        else ok = fail(StreamError::not_well_formed, "bad attribute name");
        break;
      case S::attr_after_name:
        if (b == '=') state_ = S::attr_eq;
        else if (!is_ws(b)) ok = fail(StreamError::not_well_formed, "attribute without value");
        break;
      case S::attr_eq:
        if (b == '"' || b == '\'') {
          quote_ = static_cast<char>(b);
          sc_->cur_value.clear();
          state_ = S::attr_value;
        } else if (!is_ws(b)) {
          ok = fail(StreamError::not_well_formed, "unquoted attribute value");
        }
        break;
      case S::attr_value:
        if (b == static_cast<unsigned char>(quote_)) {
          ok = finish_attribute(sc_->cur_attr);
          state_ = S::attr_after_value;
        } else if (b == '<') {
          ok = fail(StreamError::not_well_formed, "'<' in attribute value");
        } else if (b == '&') {
          sc_->entity.clear();
          entity_return_ = S::attr_value;
          state_ = S::entity;
        } else if (depth_ == 0) {
          sc_->cur_value += static_cast<char>(b);
        }
        break;
      case S::empty_slash:
        if (b == '>') {
          if (depth_ == 0) {
            ok = finish_start_tag(true);
          } else {
            ok = finish_start_tag(true);
            if (ok && depth_ == 1) event = Status::stanza;
          }
        } else {
          ok = fail(StreamError::not_well_formed, "expected '>' after '/'");
        }
        break;
      case S::end_name:
      case S::end_ws:
        if (state_ == S::end_name && is_name_char(b)) {
          sc_->cur_name += static_cast<char>(b);
        } else if (is_ws(b)) {
          state_ = S::end_ws;
        } else if (b == '>') {
          ok = finish_end_tag();
          if (ok) event = depth_ == 0 ? Status::stream_end : depth_ == 1 ? Status::stanza : Status::need_more;
        } else {
          ok = fail(StreamError::not_well_formed, "bad end tag");
        }
        break;
      case S::text:
        if (b == '<') {
          if (depth_ == 1) {
            buffering_ = true;
            prefixed_ = false;
            buf_from = i;
            start_stanza();
          }
          state_ = S::lt;
        } else if (depth_ == 1) {
          if (!is_ws(b)) ok = fail(StreamError::not_well_formed, "text between stanzas");
        } else if (b == '&') {
          sc_->entity.clear();
          entity_return_ = S::text;
          state_ = S::entity;
        }
        break;
      case S::entity:
        if (b == ';') {
          ok = on_entity_end();
          if (ok && entity_return_ == S::attr_value && depth_ == 0) {
            sc_->cur_value += '&';
            sc_->cur_value += sc_->entity;
            sc_->cur_value += ';';
          }
          state_ = ok ? entity_return_ : state_;
        } else if (is_name_char(b) || b == '#') {
          if (sc_->entity.size() >= kMaxEntity) {
            ok = fail(sc_->entity[0] == '#' ? StreamError::not_well_formed : StreamError::restricted_xml,
                      "entity reference too long");
          } else {
            sc_->entity += static_cast<char>(b);
          }
        } else {
          ok = fail(StreamError::not_well_formed, "bad entity reference");
        }
        break;
      case S::done_end:
      case S::failed:
        break;
    }
    if (!ok) return {Status::error, i};
    if (event == Status::stanza) {
      stanza_.insert(stanza_.end(), data.begin() + static_cast<std::ptrdiff_t>(buf_from),
                     data.begin() + static_cast<std::ptrdiff_t>(i + 1));
      buffering_ = false;
      trim();
      if (i + 1 == data.size()) release_if_idle();  // the read ends with this stanza
      return {Status::stanza, i + 1};
    }
    if (event == Status::stream_end) {
      buffering_ = false;
      stanza_.clear();
      return {Status::stream_end, i + 1};
    }
    if (event == Status::header) return {Status::header, i + 1};
  }
  if (buffering_)
    stanza_.insert(stanza_.end(), data.begin() + static_cast<std::ptrdiff_t>(buf_from), data.end());
  release_if_idle();
  return {Status::need_more, data.size()};
}

}  // namespace parley::protocols::xmpp

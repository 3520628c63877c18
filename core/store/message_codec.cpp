#include "core/store/message_codec.hpp"

#include <chrono>
#include <cstdint>
#include <limits>

namespace parley::core {
namespace {

constexpr std::string_view kMagic = "PM";
constexpr std::uint8_t kFormatVersion = 1;

// Field tags. Numbers are part of the stored format: never renumber or reuse one.
namespace msg_tag {
constexpr std::uint64_t id = 1, from = 2, to = 3, kind = 4, body = 5, rich = 6, subject = 7, thread = 8,
                        timestamp = 9, chat_state = 10, receipt_request = 11, nick = 12, origin = 13,
                        receipt_for = 14, no_copy = 15, origin_id = 16;
}
namespace addr_tag {
constexpr std::uint64_t kind = 1, id = 2, resource = 3;
}
namespace span_tag {
constexpr std::uint64_t begin = 1, end = 2, flags = 3, fg = 4, bg = 5;
}
namespace origin_tag {
constexpr std::uint64_t protocol = 1, session = 2, bridge = 3;
}

// ---- writing ---------------------------------------------------------------------------

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

void put_bytes(std::string& out, std::uint64_t tag, std::string_view payload) {
  put_varint(out, tag);
  put_varint(out, payload.size());
  out.append(payload);
}

void put_uint(std::string& out, std::uint64_t tag, std::uint64_t v) {
  std::string payload;
  put_varint(payload, v);
  put_bytes(out, tag, payload);
}

std::string encode_address(const Address& a) {
  std::string out;
  put_uint(out, addr_tag::kind, static_cast<std::uint64_t>(a.kind()));
  if (!a.id().empty()) put_bytes(out, addr_tag::id, a.id());
  if (!a.resource().empty()) put_bytes(out, addr_tag::resource, a.resource());
  return out;
}

std::string encode_span(const StyleSpan& s) {
  std::string out;
  if (s.begin != 0) put_uint(out, span_tag::begin, s.begin);
  if (s.end != 0) put_uint(out, span_tag::end, s.end);
  if (s.flags != 0) put_uint(out, span_tag::flags, s.flags);
  if (s.fg) put_uint(out, span_tag::fg, *s.fg);
  if (s.bg) put_uint(out, span_tag::bg, *s.bg);
  return out;
}

std::string encode_origin(const Origin& o) {
  std::string out;
  if (o.protocol != Protocol::local)
    put_uint(out, origin_tag::protocol, static_cast<std::uint64_t>(o.protocol));
  if (o.session != 0) put_uint(out, origin_tag::session, o.session);
  if (!o.bridge.empty()) put_bytes(out, origin_tag::bridge, o.bridge);
  return out;
}

// ---- reading ---------------------------------------------------------------------------

Error corrupt(std::string what) { return make_error(Condition::bad_request, "stored message: " + what); }

// A cursor over untrusted bytes. Every read checks the bytes left first.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }

  // LEB128, at most 10 bytes, and the 10th may only carry the top bit of a uint64.
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos_ >= in_.size()) return false;
      auto b = static_cast<std::uint8_t>(in_[pos_++]);
      if (i == 9 && b > 1) return false;
      v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
      if (!(b & 0x80)) return true;
    }
    return false;
  }

  bool bytes(std::uint64_t n, std::string_view& out) {
    if (n > in_.size() - pos_) return false;
    out = in_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return true;
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

struct Field {
  std::uint64_t tag = 0;
  std::string_view payload;
};

// Walks a field sequence, rejecting a singular field that appears twice. Tags at or above
// 64 are never singular fields we know, so the bitmask covers every known tag.
class FieldReader {
 public:
  explicit FieldReader(std::string_view in) : r_(in) {}
  bool done() const { return r_.done(); }

  Status next(Field& f) {
    std::uint64_t len = 0;
    if (!r_.varint(f.tag) || !r_.varint(len)) return corrupt("truncated field header");
    if (!r_.bytes(len, f.payload)) return corrupt("field length exceeds input");
    return {};
  }

  Status once(std::uint64_t tag) {
    if (tag >= 64) return {};
    auto bit = std::uint64_t{1} << tag;
    if (seen_ & bit) return corrupt("repeated field " + std::to_string(tag));
    seen_ |= bit;
    return {};
  }

 private:
  Reader r_;
  std::uint64_t seen_ = 0;
};

Result<std::uint64_t> read_uint(std::string_view payload, std::uint64_t max) {
  Reader r(payload);
  std::uint64_t v = 0;
  if (!r.varint(v) || !r.done()) return corrupt("malformed integer");
  if (v > max) return corrupt("integer out of range");
  return v;
}

// Reads an integer field into `out` (any integral or enum type with the given maximum).
template <class T>
Status read_into(std::string_view payload, T& out, std::uint64_t max) {
  auto v = read_uint(payload, max);
  if (!v) return v.error();
  out = static_cast<T>(*v);
  return {};
}

Result<Address> decode_address(std::string_view in) {
  FieldReader fr(in);
  std::uint64_t kind = 0;
  std::string id, resource;
  while (!fr.done()) {
    Field f;
    if (auto s = fr.next(f); !s) return s.error();
    if (auto s = fr.once(f.tag); !s) return s.error();
    Status s;
    switch (f.tag) {
      case addr_tag::kind:
        s = read_into(f.payload, kind, static_cast<std::uint64_t>(Address::Kind::foreign));
        break;
      case addr_tag::id:
        id = f.payload;
        break;
      case addr_tag::resource:
        resource = f.payload;
        break;
      default:
        break;  // a newer field: skip
    }
    if (!s) return s.error();
  }
  // Rebuild through Address's own factories so a decoded address is one the model could
  // have made; anything else is corruption.
  switch (static_cast<Address::Kind>(kind)) {
    case Address::Kind::none:
      if (!id.empty() || !resource.empty()) return corrupt("empty address with content");
      return Address{};
    case Address::Kind::user:
      return Address::user(std::move(id), std::move(resource));
    case Address::Kind::room:
      if (!resource.empty()) return corrupt("room address with a resource");
      return Address::room(std::move(id));
    case Address::Kind::foreign: {
      if (!resource.empty()) return corrupt("foreign address with a resource");
      auto a = Address::foreign(std::move(id));
      if (!a) return corrupt("foreign address: " + a.error().text);
      return a;
    }
  }
  return corrupt("bad address kind");
}

Result<StyleSpan> decode_span(std::string_view in) {
  FieldReader fr(in);
  StyleSpan span;
  constexpr std::uint64_t u32 = std::numeric_limits<std::uint32_t>::max();
  while (!fr.done()) {
    Field f;
    if (auto s = fr.next(f); !s) return s.error();
    if (auto s = fr.once(f.tag); !s) return s.error();
    Status s;
    switch (f.tag) {
      case span_tag::begin:
        s = read_into(f.payload, span.begin, u32);
        break;
      case span_tag::end:
        s = read_into(f.payload, span.end, u32);
        break;
      case span_tag::flags:
        s = read_into(f.payload, span.flags, 0xff);
        break;
      case span_tag::fg:
        s = read_into(f.payload, span.fg.emplace(), u32);
        break;
      case span_tag::bg:
        s = read_into(f.payload, span.bg.emplace(), u32);
        break;
      default:
        break;
    }
    if (!s) return s.error();
  }
  return span;
}

Result<Origin> decode_origin(std::string_view in) {
  FieldReader fr(in);
  Origin o;
  while (!fr.done()) {
    Field f;
    if (auto s = fr.next(f); !s) return s.error();
    if (auto s = fr.once(f.tag); !s) return s.error();
    Status s;
    switch (f.tag) {
      case origin_tag::protocol:
        s = read_into(f.payload, o.protocol, static_cast<std::uint64_t>(Protocol::psyc));
        break;
      case origin_tag::session:
        s = read_into(f.payload, o.session, std::numeric_limits<std::uint64_t>::max());
        break;
      case origin_tag::bridge:
        o.bridge = f.payload;
        break;
      default:
        break;
    }
    if (!s) return s.error();
  }
  return o;
}

}  // namespace

std::string encode_message(const Message& m) {
  std::string out;
  out.reserve(64 + m.body.size() + m.id.size());
  out.append(kMagic);
  out.push_back(static_cast<char>(kFormatVersion));
  if (!m.id.empty()) put_bytes(out, msg_tag::id, m.id);
  if (!m.from.empty()) put_bytes(out, msg_tag::from, encode_address(m.from));
  if (!m.to.empty()) put_bytes(out, msg_tag::to, encode_address(m.to));
  if (m.kind != MessageKind::direct) put_uint(out, msg_tag::kind, static_cast<std::uint64_t>(m.kind));
  if (!m.body.empty()) put_bytes(out, msg_tag::body, m.body);
  for (const auto& span : m.rich) put_bytes(out, msg_tag::rich, encode_span(span));
  if (m.subject) put_bytes(out, msg_tag::subject, *m.subject);  // present even when empty
  if (!m.thread.empty()) put_bytes(out, msg_tag::thread, m.thread);
  // Nanoseconds since the Unix epoch: exact for system_clock on Linux, +-292 years.
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(m.timestamp.time_since_epoch()).count();
  if (ns != 0) {
    std::string payload;
    put_varint(payload, zigzag(ns));
    put_bytes(out, msg_tag::timestamp, payload);
  }
  if (m.chat_state != ChatState::none)
    put_uint(out, msg_tag::chat_state, static_cast<std::uint64_t>(m.chat_state));
  if (m.receipt_request) put_uint(out, msg_tag::receipt_request, 1);
  if (!m.nick.empty()) put_bytes(out, msg_tag::nick, m.nick);
  if (m.origin != Origin{}) put_bytes(out, msg_tag::origin, encode_origin(m.origin));
  if (!m.receipt_for.empty()) put_bytes(out, msg_tag::receipt_for, m.receipt_for);
  if (m.no_copy) put_uint(out, msg_tag::no_copy, 1);
  if (!m.origin_id.empty()) put_bytes(out, msg_tag::origin_id, m.origin_id);
  return out;
}

Result<Message> decode_message(std::string_view bytes) {
  if (bytes.size() < kMagic.size() + 1 || bytes.substr(0, kMagic.size()) != kMagic)
    return corrupt("bad magic");
  auto version = static_cast<std::uint8_t>(bytes[kMagic.size()]);
  if (version != kFormatVersion) return corrupt("unsupported format version " + std::to_string(version));

  FieldReader fr(bytes.substr(kMagic.size() + 1));
  Message m;
  while (!fr.done()) {
    Field f;
    if (auto s = fr.next(f); !s) return s.error();
    // Spans repeat; every other known field is singular.
    if (f.tag != msg_tag::rich) {
      if (auto s = fr.once(f.tag); !s) return s.error();
    }
    Status s;
    switch (f.tag) {
      case msg_tag::id:
        m.id = f.payload;
        break;
      case msg_tag::from:
      case msg_tag::to: {
        auto a = decode_address(f.payload);
        if (!a) return a.error();
        (f.tag == msg_tag::from ? m.from : m.to) = std::move(*a);
        break;
      }
      case msg_tag::kind:
        s = read_into(f.payload, m.kind, static_cast<std::uint64_t>(MessageKind::action));
        break;
      case msg_tag::body:
        m.body = f.payload;
        break;
      case msg_tag::rich: {
        auto span = decode_span(f.payload);
        if (!span) return span.error();
        m.rich.push_back(*span);
        break;
      }
      case msg_tag::subject:
        m.subject = std::string(f.payload);
        break;
      case msg_tag::thread:
        m.thread = f.payload;
        break;
      case msg_tag::timestamp: {
        auto v = read_uint(f.payload, std::numeric_limits<std::uint64_t>::max());
        if (!v) return v.error();
        std::chrono::nanoseconds ns(unzigzag(*v));
        m.timestamp = Timestamp(std::chrono::duration_cast<Clock::duration>(ns));
        break;
      }
      case msg_tag::chat_state:
        s = read_into(f.payload, m.chat_state, static_cast<std::uint64_t>(ChatState::gone));
        break;
      case msg_tag::receipt_request:
        s = read_into(f.payload, m.receipt_request, 1);
        break;
      case msg_tag::nick:
        m.nick = f.payload;
        break;
      case msg_tag::receipt_for:
        m.receipt_for = f.payload;
        break;
      case msg_tag::origin_id:
        m.origin_id = f.payload;
        break;
      case msg_tag::no_copy:
        s = read_into(f.payload, m.no_copy, 1);
        break;
      case msg_tag::origin: {
        auto o = decode_origin(f.payload);
        if (!o) return o.error();
        m.origin = std::move(*o);
        break;
      }
      default:
        break;  // a field from a newer Parley: skip
    }
    if (!s) return s.error();
  }
  return m;
}

}  // namespace parley::core

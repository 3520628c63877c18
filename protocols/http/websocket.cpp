#include "protocols/http/websocket.hpp"

#include <openssl/sha.h>

#include <cstring>

#include "protocols/common/sasl.hpp"

namespace parley::protocols::ws {

namespace {
constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // §1.3

FrameReader::Event fail(CloseCode code, const char* why) {
  FrameReader::Event e;
  e.kind = FrameReader::Kind::error;
  e.code = code;
  e.why = why;
  return e;
}

// Length of the UTF-8 sequence at s[i] if it is valid (RFC 3629: no overlongs, no
// surrogates, at most U+10FFFF), else 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c == 0xE0)
    n = 3, lo = 0xA0;
  else if (c == 0xED)
    n = 3, hi = 0x9F;
  else if (c >= 0xE1 && c <= 0xEF)
    n = 3;
  else if (c == 0xF0)
    n = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3)
    n = 4;
  else if (c == 0xF4)
    n = 4, hi = 0x8F;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80u) || b > (k == 1 ? hi : 0xBFu)) return 0;
  }
  return n;
}
}  // namespace

bool valid_client_key(std::string_view key) {
  if (key.size() != 24) return false;
  auto raw = sasl::base64_decode(key);
  return raw && raw->size() == 16;
}

std::string accept_key(std::string_view client_key) {
  std::string in(client_key);
  in += kGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  return sasl::base64_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

void write_frame(std::string& out, Opcode op, std::string_view payload) {
  out += static_cast<char>(0x80 | static_cast<std::uint8_t>(op));  // FIN, no RSV
  const std::uint64_t n = payload.size();
  if (n < 126) {
    out += static_cast<char>(n);
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xFF);
  }
  out.append(payload);
}

void write_close(std::string& out, CloseCode code) {
  const auto c = static_cast<std::uint16_t>(code);
  const char body[2] = {static_cast<char>(c >> 8), static_cast<char>(c & 0xFF)};
  write_frame(out, Opcode::close, std::string_view(body, 2));
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void append_utf8_sanitized(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
}

FrameReader::Event FrameReader::next(std::string_view in) {
  for (std::size_t used = 0;;) {
    std::string_view f = in.substr(used);
    Event e;
    e.consumed = used;
    if (f.size() < 2) return e;
    const auto b0 = static_cast<unsigned char>(f[0]);
    const auto b1 = static_cast<unsigned char>(f[1]);
    const bool fin = b0 & 0x80;
    if (b0 & 0x70) return fail(CloseCode::protocol_error, "reserved bits set (no extension was negotiated)");
    const auto op = static_cast<Opcode>(b0 & 0x0F);
    if (!(b1 & 0x80)) return fail(CloseCode::protocol_error, "unmasked client frame");  // §5.1
    std::uint64_t len = b1 & 0x7F;
    std::size_t header = 2;
    if (len == 126) {
      if (f.size() < 4) return e;
      len = (static_cast<std::uint64_t>(static_cast<unsigned char>(f[2])) << 8) |
            static_cast<unsigned char>(f[3]);
      header = 4;
    } else if (len == 127) {
      if (f.size() < 10) return e;
      len = 0;
      for (int k = 2; k < 10; ++k) len = (len << 8) | static_cast<unsigned char>(f[k]);
      if (len >> 63) return fail(CloseCode::protocol_error, "frame length out of range");
      header = 10;
    }
    header += 4;  // masking key
    const bool control = static_cast<std::uint8_t>(op) & 0x08;
    switch (op) {
      case Opcode::continuation:
      case Opcode::text:
      case Opcode::binary:
      case Opcode::close:
      case Opcode::ping:
      case Opcode::pong:
        break;
      default:
        return fail(CloseCode::protocol_error, "unknown opcode");
    }
    if (control && (!fin || len > 125)) return fail(CloseCode::protocol_error, "bad control frame");  // §5.5
    if (!control) {
      if (op == Opcode::continuation && !in_message_)
        return fail(CloseCode::protocol_error, "continuation without a message");
      if (op != Opcode::continuation && in_message_)
        return fail(CloseCode::protocol_error, "new message inside a fragmented one");
      const std::size_t so_far = op == Opcode::continuation ? message_.size() : 0;
      if (len > limits_.max_message - so_far) return fail(CloseCode::too_big, "message too big");
      if (op == Opcode::continuation && ++fragments_ > limits_.max_fragments)
        return fail(CloseCode::policy, "too many fragments");
    }
    if (f.size() < header || f.size() - header < len) return e;  // wait for the whole frame (bounded above)
    const char* mask = f.data() + header - 4;
    std::string& dst = control ? control_ : message_;
    if (control) control_.clear();
    if (!control && op != Opcode::continuation) {
      message_.clear();
      in_message_ = true;
      fragments_ = 1;
      text_ = op == Opcode::text;
    }
    const std::size_t start = dst.size();
    dst.append(f.data() + header, static_cast<std::size_t>(len));
    for (std::size_t k = 0; k < len; ++k) dst[start + k] = static_cast<char>(dst[start + k] ^ mask[k & 3]);
    used += header + static_cast<std::size_t>(len);
    e.consumed = used;
    if (control) {
      e.payload = control_;
      if (op == Opcode::ping)
        e.kind = Kind::ping;
      else if (op == Opcode::pong)
        e.kind = Kind::pong;
      else {
        if (control_.size() == 1) return fail(CloseCode::protocol_error, "bad close frame");
        if (control_.size() >= 2)
          e.code = static_cast<CloseCode>((static_cast<unsigned char>(control_[0]) << 8) |
                                          static_cast<unsigned char>(control_[1]));
        e.kind = Kind::close;
      }
      return e;
    }
    if (!fin) continue;  // more fragments follow
    in_message_ = false;
    if (text_ && !valid_utf8(message_)) return fail(CloseCode::invalid_data, "text message is not UTF-8");
    e.kind = Kind::message;
    e.text = text_;
    e.payload = message_;
    return e;
  }
}

Framing::Unwrapped WsFraming::unwrap(std::string_view wire, std::string& app, std::string& reply) {
  if (failed_) return {true, "WebSocket closed"};
  std::string_view in = wire;
  if (!buffer_.empty()) {
    buffer_.append(wire);
    in = buffer_;
  }
  Unwrapped result;
  std::size_t used = 0;
  while (!result.close) {
    auto e = reader_.next(in.substr(used));
    used += e.consumed;
    switch (e.kind) {
      case FrameReader::Kind::need_more:
        goto done;
      case FrameReader::Kind::message: {
        const char* why = "";
        CloseCode code = CloseCode::policy;
        if (!on_message(e.payload, e.text, app, why, code)) {
          failed_ = true;
          if (!close_sent_) write_close(reply, code);
          close_sent_ = true;
          result = {true, why};
        }
        break;
      }
      case FrameReader::Kind::ping:
        write_frame(reply, Opcode::pong, e.payload);  // §5.5.3: the same application data
        break;
      case FrameReader::Kind::pong:
        break;
      case FrameReader::Kind::close:
        // §5.5.1: answer with a close frame (echoing the code) unless one was sent already.
        on_peer_close(app);
        if (!close_sent_)
          write_close(reply, e.code == CloseCode::normal || e.payload.empty() ? CloseCode::normal : e.code);
        close_sent_ = true;
        failed_ = true;
        result = {true, "WebSocket closed by the peer"};
        break;
      case FrameReader::Kind::error:
        failed_ = true;
        if (!close_sent_) write_close(reply, e.code);
        close_sent_ = true;
        result = {true, e.why};
        break;
    }
  }
done:
  std::string rest(in.substr(used));
  if (!result.close && rest.size() > reader_.max_frame_bytes()) {
    // Cannot happen with a conforming reader (it refuses oversized frames from their
    // header); a guard for the buffer's bound all the same.
    failed_ = true;
    write_close(reply, CloseCode::too_big);
    close_sent_ = true;
    return {true, "frame too big"};
  }
  buffer_ = result.close ? std::string() : std::move(rest);
  return result;
}

void WsFraming::closing(std::string& wire) {
  if (close_sent_) return;
  close_sent_ = true;
  write_close(wire, CloseCode::normal);
}

}  // namespace parley::protocols::ws

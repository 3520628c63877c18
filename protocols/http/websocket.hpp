#pragma once
// WebSocket (RFC 6455) as a pure value layer: the server side of the opening handshake's
// key, an incremental reader of client frames and a writer of server frames, and WsFraming,
// the Framing (protocols/common/framing.hpp) that carries a stream protocol over messages.
//
// Bounds, checked before any payload is buffered: one message (all its fragments) is at most
// Limits::max_message bytes and Limits::max_fragments frames; control frames at most 125
// bytes (§5.5). Client frames must be masked (§5.3) and use no extension (RSV bits 0, §5.2).
// A text message must be valid UTF-8 (§8.1). A broken rule fails the connection with the
// close code of §7.4.1.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/common/framing.hpp"

namespace parley::protocols::ws {

enum class Opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// §7.4.1
enum class CloseCode : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported = 1003,
  invalid_data = 1007,
  policy = 1008,
  too_big = 1009,
};

struct Limits {
  std::size_t max_message = 256 * 1024;
  std::uint32_t max_fragments = 64;
};

// §4.2.1: the client's Sec-WebSocket-Key is base64 of 16 bytes.
bool valid_client_key(std::string_view key);
// §4.2.2: base64(SHA-1(key + the protocol's GUID)).
std::string accept_key(std::string_view client_key);

// Appends one unmasked, unfragmented server frame.
void write_frame(std::string& out, Opcode op, std::string_view payload);
// A close frame with `code` (and no reason).
void write_close(std::string& out, CloseCode code);

bool valid_utf8(std::string_view s);
// Invalid sequences become U+FFFD.
void append_utf8_sanitized(std::string& out, std::string_view s);

class FrameReader {
 public:
  enum class Kind : std::uint8_t { need_more, message, ping, pong, close, error };
  struct Event {
    Kind kind = Kind::need_more;
    std::size_t consumed = 0;  // bytes of the input this event used
    bool text = false;         // message: a text message (else binary)
    // message: the whole payload (valid until the next call); ping/close: the frame's payload
    std::string_view payload;
    CloseCode code = CloseCode::normal;  // close: the peer's code; error: the code to answer
    const char* why = "";                // error: static text
  };

  explicit FrameReader(Limits limits) : limits_(limits) {}
  // Reads at most one frame from the start of `in`. need_more consumes nothing: call again
  // with the same bytes and more. A data frame that does not finish a message is consumed
  // and the next one read at once (no event).
  Event next(std::string_view in);
  // The most bytes a caller may have to buffer for one frame.
  std::size_t max_frame_bytes() const { return limits_.max_message + 14; }

 private:
  Limits limits_;
  std::string message_;  // the fragments of the message in progress, unmasked
  std::string control_;  // the payload of the last control frame, unmasked
  std::uint32_t fragments_ = 0;
  bool in_message_ = false;
  bool text_ = false;
};

// RFC 6455 framing under a stream protocol. Subclasses map one complete message to the
// protocol's bytes and the protocol's output to messages.
class WsFraming : public Framing {
 public:
  explicit WsFraming(Limits limits) : reader_(limits) {}
  Unwrapped unwrap(std::string_view wire, std::string& app, std::string& reply) final;
  // Nothing follows a close frame (RFC 6455 §5.5.1): output after it is dropped.
  void wrap(std::string_view app, std::string& wire) final {
    if (!close_sent_) on_outgoing(app, wire);
  }
  void closing(std::string& wire) override;

 protected:
  // A complete message from the peer: append what it means to the protocol's input. false:
  // refused (why set, static text): the connection fails with `code`.
  virtual bool on_message(std::string_view payload, bool text, std::string& app, const char*& why,
                          CloseCode& code) = 0;
  // Protocol output: append it as frames to `wire`.
  virtual void on_outgoing(std::string_view app, std::string& wire) = 0;
  // The peer's close frame arrived; what the protocol would have read at its end (XMPP: the
  // stream's end), appended to `app`.
  virtual void on_peer_close(std::string& app) {}

 private:
  FrameReader reader_;
  std::string buffer_;  // a partial frame, at most reader_.max_frame_bytes()
  bool close_sent_ = false;
  bool failed_ = false;
};

}  // namespace parley::protocols::ws

#pragma once
// A message layer between a Connection's wire bytes (after TLS) and its protocol: the seam
// that lets a stream protocol (XMPP c2s, IRC) run unchanged over WebSocket messages as well as
// over a TCP byte stream. Like TLS it sits inside Connection (net.hpp): inbound, unwrap()
// turns wire bytes into the protocol's own byte stream for on_data(); outbound, send() passes
// the protocol's bytes through wrap(). A plain TCP connection has no Framing (one pointer
// test per read and per send).
//
// Implementations: protocols/http/websocket.hpp (WsFraming: RFC 6455 frames) and, on top of
// it, the per-protocol mappings (protocols/xmpp/ws_framing.hpp: RFC 7395,
// protocols/irc/ws_framing.hpp: IRCv3 WebSocket). Used on the connection's strand only.
#include <string>
#include <string_view>

namespace parley::protocols {

class Framing {
 public:
  struct Unwrapped {
    bool close = false;       // the peer closed or broke the framing: send what is queued, then close
    std::string_view reason;  // why (static text), for on_close
  };
  virtual ~Framing() = default;
  // Wire bytes from the peer (any split; the framing buffers partial frames, bounded).
  // Protocol bytes go to `app` (fed to on_data), control answers (pong, close) to `reply`
  // (written as they are).
  virtual Unwrapped unwrap(std::string_view wire, std::string& app, std::string& reply) = 0;
  // Protocol bytes to send: appends their wire form to `wire`.
  virtual void wrap(std::string_view app, std::string& wire) = 0;
  // The connection is closing gracefully (close_after_flush): the closing handshake's bytes.
  virtual void closing(std::string& wire) = 0;
};

}  // namespace parley::protocols

#pragma once
// IRC over WebSocket (IRCv3 "WebSocket" specification) mapped onto the IRC line stream, so
// that IrcConnection and IrcServer serve WebSocket clients unchanged:
//   - subprotocol "binary.ircv3.net": binary messages, bytes as they are;
//     "text.ircv3.net" (and no subprotocol): text messages, which must be UTF-8 (RFC 6455
//     §8.1): outgoing lines that are not get U+FFFD for each invalid byte;
//   - one IRC line per message, without CR LF either way; a message with CR, LF or NUL in it
//     is refused (the connection fails), the client must split its lines itself.
// Line length bounds are the IRC codec's (512/8191 bytes), as for TCP clients.
#include <string>
#include <string_view>

#include "protocols/http/websocket.hpp"

namespace parley::protocols::irc {

inline constexpr std::string_view kWsText = "text.ircv3.net";
inline constexpr std::string_view kWsBinary = "binary.ircv3.net";

class IrcWsFraming final : public ws::WsFraming {
 public:
  IrcWsFraming(ws::Limits limits, bool binary) : WsFraming(limits), binary_(binary) {}

 protected:
  bool on_message(std::string_view payload, bool text, std::string& app, const char*& why,
                  ws::CloseCode& code) override;
  void on_outgoing(std::string_view app, std::string& wire) override;

 private:
  std::string pending_;  // output after the last line end (IrcServer writes whole lines)
  bool binary_;
};

}  // namespace parley::protocols::irc

#pragma once
// XMPP over WebSocket (RFC 7395) mapped onto the c2s byte stream, so that the stream logic
// (adapters/xmpp C2sConnection) is the same for TCP and WebSocket clients:
//   in:  <open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to= version=/>  ->  a stream header
//        <close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>            ->  </stream:stream>
//        any other message: one complete element (§3.3.3), passed on as it is
//   out: the stream header -> <open/>, </stream:stream> -> <close/>, every top-level element
//        one text message, with the namespace declarations a standalone document needs
//        (jabber:client for stanzas, the stream prefix for stream:features and stream:error);
//        the XML declaration and whitespace keepalives are dropped.
// The XML itself is checked where TCP input is checked, by the c2s StreamFramer and its
// limits; here only the message boundaries are.
#include <string>
#include <string_view>

#include "protocols/http/websocket.hpp"

namespace parley::protocols::xmpp {

inline constexpr std::string_view kFramingNs = "urn:ietf:params:xml:ns:xmpp-framing";

// The end (one past '>') of the element starting at s[start] ('<'), std::string_view::npos
// when it is incomplete; `error` when it is not an element a stanza may be (comments,
// CDATA, processing instructions, a stray end tag). `name` receives the element's name.
std::size_t element_end(std::string_view s, std::size_t start, bool& error, std::string_view* name = nullptr);

class XmppWsFraming final : public ws::WsFraming {
 public:
  explicit XmppWsFraming(ws::Limits limits) : WsFraming(limits) {}

 protected:
  bool on_message(std::string_view payload, bool text, std::string& app, const char*& why,
                  ws::CloseCode& code) override;
  void on_outgoing(std::string_view app, std::string& wire) override;
  void on_peer_close(std::string& app) override;

 private:
  std::string pending_;  // output that ended inside an element (not expected: sends are whole)
  bool peer_closed_ = false;
  bool opened_ = false;  // the client's <open/> came
};

}  // namespace parley::protocols::xmpp

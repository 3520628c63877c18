// Fuzzes what the HTTP listener does with a client's bytes: Boost.Beast's request parser
// configured as HttpConnection configures it (header and body limits, eager), pipelined
// requests one after another; the WebSocket handshake helpers on the parsed key; and the
// rest of the input as WebSocket frames through the XMPP (RFC 7395) and IRC (IRCv3)
// framings, whole and split at an input-chosen point, plus their output side on the
// decoded input.
// fuzz-sources: protocols/http/websocket.cpp protocols/xmpp/ws_framing.cpp
// fuzz-sources: protocols/irc/ws_framing.cpp protocols/common/sasl.cpp
// fuzz-sources: protocols/xmpp/writer.cpp protocols/xmpp/stanza.cpp protocols/xmpp/stanza_buffer.cpp
// fuzz-sources: protocols/xmpp/stream_error.cpp
// fuzz-libs: -lssl -lcrypto -lgsasl -lpugixml
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/http/websocket.hpp"
#include "protocols/irc/ws_framing.hpp"
#include "protocols/xmpp/ws_framing.hpp"

using namespace parley::protocols;
namespace bhttp = boost::beast::http;

namespace {

std::size_t parse_requests(std::string_view in) {
  std::size_t used = 0;
  for (int requests = 0; requests < 16 && used < in.size(); ++requests) {
    bhttp::request_parser<bhttp::string_body> p;
    p.header_limit(1024);
    p.body_limit(4096);
    p.eager(true);
    while (used < in.size() && !p.is_done()) {
      boost::beast::error_code ec;
      const auto n = p.put(boost::asio::buffer(in.data() + used, in.size() - used), ec);
      if (n > in.size() - used) __builtin_trap();
      used += n;
      if (ec || n == 0) return used;
    }
    if (!p.is_done()) return used;
    const auto key = p.get()[bhttp::field::sec_websocket_key];
    const std::string_view k(key.data(), key.size());
    if (ws::valid_client_key(k) && ws::accept_key(k).size() != 28) __builtin_trap();
  }
  return used;
}

void frames(ws::WsFraming& f, std::string_view in, std::size_t split) {
  std::string app, reply, wire;
  split = split % (in.size() + 1);
  auto r = f.unwrap(in.substr(0, split), app, reply);
  if (!r.close) f.unwrap(in.substr(split), app, reply);
  f.wrap(app, wire);
  f.closing(wire);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t used = parse_requests(in);
  const std::string_view rest = in.substr(used);
  const std::size_t split = size ? data[0] : 0;
  for (std::string_view part : {in, rest}) {
    xmpp::XmppWsFraming x({4096, 8});
    frames(x, part, split);
    irc::IrcWsFraming t({4096, 8}, false), b({4096, 8}, true);
    frames(t, part, split);
    frames(b, part, split);
    ws::FrameReader r({4096, 8});
    std::string_view s = part;
    for (int guard = 0; guard < 10000; ++guard) {
      auto e = r.next(s);
      if (e.consumed > s.size()) __builtin_trap();
      s.remove_prefix(e.consumed);
      if (e.kind == ws::FrameReader::Kind::need_more || e.kind == ws::FrameReader::Kind::error) break;
      if (e.kind == ws::FrameReader::Kind::message && e.text && !ws::valid_utf8(e.payload)) __builtin_trap();
      if (e.payload.size() > 4096) __builtin_trap();
    }
  }
  return 0;
}

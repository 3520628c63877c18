// RFC 6455 framing (protocols/http/websocket.hpp) and the two protocol mappings on top of it
// (protocols/xmpp/ws_framing.hpp: RFC 7395, protocols/irc/ws_framing.hpp: IRCv3), fed
// whole and one byte at a time, and with the malformed input the RFC says fails a connection.
#include "protocols/http/websocket.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocols/irc/ws_framing.hpp"
#include "protocols/xmpp/ws_framing.hpp"

using namespace parley::protocols;
using ws::CloseCode;
using ws::FrameReader;
using ws::Opcode;

namespace {

// A masked client frame.
std::string client_frame(Opcode op, std::string_view payload, bool fin = true, std::uint8_t rsv = 0) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | rsv | static_cast<std::uint8_t>(op));
  const std::uint64_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(0x80 | n);
  } else if (n <= 0xFFFF) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xFF);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int s = 56; s >= 0; s -= 8) f += static_cast<char>((n >> s) & 0xFF);
  }
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  f.append(mask, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i & 3]);
  return f;
}

// Server frames back into (opcode, payload) pairs.
std::vector<std::pair<int, std::string>> server_frames(std::string_view w) {
  std::vector<std::pair<int, std::string>> out;
  while (w.size() >= 2) {
    const int op = static_cast<unsigned char>(w[0]) & 0x0F;
    std::uint64_t n = static_cast<unsigned char>(w[1]) & 0x7F;
    std::size_t h = 2;
    if (n == 126) {
      n = (static_cast<unsigned char>(w[2]) << 8) | static_cast<unsigned char>(w[3]);
      h = 4;
    } else if (n == 127) {
      n = 0;
      for (int k = 2; k < 10; ++k) n = (n << 8) | static_cast<unsigned char>(w[k]);
      h = 10;
    }
    out.emplace_back(op, std::string(w.substr(h, n)));
    w.remove_prefix(h + n);
  }
  return out;
}

}  // namespace

TEST_CASE("the accept key of RFC 6455's example") {
  CHECK(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(ws::valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
  CHECK_FALSE(ws::valid_client_key("dGhlIHNhbXBsZSBub25jZQ"));  // not 24 characters
  CHECK_FALSE(ws::valid_client_key("c2hvcnQ="));
  CHECK_FALSE(ws::valid_client_key("!!!!!!!!!!!!!!!!!!!!!!=="));
}

TEST_CASE("frames are read whole, byte by byte, fragmented, with control frames between") {
  const std::string wire = client_frame(Opcode::text, "hel", false) + client_frame(Opcode::ping, "p") +
                           client_frame(Opcode::continuation, "lo") +
                           client_frame(Opcode::binary, std::string(300, 'x'));
  for (bool bytewise : {false, true}) {
    FrameReader r({1024, 8});
    std::string buf;
    std::vector<std::string> events;
    for (std::size_t i = 0; i < wire.size(); ++i) {
      buf += bytewise ? wire.substr(i, 1) : (i == 0 ? wire : std::string());
      if (!bytewise && i > 0) break;
      for (;;) {
        auto e = r.next(buf);
        buf.erase(0, e.consumed);
        if (e.kind == FrameReader::Kind::need_more) break;
        REQUIRE(e.kind != FrameReader::Kind::error);
        events.push_back(std::to_string(static_cast<int>(e.kind)) + ":" + (e.text ? "t:" : "b:") +
                         std::string(e.payload.substr(0, 5)));
      }
    }
    CHECK(events == std::vector<std::string>{"2:b:p", "1:t:hello", "1:b:xxxxx"});
    CHECK(buf.empty());
  }
}

TEST_CASE("malformed client frames fail with the RFC's close code") {
  auto first_error = [](const std::string& wire, ws::Limits l = {1024, 4}) {
    FrameReader r(l);
    std::string_view in = wire;
    for (int guard = 0; guard < 100; ++guard) {
      auto e = r.next(in);
      in.remove_prefix(e.consumed);
      if (e.kind == FrameReader::Kind::error) return e.code;
      if (e.kind == FrameReader::Kind::need_more) return CloseCode::normal;
    }
    return CloseCode::normal;
  };
  std::string unmasked = "\x81\x02hi";
  CHECK(first_error(unmasked) == CloseCode::protocol_error);
  CHECK(first_error(client_frame(Opcode::text, "x", true, 0x40)) == CloseCode::protocol_error);  // RSV1
  CHECK(first_error(client_frame(static_cast<Opcode>(3), "x")) == CloseCode::protocol_error);  // reserved op
  CHECK(first_error(client_frame(Opcode::continuation, "x")) ==
        CloseCode::protocol_error);  // nothing to continue
  CHECK(first_error(client_frame(Opcode::text, "a", false) + client_frame(Opcode::text, "b")) ==
        CloseCode::protocol_error);  // interleaved
  CHECK(first_error(client_frame(Opcode::ping, std::string(126, 'p'))) ==
        CloseCode::protocol_error);  // control > 125
  CHECK(first_error(client_frame(Opcode::ping, "p", false)) ==
        CloseCode::protocol_error);  // fragmented control
  CHECK(first_error(client_frame(Opcode::text, "\xff\xfe")) == CloseCode::invalid_data);      // not UTF-8
  CHECK(first_error(client_frame(Opcode::text, "\xed\xa0\x80")) == CloseCode::invalid_data);  // a surrogate
  CHECK(first_error(client_frame(Opcode::close, "x")) == CloseCode::protocol_error);          // 1-byte close
  // The size bound is checked from the header alone: nothing of the payload has to arrive.
  std::string huge = "\x82\xFF";
  huge += std::string("\x00\x00\x00\x01\x00\x00\x00\x00", 8) + "mask";
  CHECK(first_error(huge) == CloseCode::too_big);
  CHECK(first_error(client_frame(Opcode::binary, std::string(600, 'a'), false) +
                    client_frame(Opcode::continuation, std::string(600, 'a'))) == CloseCode::too_big);
  // A fragment flood: more frames than max_fragments in one message.
  std::string flood = client_frame(Opcode::text, "", false);
  for (int i = 0; i < 10; ++i) flood += client_frame(Opcode::continuation, "", false);
  CHECK(first_error(flood) == CloseCode::policy);
  std::string top = "\x82\xFF";
  top += std::string("\x80\x00\x00\x00\x00\x00\x00\x00", 8) + "mask";
  CHECK(first_error(top) == CloseCode::protocol_error);  // 64-bit length with the top bit set
}

TEST_CASE("server frames: length encodings and the close frame") {
  std::string out;
  ws::write_frame(out, Opcode::text, "hi");
  ws::write_frame(out, Opcode::binary, std::string(200, 'b'));
  ws::write_frame(out, Opcode::binary, std::string(70000, 'c'));
  ws::write_close(out, CloseCode::too_big);
  auto f = server_frames(out);
  REQUIRE(f.size() == 4);
  CHECK(f[0] == std::pair<int, std::string>{1, "hi"});
  CHECK(f[1].second.size() == 200);
  CHECK(f[2].second.size() == 70000);
  CHECK(f[3] == std::pair<int, std::string>{8, std::string("\x03\xf1", 2)});
  CHECK(static_cast<unsigned char>(out[0]) == 0x81);  // FIN, unmasked
}

TEST_CASE("UTF-8 sanitising replaces each invalid byte") {
  std::string out;
  ws::append_utf8_sanitized(out, "caf\xe9 ok \xc3\xa9");
  CHECK(out == "caf\xEF\xBF\xBD ok \xc3\xa9");
  CHECK(ws::valid_utf8(out));
}

TEST_CASE("XMPP framing: open/close map to the stream, one element per message both ways") {
  xmpp::XmppWsFraming f({65536, 8});
  std::string app, reply;
  auto r = f.unwrap(client_frame(Opcode::text,
                                 "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' "
                                 "version='1.0'/>") +
                        client_frame(Opcode::text, "<message to='a@b'><body>x &lt; y</body></message>"),
                    app, reply);
  CHECK_FALSE(r.close);
  CHECK(app ==
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' "
        "version='1.0'><message to='a@b'><body>x &lt; y</body></message>");
  std::string wire;
  f.wrap(
      "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
      "xmlns:stream='http://etherx.jabber.org/streams' "
      "version='1.0' id='i1' from='localhost'><stream:features><bind "
      "xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
      "</stream:features>",
      wire);
  f.wrap(" <message from='x' a='1>2'><body>b</body></message><presence/></stream:stream>", wire);
  auto out = server_frames(wire);
  REQUIRE(out.size() == 5);
  CHECK(out[0].second ==
        "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0' id='i1' from='localhost'/>");
  CHECK(out[1].second ==
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind "
        "xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
  CHECK(out[2].second == "<message xmlns='jabber:client' from='x' a='1>2'><body>b</body></message>");
  CHECK(out[3].second == "<presence xmlns='jabber:client'/>");
  CHECK(out[4].second == "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");

  app.clear();
  r = f.unwrap(client_frame(Opcode::text, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"), app,
               reply);
  CHECK(app == "</stream:stream>");
}

TEST_CASE("XMPP framing refuses what is not exactly one element") {
  for (std::string bad : {"<iq type='get'>", "<a/><b/>", "text", "<!-- c --><a/>", "</a>", "<a>x</a>tail",
                          "<open xmlns='wrong'/>", ""}) {
    xmpp::XmppWsFraming f({65536, 8});
    std::string app, reply;
    INFO(bad);
    auto r = f.unwrap(client_frame(Opcode::text, bad), app, reply);
    CHECK(r.close);
    CHECK(app.empty());
    auto frames = server_frames(reply);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].first == 8);
  }
  xmpp::XmppWsFraming f({65536, 8});
  std::string app, reply;
  CHECK(f.unwrap(client_frame(Opcode::binary, "<a/>"), app, reply).close);  // text only
}

TEST_CASE("IRC framing: a line per message, CR/LF/NUL refused, text output made UTF-8") {
  irc::IrcWsFraming text({4096, 8}, false), binary({4096, 8}, true);
  std::string app, reply;
  CHECK_FALSE(
      text.unwrap(client_frame(Opcode::text, "NICK a") + client_frame(Opcode::binary, "USER a 0 * :a"), app,
                  reply)
          .close);
  CHECK(app == "NICK a\r\nUSER a 0 * :a\r\n");
  for (std::string bad :
       {std::string("PRIVMSG #a :x\r\nQUIT"), std::string("A\nB"), std::string("A\0B", 3)}) {
    irc::IrcWsFraming f({4096, 8}, false);
    std::string a, rep;
    CHECK(f.unwrap(client_frame(Opcode::binary, bad), a, rep).close);
    CHECK(a.empty());
  }
  std::string wire;
  text.wrap(":s 001 a :hi\r\n:s PRIVMSG a :caf\xe9\r\n:s PAR", wire);
  text.wrap("T\r\n", wire);
  auto f = server_frames(wire);
  REQUIRE(f.size() == 3);
  CHECK(f[0] == std::pair<int, std::string>{1, ":s 001 a :hi"});
  CHECK(f[1] == std::pair<int, std::string>{1, ":s PRIVMSG a :caf\xEF\xBF\xBD"});
  CHECK(f[2] == std::pair<int, std::string>{1, ":s PART"});
  wire.clear();
  binary.wrap(":s PRIVMSG a :caf\xe9\r\n", wire);
  f = server_frames(wire);
  REQUIRE(f.size() == 1);
  CHECK(f[0] == std::pair<int, std::string>{2, ":s PRIVMSG a :caf\xe9"});
}

TEST_CASE("ping is answered with pong, close with close, both through the reply") {
  irc::IrcWsFraming f({4096, 8}, false);
  std::string app, reply;
  CHECK_FALSE(f.unwrap(client_frame(Opcode::ping, "abc"), app, reply).close);
  auto r = f.unwrap(client_frame(Opcode::close, std::string("\x03\xe8", 2)), app, reply);
  CHECK(r.close);
  auto frames = server_frames(reply);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0] == std::pair<int, std::string>{10, "abc"});
  CHECK(frames[1].first == 8);
  std::string more;
  f.closing(more);  // already sent: not twice
  CHECK(more.empty());
  f.wrap(":s NOTICE a :late\r\n", more);  // nothing after the close frame
  CHECK(more.empty());
}

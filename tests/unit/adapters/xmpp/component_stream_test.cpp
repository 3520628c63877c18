#include "adapters/xmpp/component_stream.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace parley::adapters::xmpp;
using Event = ComponentStream::Event;

namespace {

constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
    "xmlns='jabber:component:accept' from='irc.example.org' id='3BF96D32'>";

struct Fed {
  std::vector<Event> events;
  std::vector<std::string> stanzas;  // names
  std::string out;
};

// Feeds `in` whole (chunk 0) or `chunk` bytes at a time; collects events.
Fed feed(ComponentStream& cs, std::string_view in, std::size_t chunk = 0) {
  Fed f;
  if (chunk == 0) chunk = in.size();
  for (std::size_t pos = 0; pos < in.size(); pos += chunk) {
    std::string_view piece = in.substr(pos, chunk);
    std::size_t used = 0;
    while (true) {
      auto step = cs.feed(piece.substr(used), f.out);
      used += step.consumed;
      if (step.event == Event::none) break;
      f.events.push_back(step.event);
      if (step.event == Event::stanza) f.stanzas.emplace_back(cs.stanza().name());
      if (step.event == Event::closed) return f;
    }
    REQUIRE(used == piece.size());
  }
  return f;
}

}  // namespace

TEST_CASE("XEP-0114 handshake: hex SHA-1 of stream id + secret (checked with Python hashlib)") {
  // hashlib.sha1(b"3BF96D32secret").hexdigest()
  CHECK(component_handshake("3BF96D32", "secret") == "b09ea9b3b7f586be8a08d0a3dd7466f110aeb136");
}

TEST_CASE("component stream: opening, handshake, ready, stanzas, whole and byte by byte") {
  for (std::size_t chunk : {0, 1, 7}) {
    CAPTURE(chunk);
    ComponentStream cs("irc.example.org", "secret");
    const std::string open = cs.opening();
    CHECK(open.find("xmlns='jabber:component:accept'") != std::string::npos);
    CHECK(open.find("to='irc.example.org'") != std::string::npos);
    std::string in(kHeader);
    in +=
        "<handshake/><message from='a@x/r' to='#c%net@irc.example.org' "
        "type='groupchat'><body>hi</body></message>"
        "<presence from='a@x/r' to='#c%net@irc.example.org/a'/>";
    auto f = feed(cs, in, chunk);
    CHECK(f.out == "<handshake>b09ea9b3b7f586be8a08d0a3dd7466f110aeb136</handshake>");
    REQUIRE(f.events.size() == 3);
    CHECK(f.events[0] == Event::ready);
    CHECK(f.stanzas == std::vector<std::string>{"message", "presence"});
    CHECK(cs.state() == ComponentStream::State::ready);
  }
}

TEST_CASE("component stream: a refused handshake closes with the stream error and a hint") {
  ComponentStream cs("irc.example.org", "wrong");
  std::string in(kHeader);
  in +=
      "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
      "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>bad secret</text></stream:error>";
  auto f = feed(cs, in);
  REQUIRE(f.events == std::vector<Event>{Event::closed});
  CHECK(cs.reason().find("<not-authorized/>") != std::string::npos);
  CHECK(cs.reason().find("bad secret") != std::string::npos);
  CHECK(cs.reason().find("handshake refused") != std::string::npos);
  std::string out;
  CHECK(cs.feed("<handshake/>", out).event == Event::closed);  // stays closed
}

TEST_CASE("component stream: malformed or unexpected input closes it") {
  SUBCASE("wrong stream namespace") {
    ComponentStream cs("d", "s");
    auto f = feed(
        cs, "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' id='1'>");
    CHECK(f.events == std::vector<Event>{Event::closed});
    CHECK(f.out.empty());  // no handshake sent to a stream that is not a component's
  }
  SUBCASE("no id") {
    ComponentStream cs("d", "s");
    auto f = feed(
        cs,
        "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:component:accept'>");
    CHECK(f.events == std::vector<Event>{Event::closed});
    CHECK(cs.reason().find("no id") != std::string::npos);
  }
  SUBCASE("a stanza before the handshake's answer") {
    ComponentStream cs("d", "s");
    auto f = feed(cs, std::string(kHeader) + "<message/>");
    CHECK(f.events == std::vector<Event>{Event::closed});
  }
  SUBCASE("not well-formed") {
    ComponentStream cs("d", "s");
    auto f = feed(cs, std::string(kHeader) + "<handshake/><message><a></b></message>");
    CHECK(f.events == std::vector<Event>{Event::ready, Event::closed});
  }
  SUBCASE("a stanza over the size limit") {
    parley::protocols::xmpp::FramerLimits limits;
    limits.max_stanza = 256;
    ComponentStream cs("d", "s", limits);
    auto f = feed(cs, std::string(kHeader) + "<handshake/><message><body>" + std::string(1000, 'x') +
                          "</body></message>");
    CHECK(f.events == std::vector<Event>{Event::ready, Event::closed});
    CHECK(cs.reason().find("policy-violation") != std::string::npos);
  }
  SUBCASE("the server ends the stream") {
    ComponentStream cs("d", "s");
    auto f = feed(cs, std::string(kHeader) + "<handshake/></stream:stream>");
    CHECK(f.events == std::vector<Event>{Event::ready, Event::closed});
  }
}

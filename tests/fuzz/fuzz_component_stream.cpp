// Fuzz target for the component side of a XEP-0114 stream (adapters/xmpp/component_stream):
// the server's bytes, fed whole and in pieces whose sizes come from the input, through the
// header, handshake and ready states; every stanza handed out is read like component.cpp does.
// clang-format off (run_libfuzzer.sh reads these lines as they are)
// fuzz-sources: adapters/xmpp/component_stream.cpp adapters/xmpp/stream_open.cpp
// fuzz-sources: protocols/xmpp/framer.cpp protocols/xmpp/stanza.cpp protocols/xmpp/stanza_buffer.cpp protocols/xmpp/jid.cpp
// fuzz-sources: protocols/xmpp/writer.cpp protocols/xmpp/stream_error.cpp
// fuzz-libs: -lpugixml -lcrypto
// clang-format on
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/xmpp/component_stream.hpp"
#include "protocols/xmpp/jid.hpp"

using namespace parley::adapters::xmpp;
namespace px = parley::protocols::xmpp;

namespace {

void run(std::string_view input, std::size_t chunk) {
  px::FramerLimits limits;
  limits.max_stanza = 4096;
  limits.max_depth = 16;
  limits.max_attributes = 16;
  ComponentStream cs("irc.localhost", "secret", limits);
  std::string out;
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::string_view piece = input.substr(pos, chunk);
    std::size_t used = 0;
    while (used < piece.size()) {
      auto step = cs.feed(piece.substr(used), out);
      used += step.consumed;
      if (step.event == ComponentStream::Event::closed) return;
      if (step.event == ComponentStream::Event::stanza) {
        (void)px::parse_jid(cs.stanza().attr("to"));
        (void)px::parse_jid(cs.stanza().attr("from"));
        (void)cs.stanza().child("body", cs.stanza().ns());
      }
      if (step.event == ComponentStream::Event::none) break;
    }
    if (used < piece.size() && cs.state() != ComponentStream::State::closed) return;  // cannot happen
    pos += piece.size();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  run(input, input.size() ? input.size() : 1);
  if (size > 1) run(input.substr(1), 1 + (data[0] % 64));
  return 0;
}

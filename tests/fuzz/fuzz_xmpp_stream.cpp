// Fuzz target for the XMPP stream layer: the framer (fed whole and in pieces whose sizes
// come from the input), pugixml parsing of every stanza it cuts out, namespace lookups,
// JID parsing of every attribute, and re-rendering through the escaping writer.
// clang-format off (run_libfuzzer.sh reads these lines as they are)
// fuzz-sources: protocols/xmpp/framer.cpp protocols/xmpp/stanza.cpp protocols/xmpp/stanza_buffer.cpp protocols/xmpp/jid.cpp
// fuzz-sources: protocols/xmpp/writer.cpp protocols/xmpp/stream_error.cpp
// fuzz-libs: -lpugixml
// clang-format on
#include <cstddef>
#include <cstdint>
#include <memory>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/jid.hpp"
#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/writer.hpp"

using namespace parley::protocols::xmpp;

namespace {

void walk(pugi::xml_node n, const StreamNamespaces& ns, int depth) {
  if (depth > 64) return;
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    (void)namespace_of(c, ns);
    for (auto a : c.attributes()) (void)parse_jid(a.value());
    walk(c, ns, depth + 1);
  }
}

void run(std::string_view input, std::size_t chunk) {
  FramerLimits limits;
  limits.max_stanza = 4096;
  limits.max_depth = 16;
  limits.max_attributes = 16;
  StreamFramer f(limits);
  auto ns = std::make_shared<const StreamNamespaces>();
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t n = chunk ? std::min(chunk, input.size() - pos) : input.size() - pos;
    std::string_view piece = input.substr(pos, n);
    for (;;) {
      auto step = f.feed(piece);
      if (step.consumed > piece.size()) __builtin_trap();
      if (step.status == StreamFramer::Status::error) return;
      if (step.status == StreamFramer::Status::stanza) {
        auto bytes = f.take_stanza();
        if (bytes.size() > limits.max_stanza) __builtin_trap();
        // Everything the framer accepts must be well-formed XML for pugixml too; Stanza::parse
        // may still refuse it for namespace reasons (unbound prefix: not namespace-well-formed).
        pugi::xml_document doc;
        std::vector<char> copy(bytes);
        copy.push_back('\0');
        if (!doc.load_buffer_inplace(copy.data(), copy.size() - 1,
                                     pugi::parse_default | pugi::parse_ws_pcdata))
          __builtin_trap();
        auto st = Stanza::parse(std::move(bytes), ns);
        if (!st) return;
        (void)st->ns();
        walk(st->root(), *ns, 0);
        std::string out;
        render(out, st->root());
      }
      if (step.status == StreamFramer::Status::stream_end) return;
      piece.remove_prefix(step.consumed);
      if (step.status == StreamFramer::Status::need_more) break;
    }
    pos += n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  run(input, 0);
  run(input, 1 + (size ? data[0] % 13 : 0));
  std::string out;
  escape_text(out, input);
  escape_attr(out, input);
  return 0;
}

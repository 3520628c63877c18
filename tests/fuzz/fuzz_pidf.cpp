// Fuzzes the SIMPLE presence documents (protocols/sip/pidf): PIDF with RPID and
// isComposing parsing, and that whatever parses renders into a document that parses again.
// fuzz-sources: protocols/sip/pidf.cpp protocols/sip/text.cpp protocols/irc/message.cpp
// fuzz-libs: -lpugixml
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/sip/pidf.hpp"

using namespace parley::protocols::sip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto d = parse_pidf(in)) {
    if (d->tuples.size() > kMaxPidfTuples || d->note.size() > kMaxPidfNote) __builtin_trap();
    auto again = parse_pidf(render_pidf(*d));
    if (!again || again->tuples.size() != d->tuples.size() || again->show != d->show) __builtin_trap();
  }
  if (auto c = parse_is_composing(in)) {
    auto again = parse_is_composing(render_is_composing(*c));
    if (!again || again->active != c->active) __builtin_trap();
  }
  (void)render_watcherinfo(in, 1, true, {{"w", std::string(in), "pending", "subscribe"}});
  return 0;
}

// Differential fuzz target for the XMPP inbound fast paths: the framer, Stanza::parse and
// JID preparation against the code they replaced (tests/unit/protocols/xmpp/reference).
// Both framers get the same bytes in the same pieces under the same small limits (chosen by
// the first input byte) and must report the same steps, consumed counts, stanzas, header and
// error; every stanza must parse the same (also with the framer's stanza_prefixed(), which
// lets Stanza::parse skip the namespace walk), every attribute value prepare to the same JID
// (and valid_jid() say whether it does).
// clang-format off (run_libfuzzer.sh reads these lines as they are)
// fuzz-sources: protocols/xmpp/framer.cpp protocols/xmpp/stanza.cpp protocols/xmpp/stanza_buffer.cpp protocols/xmpp/jid.cpp
// fuzz-sources: protocols/xmpp/writer.cpp protocols/xmpp/stream_error.cpp
// fuzz-sources: tests/unit/protocols/xmpp/reference/framer_ref.cpp
// fuzz-sources: tests/unit/protocols/xmpp/reference/jid_ref.cpp
// fuzz-sources: tests/unit/protocols/xmpp/reference/stanza_ref.cpp
// fuzz-libs: -lpugixml
// clang-format on
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/jid.hpp"
#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/writer.hpp"
#include "tests/unit/protocols/xmpp/reference/framer_ref.hpp"
#include "tests/unit/protocols/xmpp/reference/jid_ref.hpp"
#include "tests/unit/protocols/xmpp/reference/stanza_ref.hpp"

using namespace parley::protocols::xmpp;

namespace {

void same(bool b) {
  if (!b) __builtin_trap();
}

void check_jid(std::string_view s) {
  same(parse_jid(s) == ref::parse_jid(s));
  same(valid_jid(s) == ref::parse_jid(s).has_value());
  same(prep_localpart(s) == ref::prep_localpart(s));
  same(prep_domain(s) == ref::prep_domain(s));
  same(prep_resource(s) == ref::prep_resource(s));
}

void check_stanza(const std::vector<char>& bytes, const std::shared_ptr<const StreamNamespaces>& ns,
                  bool prefixed) {
  std::vector<char> a = bytes, b = bytes, c = bytes;
  auto want = ref::parse_stanza(a, *ns);
  auto got = Stanza::parse(std::move(b), ns);
  same(static_cast<bool>(got) == static_cast<bool>(want));
  // With the framer's "a name has a ':'" (false skips the namespace walk): the same answer.
  auto framed = Stanza::parse(std::move(c), ns, prefixed);
  same(static_cast<bool>(framed) == static_cast<bool>(want));
  if (!got) return;
  std::string x, y, z;
  render(x, got->root());
  render(y, want->document_element());
  render(z, framed->root());
  same(x == y && z == y);
  for (auto at : got->root().attributes()) check_jid(at.value());
}

void run(std::string_view input, FramerLimits limits, std::size_t chunk) {
  StreamFramer f(limits);
  ref::RefStreamFramer r(limits);
  auto ns = std::make_shared<const StreamNamespaces>();
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t n = chunk ? std::min(chunk, input.size() - pos) : input.size() - pos;
    std::string_view piece = input.substr(pos, n);
    for (;;) {
      auto s1 = f.feed(piece);
      auto s2 = r.feed(piece);
      same(static_cast<int>(s1.status) == static_cast<int>(s2.status) && s1.consumed == s2.consumed);
      if (s1.status == StreamFramer::Status::error) {
        same(f.error() == r.error() && f.error_text() == r.error_text());
        return;
      }
      if (s1.status == StreamFramer::Status::header) {
        same(f.header().name == r.header().name && f.header().attributes == r.header().attributes);
        f.release_header();
        r.release_header();
      }
      if (s1.status == StreamFramer::Status::stanza) {
        auto a = f.take_stanza();
        same(a == r.take_stanza());
        check_stanza(a, ns, f.stanza_prefixed());
      }
      if (s1.status == StreamFramer::Status::stream_end) return;
      piece.remove_prefix(s1.consumed);
      if (s1.status == StreamFramer::Status::need_more) break;
    }
    pos += n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t sel = data[0];
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  FramerLimits small;
  small.max_stanza = 16 + (sel & 0x3F) * 8;
  small.max_header = 32 + (sel & 0x1F) * 8;
  small.max_depth = 1 + (sel >> 6);
  small.max_attributes = sel % 5;
  run(input, FramerLimits{}, 0);
  run(input, small, 0);
  run(input, FramerLimits{}, 1 + sel % 13);
  run(input, small, 1);
  for (std::size_t at = 0; at < input.size() && at < 64; at += 8) check_jid(input.substr(at, 40));
  return 0;
}

// Fuzzes XEP-0071 XHTML-IM <-> neutral rich text: the input's first line is the plain body,
// the rest the XHTML inside <body/>. Parsing must give at most kMaxStyleSpans spans within
// the body; rendering them must give well-formed XML that parses back.
// clang-format off (run_libfuzzer.sh reads these lines as they are)
// fuzz-sources: adapters/xmpp/xhtml_im.cpp protocols/xmpp/stanza.cpp protocols/xmpp/stanza_buffer.cpp protocols/xmpp/writer.cpp
// fuzz-sources: protocols/xmpp/stream_error.cpp
// fuzz-libs: -lpugixml
// clang-format on
#include <cstddef>
#include <cstdint>
#include <pugixml.hpp>
#include <string>
#include <string_view>

#include "adapters/xmpp/xhtml_im.hpp"

using namespace parley::adapters::xmpp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string_view plain = in.substr(0, nl);
  std::string_view markup = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  std::string xml =
      "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>";
  xml += markup;
  xml += "</body></html>";
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size(), pugi::parse_default | pugi::parse_ws_pcdata)) return 0;
  auto spans = parse_xhtml_im(doc.document_element(), plain);
  if (spans.size() > parley::core::kMaxStyleSpans) __builtin_trap();
  for (const auto& s : spans)
    if (s.begin >= s.end || s.end > plain.size()) __builtin_trap();
  std::string out = render_xhtml_im(plain, spans);
  if (out.empty()) return 0;
  pugi::xml_document back;
  if (!back.load_buffer(out.data(), out.size(), pugi::parse_default | pugi::parse_ws_pcdata))
    __builtin_trap();
  auto again = parse_xhtml_im(back.document_element(), plain);
  if (again.size() > parley::core::kMaxStyleSpans) __builtin_trap();
  return 0;
}

// Fuzzes the BOSH <body/> wrapper (XEP-0124/0206): parse_bosh_body must stay within its
// bounds on any input, and each payload element it returns must be one well-formed element
// that parses again on its own (it is fed to the c2s stream as an RFC 7395 message).
// clang-format off (run_libfuzzer.sh reads these lines as they are)
// fuzz-sources: protocols/xmpp/bosh.cpp
// fuzz-libs: -lpugixml
// clang-format on
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <pugixml.hpp>
#include <string_view>

#include "protocols/xmpp/bosh.hpp"

using namespace parley::protocols::xmpp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto p = parse_bosh_body(in, 64 * 1024);
  if (!p.body) return 0;
  if (!p.body->rid || p.body->payload.size() > kMaxBoshChildren) std::abort();
  for (const auto& e : p.body->payload) {
    pugi::xml_document doc;
    if (!doc.load_buffer(e.data(), e.size())) std::abort();
    if (!doc.document_element()) std::abort();
  }
  RidWindow w(*p.body->rid, 2);
  (void)w.check(*p.body->rid + 1);
  return 0;
}

// Fuzzes the UDP PUBLISH fast path's wire code (protocols/sip/publish_wire): what the strict
// parse takes points into the input and keeps its promises (the body is exactly
// Content-Length, the top Via has a z9hG4bK branch, at most kMaxFastVias Vias), and the
// response rendered from it has one blank line, at its end.
// fuzz-sources: protocols/sip/publish_wire.cpp
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/sip/publish_wire.hpp"

using namespace parley::protocols::sip;

namespace {
bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto p = parse_fast_publish(in);
  if (!p) return 0;
  if (in.size() > kMaxFastPublish || p->via_count == 0 || p->via_count > kMaxFastVias ||
      p->branch.substr(0, 7) != "z9hG4bK" || p->from.empty() || p->to.empty() || p->call_id.empty() ||
      p->authorization.empty() || p->cseq > 0x7fffffffu || p->rport_end > p->vias[0].size())
    __builtin_trap();
  for (auto v :
       {p->user, p->host, p->branch, p->sent_by, p->from, p->to, p->call_id, p->authorization, p->body})
    if (!inside(v, in)) __builtin_trap();
  if (p->body.data() + p->body.size() != in.data() + in.size()) __builtin_trap();
  std::string echo = render_publish_echo(*p, "0123456789abcdef", "127.0.0.1", 5060);
  auto r = render_publish_response(200, "OK", echo, "SIP-ETag: x\r\nExpires: 60\r\n");
  if (!r) __builtin_trap();
  if (r->find("\r\n\r\n") != r->size() - 4) __builtin_trap();  // the echo cannot end the header early
  if (r->find(std::string_view("\0", 1)) != std::string::npos) __builtin_trap();
  (void)publish_transaction_key(*p);
  return 0;
}

// Fuzzes the UDP NOTIFY fast path's wire code (protocols/sip/notify_wire): the minimal
// response parse (what it returns points into the input and is consistent), and the head
// renderer fed with the input as every dialog field (nothing with CR/LF/NUL renders, and a
// rendered NOTIFY's own Via parses back in a response).
// fuzz-sources: protocols/sip/notify_wire.cpp
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/sip/notify_wire.hpp"

using namespace parley::protocols::sip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = parse_minimal_response(in)) {
    if (in.size() > kMaxFastResponse || r->status < 100 || r->status > 699 || r->branch.empty() ||
        r->cseq_method.empty() || r->cseq > 0x7fffffffu)
      __builtin_trap();
    if (r->branch.data() < in.data() || r->branch.data() + r->branch.size() > in.data() + in.size())
      __builtin_trap();
    (void)fast_branch_key(r->branch);
  }
  NotifyDialog d;
  std::string s(in.substr(0, 512));
  d.request_uri = d.via_host = d.from = d.to = d.call_id = d.contact = d.event = s;
  d.route = {s};
  if (auto h = render_notify_head(d)) {
    if (s.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos || s.empty()) __builtin_trap();
    std::string out;
    render_notify(out, *h, size, 1, "active;expires=1", "application/pidf+xml", in);
    if (out.size() < h->before_branch.size() + h->after_branch.size() + in.size()) __builtin_trap();
  }
  return 0;
}

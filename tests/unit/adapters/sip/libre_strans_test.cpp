// adapters/sip/libre_strans.cpp against the libre it runs with: a server transaction has
// the layout the merge-index removal checks for and leaves the Call-ID index once; a
// second call (no longer linked there) and a null transaction are refused, and libre's
// destructor still runs cleanly afterwards (ASan).
#include "adapters/sip/libre_strans.hpp"

#include <doctest/doctest.h>
#include <re.h>

#include <chrono>
#include <cstring>
#include <future>
#include <string>

#include "adapters/common/libre_bridge.hpp"
#include "unit/fakes/on_libre.hpp"

using namespace parley;
using namespace std::chrono_literals;
using parley::testing::on_libre;

namespace {

sip_msg* decode(const std::string& branch) {
  std::string text =
      "PUBLISH sip:p@localhost SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=" +
      branch +
      "\r\n"
      "From: <sip:p@localhost>;tag=abc\r\nTo: <sip:p@localhost>\r\nCall-ID: same-call-id\r\n"
      "CSeq: 7 PUBLISH\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  mbuf* mb = mbuf_alloc(text.size());
  (void)mbuf_write_mem(mb, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  mb->pos = 0;
  sip_msg* msg = nullptr;
  int err = sip_msg_decode(&msg, mb);
  mem_deref(mb);
  return err ? nullptr : msg;
}

}  // namespace

TEST_CASE("a server transaction leaves libre's merged-request index once, and only then") {
  adapters::LibreLoop loop;
  REQUIRE(loop.start().empty());
  struct Out {
    bool decoded = false, first = false, second = false, null = false;
  };
  Out o = on_libre(loop, [] {
    Out r;
    struct sip* sip = nullptr;
    if (sip_alloc(&sip, nullptr, 64, 64, 64, "test", nullptr, nullptr)) return r;
    sip_msg* msg = decode("z9hG4bKone");
    r.decoded = msg != nullptr;
    sip_strans* st = nullptr;
    if (msg && !sip_strans_alloc(&st, sip, msg, nullptr, nullptr)) {
      r.first = adapters::sip::strans_leave_merge_index(st);
      r.second = adapters::sip::strans_leave_merge_index(st);  // already out: layout check fails
      mem_deref(st);                                           // libre's destructor: unlink is a no-op
    }
    r.null = adapters::sip::strans_leave_merge_index(nullptr);
    mem_deref(msg);
    sip_close(sip, true);
    mem_deref(sip);
    return r;
  });
  loop.stop();
  CHECK(o.decoded);
  CHECK(o.first);
  CHECK_FALSE(o.second);
  CHECK_FALSE(o.null);
}

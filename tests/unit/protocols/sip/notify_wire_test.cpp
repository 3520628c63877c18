#include "protocols/sip/notify_wire.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace parley::protocols::sip;

namespace {

const char* kOk =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKpF00000000000000ff;rport=5060;received=127.0.0.1\r\n"
    "From: <sip:bob@localhost>;tag=a\r\nTo: <sip:alice@localhost>;tag=b\r\nCall-ID: x\r\n"
    "CSeq: 7 NOTIFY\r\nContent-Length: 0\r\n\r\n";

NotifyDialog dialog() {
  NotifyDialog d;
  d.request_uri = "sip:alice@127.0.0.1:4000";
  d.via_host = "127.0.0.1:5060";
  d.from = "<sip:bob@localhost>;tag=00000000000000aa";
  d.to = "\"Alice\" <sip:alice@localhost>;tag=1234";
  d.call_id = "abc@host";
  d.contact = "<sip:bob@127.0.0.1:5060>";
  d.event = "presence";
  return d;
}

}  // namespace

TEST_CASE("notify_wire: a 200 to a NOTIFY: status, top Via branch, CSeq") {
  auto r = parse_minimal_response(kOk);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->branch == "z9hG4bKpF00000000000000ff");
  CHECK(r->cseq == 7);
  CHECK(r->cseq_method == "NOTIFY");
  CHECK(fast_branch_key(r->branch) == std::optional<std::uint64_t>(0xff));
}

TEST_CASE("notify_wire: compact Via, case, whitespace, several Vias take the first") {
  std::string m =
      "SIP/2.0 481 Call/Transaction Does Not Exist\r\n"
      "v : SIP/2.0/UDP h ; BRANCH = z9hG4bKpF0123456789abcdef , SIP/2.0/UDP x;branch=z9hG4bKother\r\n"
      "Via: SIP/2.0/UDP y;branch=z9hG4bKthird\r\n"
      "cseq:   12   NOTIFY  \r\n\r\n";
  auto r = parse_minimal_response(m);
  REQUIRE(r);
  CHECK(r->status == 481);
  CHECK(r->branch == "z9hG4bKpF0123456789abcdef");
  CHECK(r->cseq == 12);
  CHECK(r->cseq_method == "NOTIFY");
}

TEST_CASE("notify_wire: malformed or foreign responses are left to libre") {
  const char* bad[] = {
      "NOTIFY sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKpF0\r\nCSeq: 1 NOTIFY\r\n\r\n",  // a
                                                                                                   // request
      "SIP/2.0 20 OK\r\nVia: SIP/2.0/UDP h;branch=b\r\nCSeq: 1 NOTIFY\r\n\r\n",            // short code
      "SIP/2.0 999 X\r\nVia: SIP/2.0/UDP h;branch=b\r\nCSeq: 1 NOTIFY\r\n\r\n",            // out of range
      "SIP/2.0 200OK\r\nVia: SIP/2.0/UDP h;branch=b\r\nCSeq: 1 NOTIFY\r\n\r\n",            // no SP
      "SIP/2.0 200 OK\r\nCSeq: 1 NOTIFY\r\n\r\n",                                          // no Via
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 NOTIFY\r\n\r\n",                    // no branch
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=\r\nCSeq: 1 NOTIFY\r\n\r\n",            // empty branch
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=b\r\n\r\n",                             // no CSeq
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=b\r\nCSeq: NOTIFY\r\n\r\n",             // no number
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=b\r\nCSeq: 1NOTIFY\r\n\r\n",            // no LWS
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=b\r\nCSeq: 1 \r\n\r\n",                 // no method
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=b\r\nCSeq: 4294967296 NOTIFY\r\n\r\n",  // > 2^31
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=b\r\nCSeq: 1 NOTIFY\r\nCSeq: 2 NOTIFY\r\n\r\n",  // twice
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=b\r\n  ;x=y\r\nCSeq: 1 NOTIFY\r\n\r\n",          // folded
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=b\r\nCSeq: 1 NOTIFY\r\n",     // no blank line
      "SIP/2.0 200 OK\r\nVia SIP/2.0/UDP h;branch=b\r\nCSeq: 1 NOTIFY\r\n\r\n",  // no colon
      "SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=b\nCSeq: 1 NOTIFY\n\n",         // bare LF
      "",
      "SIP/2.0 ",
  };
  for (const char* m : bad) {
    CAPTURE(m);
    CHECK_FALSE(parse_minimal_response(m));
  }
}

TEST_CASE("notify_wire: the size limit") {
  std::string pad = "X-Pad: " + std::string(kMaxFastResponse, 'a') + "\r\n";
  std::string m = std::string(kOk);
  CHECK(parse_minimal_response(m));
  m.insert(m.find("CSeq"), pad);
  CHECK(m.size() > kMaxFastResponse);
  CHECK_FALSE(parse_minimal_response(m));
}

TEST_CASE("notify_wire: only our branches have a key") {
  CHECK(fast_branch_key("z9hG4bKpF0123456789abcdef") == std::optional<std::uint64_t>(0x0123456789abcdefull));
  CHECK_FALSE(fast_branch_key("z9hG4bK0123456789abcdef"));     // libre's
  CHECK_FALSE(fast_branch_key("z9hG4bKpF0123456789ABCDEF"));   // upper case: not ours
  CHECK_FALSE(fast_branch_key("z9hG4bKpF0123456789abcde"));    // short
  CHECK_FALSE(fast_branch_key("z9hG4bKpF0123456789abcdef0"));  // long
  CHECK_FALSE(fast_branch_key("z9hG4bKpF0123456789abcdeg"));   // not hex
}

TEST_CASE("notify_wire: the rendered NOTIFY parses back and carries every dialog field") {
  auto d = dialog();
  d.route = {"<sip:10.0.0.1;lr>", "<sip:10.0.0.2;lr>"};
  auto h = render_notify_head(d);
  REQUIRE(h);
  std::string out;
  render_notify(out, *h, 0xabcdef, 42, "active;expires=300", "application/pidf+xml", "<presence/>");
  CHECK(out.rfind("NOTIFY sip:alice@127.0.0.1:4000 SIP/2.0\r\n", 0) == 0);
  CHECK(out.find("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKpF0000000000abcdef;rport\r\n") !=
        std::string::npos);
  CHECK(out.find("Route: <sip:10.0.0.1;lr>\r\nRoute: <sip:10.0.0.2;lr>\r\n") != std::string::npos);
  CHECK(out.find("From: <sip:bob@localhost>;tag=00000000000000aa\r\n") != std::string::npos);
  CHECK(out.find("To: \"Alice\" <sip:alice@localhost>;tag=1234\r\n") != std::string::npos);
  CHECK(out.find("Call-ID: abc@host\r\nContact: <sip:bob@127.0.0.1:5060>\r\nEvent: presence\r\n") !=
        std::string::npos);
  CHECK(out.find("CSeq: 42 NOTIFY\r\nSubscription-State: active;expires=300\r\n") != std::string::npos);
  CHECK(out.find("Content-Type: application/pidf+xml\r\nContent-Length: 11\r\n\r\n<presence/>") !=
        std::string::npos);
  CHECK(out.size() == out.find("\r\n\r\n") + 4 + 11);
  // A response built from it (as a UA does) parses to the same branch and CSeq.
  std::string resp = "SIP/2.0 200 OK\r\n" +
                     out.substr(out.find("Via:"), out.find("\r\n", out.find("Via:")) - out.find("Via:") + 2) +
                     "CSeq: 42 NOTIFY\r\n\r\n";
  auto r = parse_minimal_response(resp);
  REQUIRE(r);
  CHECK(fast_branch_key(r->branch) == std::optional<std::uint64_t>(0xabcdef));
  CHECK(r->cseq == 42);
}

TEST_CASE("notify_wire: no body means no Content-Type, and a reused buffer is cleared") {
  auto h = render_notify_head(dialog());
  REQUIRE(h);
  std::string out = "garbage";
  render_notify(out, *h, 1, 2, "terminated;reason=timeout", "application/pidf+xml", "");
  CHECK(out.rfind("NOTIFY ", 0) == 0);
  CHECK(out.find("Content-Type") == std::string::npos);
  CHECK(out.find("Subscription-State: terminated;reason=timeout\r\nContent-Length: 0\r\n\r\n") !=
        std::string::npos);
  CHECK(out.substr(out.size() - 4) == "\r\n\r\n");
}

TEST_CASE("notify_wire: fields that would inject a header or are missing, and the size limit") {
  for (auto field :
       {&NotifyDialog::request_uri, &NotifyDialog::via_host, &NotifyDialog::from, &NotifyDialog::to,
        &NotifyDialog::call_id, &NotifyDialog::contact, &NotifyDialog::event}) {
    auto d = dialog();
    d.*field += "\r\nX-Injected: 1";
    CHECK_FALSE(render_notify_head(d));
    d = dialog();
    d.*field += std::string(1, '\0');
    CHECK_FALSE(render_notify_head(d));
    d = dialog();
    (d.*field).clear();
    CHECK_FALSE(render_notify_head(d));
  }
  auto d = dialog();
  d.route = {"<sip:a;lr>\nX: y"};
  CHECK_FALSE(render_notify_head(d));
  d.route = {""};
  CHECK_FALSE(render_notify_head(d));
  d = dialog();
  d.to = "<sip:" + std::string(kMaxNotifyHead, 'a') + "@x>";
  CHECK_FALSE(render_notify_head(d));
  d = dialog();
  d.route.assign(100, "<sip:" + std::string(60, 'r') + ";lr>");
  CHECK_FALSE(render_notify_head(d));
}

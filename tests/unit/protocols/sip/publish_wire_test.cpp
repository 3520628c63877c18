#include "protocols/sip/publish_wire.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace parley::protocols::sip;

namespace {

const std::string kBody =
    "<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:p@localhost\"/>";
const std::string kAuth =
    "Digest username=\"p\", realm=\"localhost\", nonce=\"n\", uri=\"sip:p@localhost\", response=\"r\", "
    "qop=auth, nc=00000001, cnonce=\"c\"";

std::vector<std::string> headers() {
  return {"Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKabc123;rport",
          "From: <sip:p@localhost>;tag=ft",
          "To: <sip:p@localhost>",
          "Call-ID: cid@host",
          "CSeq: 7 PUBLISH",
          "Max-Forwards: 70",
          "Event: presence",
          "Content-Type: application/pidf+xml",
          "SIP-If-Match: abcdef01",
          "Expires: 3600",
          "Authorization: " + kAuth};
}

std::string publish(const std::vector<std::string>& hs, const std::string& body = kBody,
                    std::string line = "PUBLISH sip:p@localhost SIP/2.0", long cl = -1) {
  std::string s = line + "\r\n";
  for (const auto& h : hs) s += h + "\r\n";
  s += "Content-Length: " + std::to_string(cl < 0 ? static_cast<long>(body.size()) : cl) + "\r\n\r\n" + body;
  return s;
}

// The headers with the one starting `name` replaced by `with` (empty: dropped).
std::vector<std::string> with(std::string name, std::string repl) {
  auto hs = headers();
  for (auto it = hs.begin(); it != hs.end(); ++it)
    if (it->rfind(name, 0) == 0) {
      if (repl.empty())
        hs.erase(it);
      else
        *it = repl;
      return hs;
    }
  hs.push_back(repl);
  return hs;
}

}  // namespace

TEST_CASE("publish_wire: a well-formed PUBLISH gives every field") {
  std::string d = publish(headers());
  auto p = parse_fast_publish(d);
  REQUIRE(p);
  CHECK(p->user == "p");
  CHECK(p->host == "localhost");
  CHECK(p->via_count == 1);
  CHECK(p->branch == "z9hG4bKabc123");
  CHECK(p->sent_by == "127.0.0.1:4000");
  CHECK(p->sent_by_host == "127.0.0.1");
  CHECK(p->sent_by_port == 4000);
  CHECK(p->rport_end != 0);
  CHECK(p->from == "<sip:p@localhost>;tag=ft");
  CHECK(p->to == "<sip:p@localhost>");
  CHECK(p->call_id == "cid@host");
  CHECK(p->cseq == 7);
  CHECK(p->authorization == kAuth);
  REQUIRE(p->if_match);
  CHECK(*p->if_match == "abcdef01");
  CHECK(p->expires == std::optional<std::uint32_t>(3600));
  CHECK(p->body == kBody);
  CHECK(publish_transaction_key(*p) ==
        std::string("z9hG4bKabc123") + std::string(1, '\0') + "127.0.0.1:4000");
}

TEST_CASE("publish_wire: no body needs no Content-Type, optional headers may be missing") {
  auto hs = with("Content-Type", "");
  hs = [&] {
    std::vector<std::string> out;
    for (auto& h : hs)
      if (h.rfind("SIP-If-Match", 0) != 0 && h.rfind("Expires", 0) != 0 && h.rfind("Max-Forwards", 0) != 0)
        out.push_back(h);
    return out;
  }();
  auto d = publish(hs, "");
  auto p = parse_fast_publish(d);
  REQUIRE(p);
  CHECK(p->body.empty());
  CHECK(!p->if_match);
  CHECK(!p->expires);
  // Unknown headers are ignored; case and blanks around the colon do not matter.
  d = publish(with("Call-ID", "call-id   :  cid2"), kBody);
  d.insert(d.find("\r\n") + 2, "User-Agent: x\r\nContact: <sip:p@127.0.0.1:4000>\r\n");
  p = parse_fast_publish(d);
  REQUIRE(p);
  CHECK(p->call_id == "cid2");
  // Several Vias are kept in order; the top one is parsed.
  auto v = headers();
  v.insert(v.begin() + 1, "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy");
  d = publish(v);
  p = parse_fast_publish(d);
  REQUIRE(p);
  CHECK(p->via_count == 2);
  CHECK(p->vias[1] == "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy");
  // A display name and an IPv6 sent-by.
  d = publish(with("From", "From: \"P <x>\" <sip:p@localhost>;tag=t2"));
  CHECK(parse_fast_publish(d));
  d = publish(with("Via", "Via: SIP/2.0/UDP [::1]:4000;branch=z9hG4bKv6"));
  p = parse_fast_publish(d);
  REQUIRE(p);
  CHECK(p->sent_by_host == "[::1]");
  CHECK(p->rport_end == 0);
}

TEST_CASE("publish_wire: compact forms, duplicates and missing headers are left to libre") {
  std::vector<std::vector<std::string>> cases = {
      with("Via", "v: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKabc123;rport"),
      with("Call-ID", "i: cid@host"),
      with("From", "f: <sip:p@localhost>;tag=ft"),
      with("To", "t: <sip:p@localhost>"),
      with("Content-Type", "c: application/pidf+xml"),
      with("Event", "o: presence"),
      with("Event", "e: presence"),
      with("Via", ""),
      with("From", ""),
      with("To", ""),
      with("Call-ID", ""),
      with("CSeq", ""),
      with("Event", ""),
      with("Authorization", ""),
      with("Content-Type", ""),  // a body without its type: 415 is libre's
  };
  for (std::string dup :
       {"From: <sip:q@localhost>;tag=x", "To: <sip:q@localhost>", "Call-ID: other", "CSeq: 8 PUBLISH",
        "Event: presence", "Content-Type: application/pidf+xml", "Expires: 60", "SIP-If-Match: zz",
        "Authorization: Digest x", "Max-Forwards: 1", "Content-Length: 3"}) {
    auto hs = headers();
    hs.push_back(dup);
    cases.push_back(hs);
  }
  for (const auto& hs : cases) {
    auto d = publish(hs);
    CAPTURE(d);
    CHECK(!parse_fast_publish(d));
  }
  // l: as the only length
  std::string d = publish(headers());
  d.replace(d.find("Content-Length:"), 15, "l:");
  CHECK(!parse_fast_publish(d));
}

TEST_CASE("publish_wire: bad values are left to libre") {
  std::vector<std::vector<std::string>> cases = {
      with("Via", "Via: SIP/2.0/TCP 127.0.0.1:4000;branch=z9hG4bKabc123"),
      with("Via", "Via: SIP/2.0/UDP 127.0.0.1:4000;branch=abc123"),  // RFC 2543 branch
      with("Via", "Via: SIP/2.0/UDP 127.0.0.1:4000"),
      with("Via", "Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKa;branch=z9hG4bKb"),
      with("Via", "Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKb"),
      with("Via", "Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKa;maddr=10.0.0.1"),
      with("Via", "Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKa;received=10.0.0.1"),
      with("Via", "Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKa;rport=9"),
      with("Via", "Via: SIP/2.0/UDP 127.0.0.1:99999;branch=z9hG4bKa"),
      with("Via", "Via: SIP/2.0/UDP 127.0.0.1:0;branch=z9hG4bKa"),
      with("Via", "Via: SIP/2.0/UDP :5060;branch=z9hG4bKa"),
      with("Via", "Via: SIP/2.0/UDP [zz]:5060;branch=z9hG4bKa"),
      with("Via", "Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK" + std::string(200, 'a')),
      with("From", "From: <sip:p@localhost>"),      // no tag
      with("From", "From: sip:p@localhost;tag=x"),  // addr-spec form
      with("From", "From: <sips:p@localhost>;tag=x"),
      with("From", "From: <sip:p@localhost>;tag=x, <sip:q@localhost>;tag=y"),
      with("From", "From: \"a\\\"b\" <sip:p@localhost>;tag=x"),
      with("To", "To: <sip:p@localhost>;tag=already"),  // in a dialog
      with("To", "To: <sip:p@localhost"),
      with("CSeq", "CSeq: 7 NOTIFY"),
      with("CSeq", "CSeq: 2147483648 PUBLISH"),
      with("CSeq", "CSeq: -1 PUBLISH"),
      with("CSeq", "CSeq: PUBLISH"),
      with("CSeq", "CSeq: 7 publish"),
      with("Event", "Event: presence;id=1"),
      with("Event", "Event: dialog"),
      with("Content-Type", "Content-Type: text/plain"),
      with("Content-Type", "Content-Type: application/pidf+xml;charset=utf-8"),
      with("Expires", "Expires: banana"),
      with("Expires", "Expires: 99999999999"),
      with("Expires", "Expires: 4294967296"),
      with("Max-Forwards", "Max-Forwards: 7000"),
      with("SIP-If-Match", "SIP-If-Match: " + std::string(65, 'a')),
      with("SIP-If-Match", "SIP-If-Match: a b"),
      with("Call-ID", "Call-ID: a b"),
      with("Call-ID", "Call-ID: " + std::string(300, 'c')),
      with("Require", "Require: 100rel"),
  };
  for (const auto& hs : cases) {
    auto d = publish(hs);
    CAPTURE(d);
    CHECK(!parse_fast_publish(d));
  }
  // Expires at the top of its range is taken.
  CHECK(parse_fast_publish(publish(with("Expires", "Expires: 4294967295"))));
}

TEST_CASE("publish_wire: the request line") {
  for (std::string line :
       {"PUBLISH sip:localhost SIP/2.0", "PUBLISH sips:p@localhost SIP/2.0",
        "PUBLISH sip:p%41@localhost SIP/2.0", "PUBLISH sip:p@localhost?x=y SIP/2.0",
        "PUBLISH sip:p@localhost SIP/3.0", "PUBLISH  sip:p@localhost SIP/2.0",
        "publish sip:p@localhost SIP/2.0", "PUBLISH sip:p@ SIP/2.0", "PUBLISH sip:@localhost SIP/2.0",
        "PUBLISH sip:p@localhost:0 SIP/2.0", "PUBLISH sip:p@local host SIP/2.0",
        "SUBSCRIBE sip:p@localhost SIP/2.0", "PUBLISH sip:p@localhost;a=\"b\" SIP/2.0"}) {
    CAPTURE(line);
    CHECK(!parse_fast_publish(publish(headers(), kBody, line)));
  }
  std::string d = publish(headers(), kBody, "PUBLISH sip:p@127.0.0.1:5060;transport=udp SIP/2.0");
  auto p = parse_fast_publish(d);
  REQUIRE(p);
  CHECK(p->host == "127.0.0.1");
}

TEST_CASE("publish_wire: framing: Content-Length, folding, bare line ends, NUL, size") {
  CHECK(!parse_fast_publish(publish(headers(), kBody, "PUBLISH sip:p@localhost SIP/2.0", 5)));
  CHECK(!parse_fast_publish(publish(headers(), kBody, "PUBLISH sip:p@localhost SIP/2.0", 900)));
  auto d = publish(headers());
  d.replace(d.find("Content-Length: "), 16, "Content-Length: 0000");
  CHECK(!parse_fast_publish(d));  // more than five digits
  auto folded = headers();
  folded.insert(folded.begin() + 3, " continued");
  CHECK(!parse_fast_publish(publish(folded)));
  auto bare_lf = headers();
  bare_lf[3] += "\nX: y";
  CHECK(!parse_fast_publish(publish(bare_lf)));
  auto nul = headers();
  nul[3] += std::string(1, '\0');
  CHECK(!parse_fast_publish(publish(nul)));
  auto no_colon = headers();
  no_colon.push_back("NoColonHere");
  CHECK(!parse_fast_publish(publish(no_colon)));
  // No blank line at all.
  d = publish(headers());
  CHECK(!parse_fast_publish(d.substr(0, d.find("\r\n\r\n"))));
  // Over the size limit, and too many header lines.
  CHECK(!parse_fast_publish(publish(headers(), std::string(kMaxFastPublish, 'x'))));
  auto many = headers();
  for (std::size_t i = 0; i < kMaxFastHeaders; ++i) many.push_back("X-Pad: " + std::to_string(i));
  CHECK(!parse_fast_publish(publish(many)));
  auto vias = headers();
  for (std::size_t i = 0; i < kMaxFastVias; ++i) vias.push_back("Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx");
  CHECK(!parse_fast_publish(publish(vias)));
  CHECK(!parse_fast_publish(""));
  CHECK(!parse_fast_publish("PUBLISH "));
}

TEST_CASE("publish_wire: the response copies Vias, From, To with a tag, Call-ID, CSeq") {
  auto v = headers();
  v.insert(v.begin() + 1, "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy");
  std::string d = publish(v);
  auto p = parse_fast_publish(d);
  REQUIRE(p);
  std::string echo = render_publish_echo(*p, "0011223344556677", "127.0.0.1", 4001);
  CHECK(echo ==
        "Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKabc123;rport=4001;received=127.0.0.1\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy\r\n"
        "From: <sip:p@localhost>;tag=ft\r\n"
        "To: <sip:p@localhost>;tag=0011223344556677\r\n"
        "Call-ID: cid@host\r\n"
        "CSeq: 7 PUBLISH\r\n");
  auto r = render_publish_response(200, "OK", echo, "SIP-ETag: e1\r\nExpires: 3600\r\n");
  REQUIRE(r);
  CHECK(*r == "SIP/2.0 200 OK\r\n" + echo + "SIP-ETag: e1\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n");
  // Without rport, received only when the sent-by host is not the source.
  std::string d2 = publish(with("Via", "Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKabc123"));
  p = parse_fast_publish(d2);
  REQUIRE(p);
  CHECK(render_publish_echo(*p, "t", "127.0.0.1", 4000)
            .rfind("Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKabc123\r\n", 0) == 0);
  CHECK(render_publish_echo(*p, "t", "10.1.1.1", 4000)
            .rfind("Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKabc123;received=10.1.1.1\r\n", 0) == 0);
  // rport in the middle of the parameters.
  std::string d3 = publish(with("Via", "Via: SIP/2.0/UDP h.example:4000;rport;branch=z9hG4bKq"));
  p = parse_fast_publish(d3);
  REQUIRE(p);
  CHECK(render_publish_echo(*p, "t", "::1", 9)
            .rfind("Via: SIP/2.0/UDP h.example:4000;rport=9;branch=z9hG4bKq;received=::1\r\n", 0) == 0);
}

TEST_CASE("publish_wire: a response that would break its framing is not rendered") {
  CHECK(!render_publish_response(200, "OK\r\nX: y", "", ""));
  CHECK(!render_publish_response(99, "OK", "", ""));
  CHECK(!render_publish_response(700, "OK", "", ""));
  CHECK(!render_publish_response(200, "OK", "", "X: y"));
  CHECK(!render_publish_response(200, "OK", "", "X: y\r\n\r\nbody"));
  CHECK(!render_publish_response(200, "OK", "", "\r\n"));
  CHECK(!render_publish_response(200, "OK", "", std::string("X: \0\r\n", 6)));
  CHECK(render_publish_response(412, "Conditional Request Failed", "", ""));
}

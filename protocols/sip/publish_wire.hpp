#pragma once
// The wire side of the UDP PUBLISH fast path (`Stack::fast_publish` in
// adapters/sip/libre_sip_plugin.cpp, its transactions in adapters/sip/publish_transactions.*):
// a minimal, strict parse of a PUBLISH request (RFC 3903) and the rendering of its response.
// Pure text; no libre, no sockets.
//
// Why not libre: at 10 watchers per presence change, libre's `sip_msg_decode` of the
// PUBLISH and `sip_treplyf` were ~10 % of parleyd's CPU (bench/README.md, session 23).
// The parse here takes only the request it fully understands and says nullopt for
// anything else, which then goes to libre unchanged: so it need not be a general SIP
// parser, only a correct one for what it accepts.
//
// Taken (everything else is nullopt):
// - "PUBLISH sip:user@host[:port][;params] SIP/2.0" (user and host plain: no escapes, no
//   URI headers, no sips:);
// - header names in their long form only (a one-letter name: RFC 3261 §7.3.3's compact
//   forms, nullopt), no folded lines (§7.3.1), no header line without a colon, at most
//   kMaxFastHeaders lines;
// - Via: one via-parm per line (no commas), SIP/2.0/UDP, a sent-by, a branch starting with
//   RFC 3261's magic cookie z9hG4bK, no maddr, at most kMaxFastVias lines (copied back in
//   order, RFC 3261 §8.2.6.2);
// - From "[display] <uri>;tag=..", To "[display] <uri>" without a tag (an out-of-dialog
//   PUBLISH), Call-ID, CSeq "N PUBLISH" (N < 2**31), Event "presence" (no parameters),
//   Content-Length (required, equal to the body's length), Content-Type
//   application/pidf+xml when there is a body, an Authorization value (checked by the
//   caller with protocols/sip/digest), optional SIP-If-Match (a token of at most 64
//   characters), Expires and Max-Forwards (digits): each at most once;
// - no Require header (an extension we might not support: libre's path decides), other
//   headers ignored.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::protocols::sip {

// Larger requests go to libre (which answers 413 above sip.max_request).
inline constexpr std::size_t kMaxFastPublish = 8192;
inline constexpr std::size_t kMaxFastHeaders = 48;
inline constexpr std::size_t kMaxFastVias = 8;
inline constexpr std::size_t kMaxFastIfMatch = 64;

struct FastPublish {
  std::string_view user, host;                        // the Request-URI's
  std::array<std::string_view, kMaxFastVias> vias{};  // each Via value, in order
  std::size_t via_count = 0;
  std::string_view branch;   // the top Via's
  std::string_view sent_by;  // the top Via's sent-by, as written ("host[:port]")
  std::string_view sent_by_host;
  std::uint16_t sent_by_port = 0;  // 0: none written
  // The top Via's bare `rport` (RFC 3581): its end inside vias[0] (0: none), where the
  // response writes "=port".
  std::size_t rport_end = 0;
  bool has_received = false;  // the top Via already has received=
  std::string_view from, to, call_id;
  std::uint32_t cseq = 0;
  std::string_view authorization;  // empty: none
  std::optional<std::string_view> if_match;
  std::optional<std::uint32_t> expires;
  std::string_view body;
};

// nullopt: not for the fast path (libre's then), never an error answer by itself.
std::optional<FastPublish> parse_fast_publish(std::string_view datagram);

// The retransmission key of RFC 3261 §17.2.3 (branch, sent-by; the method is PUBLISH).
std::string publish_transaction_key(const FastPublish& p);

// The header lines every response to `p` repeats (RFC 3261 §8.2.6.2): the Vias (the top
// one with received= and rport=, RFC 3261 §18.2.1 and RFC 3581 §4), From, To with
// `to_tag` added, Call-ID and CSeq. `src_ip` and `src_port` are where the request came from.
std::string render_publish_echo(const FastPublish& p, std::string_view to_tag, std::string_view src_ip,
                                std::uint16_t src_port);

// A whole response: status line, the echo, `headers` (lines ending in CRLF), and
// Content-Length: 0. nullopt when `reason` or `headers` hold what would break the framing
// (CR/LF in the reason, a NUL, headers not ending in CRLF or holding a blank line).
std::optional<std::string> render_publish_response(std::uint16_t code, std::string_view reason,
                                                   std::string_view echo, std::string_view headers);

}  // namespace parley::protocols::sip

#pragma once
// The wire side of the UDP NOTIFY fast path (adapters/sip/libre_fast_notify.cpp): a
// pre-rendered per-dialog NOTIFY head, the per-NOTIFY fields filled into it, and a minimal
// parse of the responses that come back. Pure text; no libre, no sockets.
//
// Why not libre: per NOTIFY libre decoded the whole 200 OK into a sip_msg (every header
// hashed), walked its client transactions, and printed the dialog's headers afresh
// (sip_drequestf): 12 of the ~20 µs a NOTIFY cost (issue 12's bench). A dialog's headers do
// not change after the SUBSCRIBE (RFC 6665 §4.1.2.1 keeps the route set; the remote target
// changes only by a refresh, which renders the head again), so they are rendered once.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::protocols::sip {

// Responses larger than this are not looked at (libre gets them): a 200 to a NOTIFY is a
// few hundred bytes; a hostile or odd one costs at most this much scanning.
inline constexpr std::size_t kMaxFastResponse = 4096;
// A dialog whose rendered head would exceed this is not put on the fast path.
inline constexpr std::size_t kMaxNotifyHead = 4096;
// Our Via branches: RFC 3261 §8.1.1.7's magic cookie, a marker, then 16 hex digits.
inline constexpr std::string_view kFastBranchPrefix = "z9hG4bKpF";

struct MinimalResponse {
  std::uint16_t status = 0;
  std::string_view branch;  // the top Via's branch parameter (into the datagram)
  std::uint32_t cseq = 0;
  std::string_view cseq_method;
};

// A SIP response's status line, top Via branch and CSeq, nothing else: nullopt for a
// request, anything larger than kMaxFastResponse, a malformed status line, no Via or
// branch, no or a bad CSeq, folded header lines (RFC 3261 §7.3.1's obsolete LWS), or a
// header section without its blank line.
std::optional<MinimalResponse> parse_minimal_response(std::string_view datagram);

// The 64-bit key of one of our branches (kFastBranchPrefix + 16 lowercase hex digits);
// nullopt for any other branch.
std::optional<std::uint64_t> fast_branch_key(std::string_view branch);

// What a NOTIFY on one dialog repeats (RFC 6665 §4.1.2 and RFC 3261 §12.2.1.1): the
// Request-URI is the remote target, Route the route set, From our URI and tag, To the
// subscriber's From (with its tag), Call-ID and Event as in the SUBSCRIBE.
struct NotifyDialog {
  std::string request_uri;         // remote target (the SUBSCRIBE's Contact URI)
  std::vector<std::string> route;  // the route set (the SUBSCRIBE's Record-Route, in order)
  std::string via_host;            // our address for Via ("127.0.0.1:5060", "[::1]:5060")
  std::string from;                // "<sip:bob@example.com>;tag=..."
  std::string to;                  // the SUBSCRIBE's From header value as received
  std::string call_id;
  std::string contact;  // "<sip:bob@127.0.0.1:5060>"
  std::string event;    // "presence" or "presence;id=..."
};

// The NOTIFY's constant text, in two parts around the Via branch's 16 hex digits.
struct NotifyHead {
  std::string before_branch;  // "NOTIFY <ruri> SIP/2.0\r\nVia: SIP/2.0/UDP host;branch=z9hG4bKpF"
  std::string after_branch;   // ";rport\r\nMax-Forwards: 70\r\nRoute...Event: ...\r\n"
};

// nullopt when a field holds CR, LF or NUL, a required field is empty, or the head would be
// larger than kMaxNotifyHead.
std::optional<NotifyHead> render_notify_head(const NotifyDialog& d);

// One NOTIFY into `out` (cleared first): the head, the branch key's 16 hex digits, CSeq,
// Subscription-State (RFC 6665 §8.2.3: `state` is "active;expires=N", "pending;expires=N"
// or "terminated;reason=R"), Content-Type when there is a body, Content-Length, body.
void render_notify(std::string& out, const NotifyHead& h, std::uint64_t branch_key, std::uint32_t cseq,
                   std::string_view state, std::string_view content_type, std::string_view body);

}  // namespace parley::protocols::sip

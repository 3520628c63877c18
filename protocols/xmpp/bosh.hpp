#pragma once
// BOSH (XEP-0124) carrying XMPP (XEP-0206) as pure values: the <body/> wrapper of one HTTP
// request, the request-id window and the wrapper of a response. The session that holds
// requests and feeds the c2s stream lives in adapters/xmpp/bosh_session.
//
// Bounds: the body is at most the caller's byte limit (http.limits.body_bytes) before it is
// parsed, and at most kMaxBoshChildren payload elements; pugixml expands no entity but the
// five predefined ones and numeric references, reads no DTD. Every payload element is
// serialised again (so it is well-formed on its own) and checked once more by the c2s
// StreamFramer with its limits, exactly like TCP input.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::protocols::xmpp {

inline constexpr std::string_view kBoshNs = "http://jabber.org/protocol/httpbind";
inline constexpr std::string_view kXboshNs = "urn:xmpp:xbosh";
inline constexpr std::size_t kMaxBoshChildren = 256;

struct BoshBody {
  std::optional<std::uint64_t> rid;  // required by XEP-0124 §7 / §9
  std::string sid;                   // empty: a session creation request
  std::string to, type, lang, ver, route;
  std::uint32_t wait = 0, hold = 0;  // session creation: as asked (0 when absent)
  bool has_wait = false, has_hold = false;
  bool restart = false;              // xmpp:restart='true' (XEP-0206 §5)
  std::string xmpp_version;          // xmpp:version (XEP-0206 §3)
  std::vector<std::string> payload;  // each child element, serialised standalone
};

struct BoshParseError {
  std::string condition;  // XEP-0124 §17.2: "bad-request", "policy-violation"
  std::string text;
};

// Parses one request body. A size above max_bytes, non-XML, another root than
// <body xmlns='http://jabber.org/protocol/httpbind'/>, a missing or non-numeric rid, or
// more than kMaxBoshChildren children are errors. Payload elements without a namespace of
// their own get xmlns='jabber:client' (XEP-0206 §4: stanzas are qualified by it).
struct BoshParse {
  std::optional<BoshBody> body;
  BoshParseError error;
};
BoshParse parse_bosh_body(std::string_view xml, std::size_t max_bytes);

// XEP-0124 §14: request ids increase by one per request; a client with `window` requests
// in flight may send them out of order. check() says whether rid is new (and records it),
// a retransmission of one seen recently (answer it from the cache), or outside the window
// (the session ends with item-not-found).
class RidWindow {
 public:
  enum class Verdict : std::uint8_t { fresh, duplicate, out_of_window };
  RidWindow(std::uint64_t first_rid, std::uint32_t window);
  Verdict check(std::uint64_t rid);
  std::uint64_t highest() const { return highest_; }

 private:
  std::uint64_t highest_;
  std::uint32_t window_;
  std::deque<std::uint64_t> seen_;  // rids in (highest - 2*window, highest], ascending
};

// Answers already sent, by rid, for retransmissions (XEP-0124 §14.3); the oldest goes
// once more than `keep` are stored.
class ResponseCache {
 public:
  explicit ResponseCache(std::size_t keep) : keep_(keep) {}
  void put(std::uint64_t rid, std::string body);
  const std::string* find(std::uint64_t rid) const;

 private:
  std::size_t keep_;
  std::deque<std::pair<std::uint64_t, std::string>> items_;
};

// A response body: `attributes` is text inserted in the start tag (e.g. " sid='..'"),
// already escaped by the caller (escape_attr); `payload` the serialised elements.
std::string render_bosh_body(std::string_view attributes, std::string_view payload);
// <body type='terminate' condition='...'/> (XEP-0124 §17.2).
std::string render_bosh_terminate(std::string_view condition);
std::string escape_bosh_attr(std::string_view v);

}  // namespace parley::protocols::xmpp

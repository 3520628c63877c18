#pragma once
// The XMPP stream framer as it was before the fast paths (session 23), kept verbatim as the
// reference the differential tests (reference_diff_test.cpp) and bench/bench_xmpp_inbound
// compare protocols/xmpp/framer.cpp against. Not used by parleyd.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/stream_error.hpp"

namespace parley::protocols::xmpp::ref {

class RefStreamFramer {
 public:
  enum class Status : std::uint8_t { need_more, header, stanza, stream_end, error };
  struct Step {
    Status status = Status::need_more;
    std::size_t consumed = 0;
  };

  explicit RefStreamFramer(FramerLimits limits = {}) : limits_(limits) { reset(); }

  // Scans data. Stops after the first complete event (header, stanza, stream end) or at
  // the end of data (need_more, everything consumed). After error, every call returns
  // error again; error() tells the stream error condition.
  Step feed(std::string_view data);

  // The stream header, valid after Status::header (until release_header(); empty after).
  const StreamHeader& header() const;
  // Frees the decoded header once the caller has read it (a session keeps no copy of it
  // for its lifetime, ~300 bytes per idle stream) and any scratch capacity the header left.
  void release_header();
  // The raw bytes of the last complete top-level element (moved out; the framer's buffer
  // is then empty). Valid after Status::stanza.
  std::vector<char> take_stanza();
  std::string_view stanza_view() const { return {stanza_.data(), stanza_.size()}; }

  StreamError error() const { return error_; }
  const std::string& error_text() const { return error_text_; }
  bool header_seen() const { return header_seen_; }
  // RFC 6120 §4.3.3: stream restart after STARTTLS and SASL success: a new document.
  void reset();
  const FramerLimits& limits() const { return limits_; }
  void set_limits(const FramerLimits& l) { limits_ = l; }

 private:
  enum class S : std::uint8_t {
    prolog,      // before the stream header
    lt,          // after '<'
    bang,        // after "<!"
    cdata_open,  // matching "<![CDATA["
    cdata,       // inside CDATA
    pi,          // inside the leading <?xml ...?>
    start_name,  // element name
    in_tag,      // between attributes
    attr_name,
    attr_after_name,
    attr_eq,
    attr_value,
    attr_after_value,
    empty_slash,  // "/" seen in a start tag
    end_name,     // element name in an end tag
    end_ws,       // whitespace after the end tag name
    text,         // character data
    entity,       // after '&'
    done_end,     // the stream has ended
    failed,
  };

  bool fail(StreamError e, std::string text);
  bool check_char(unsigned char b);  // UTF-8 + XML Char validation of one byte
  bool on_entity_end();
  bool finish_start_tag(bool empty);  // returns false on error
  bool finish_end_tag();
  bool finish_attribute();
  void trim();  // between stanzas: drops scratch capacity (see names_)

  FramerLimits limits_;
  S state_ = S::prolog;
  S entity_return_ = S::text;
  // Only while a header is read or not yet released: an idle stream keeps none.
  std::unique_ptr<StreamHeader> header_;
  bool header_seen_ = false;
  bool decl_allowed_ = true;  // the XML declaration may only come first

  // UTF-8 decoder state
  std::uint32_t cp_ = 0;
  std::uint32_t cp_min_ = 0;
  std::uint8_t need_ = 0;

  // Element stack: the open elements' names, each ended by a NUL (names never contain one:
  // NUL is not an XML Char). Between stanzas it holds only the stream element's name, and
  // trim() gives back what a stanza made it grow to, so an idle stream keeps no heap here.
  std::string names_;
  std::size_t depth_ = 0;  // 0: before header; 1: inside stream; >= 2: inside a stanza
  // Scratch of the tag or entity being read. Allocated when feed() starts and freed when it
  // returns between stanzas (an idle stream keeps none: 160 bytes per connection); a read
  // that brings several stanzas allocates it once.
  struct Scratch {
    std::string cur_name;
    std::string cur_attr;
    std::string cur_value;   // raw (undecoded) value, only kept for the header
    std::string attr_names;  // of the current tag, NUL-ended, for duplicate detection
    std::string entity;
  };
  std::unique_ptr<Scratch> sc_;
  void release_if_idle();
  std::size_t attr_count_ = 0;
  char quote_ = 0;
  std::uint8_t match_ = 0;  // progress through "[CDATA[" / "]]>" / "?>"

  std::vector<char> stanza_;
  bool buffering_ = false;  // bytes belong to a stanza or the header
  std::size_t header_bytes_ = 0;
  StreamError error_ = StreamError::none;
  std::string error_text_;
};

}  // namespace parley::protocols::xmpp::ref

#pragma once
// A streaming, bounded framer for XMPP's restricted XML (RFC 6120 §11).
//
// An XMPP stream is one endless XML document, so a DOM parser cannot read it. The framer
// scans the bytes once, checks well-formedness of everything it sees (UTF-8, XML Char,
// names, tag nesting, attribute syntax, entity references) and cuts out:
//   - the stream header `<stream:stream ...>` (attributes decoded),
//   - each complete top-level element (a stanza or a nonza), as raw bytes that
//     Stanza::parse() hands to pugixml in place,
//   - the stream end `</stream:stream>`.
// It is resumable: feed() consumes what it can and returns need_more, or stops right after
// one event. Input is bounded before anything is buffered: stanza size, nesting depth and
// attribute count (policy-violation), header size.
// Runs of bytes that need no decision (names, values, text, CDATA, whole valid UTF-8
// sequences) are taken by a class table instead of one state-machine step per byte, and
// inside a stanza the common markup (a tag's '<' and name, attributes with plain values, the
// '>' of a start tag or of an inner end tag) by one straight pass; both stop before any byte
// that would break a limit or needs the byte loop, so every error is reported where the
// byte loop would report it (tests/unit/protocols/xmpp/reference_diff_test.cpp checks this).
//
// Rejected (RFC 6120 §11.1): comments, processing instructions other than the leading XML
// declaration, DTDs / entity declarations, references to entities other than the five
// predefined ones (restricted-xml); invalid UTF-8, NUL and other non-Chars, syntax errors,
// mismatched tags, duplicate attributes, non-whitespace text between stanzas
// (not-well-formed).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/xmpp/stream_error.hpp"

namespace parley::protocols::xmpp {

struct FramerLimits {
  std::size_t max_stanza = 256 * 1024;  // bytes of one top-level element
  std::size_t max_depth = 32;           // element nesting inside a stanza (stanza = 1)
  std::size_t max_attributes = 64;      // per element
  std::size_t max_header = 4096;        // XML declaration + stream header
};

struct StreamHeader {
  std::string name;  // qualified name, e.g. "stream:stream"
  std::vector<std::pair<std::string, std::string>> attributes;  // decoded values

  // The attribute's value, or "" when absent.
  std::string_view attr(std::string_view name) const;
  bool has(std::string_view name) const;
};

class StreamFramer {
 public:
  enum class Status : std::uint8_t { need_more, header, stanza, stream_end, error };
  struct Step {
    Status status = Status::need_more;
    std::size_t consumed = 0;
  };

  explicit StreamFramer(FramerLimits limits = {}) : limits_(limits) { reset(); }

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
  // Whether an element or attribute name of the last complete top-level element has a
  // prefix other than "xml" (or is an xmlns:p declaration). Without one the stanza cannot
  // break Namespaces in XML (no prefix to be unbound, no two attributes with one expanded
  // name): Stanza::parse skips that check. Valid after Status::stanza.
  bool stanza_prefixed() const { return prefixed_; }

  StreamError error() const { return error_; }
  const std::string& error_text() const { return error_text_; }
  bool header_seen() const { return header_seen_; }
  // RFC 6120 §4.3.3: stream restart after STARTTLS and SASL success: a new document.
  void reset();
  const FramerLimits& limits() const { return limits_; }
  void set_limits(const FramerLimits& l) { limits_ = l; }

 private:
  enum class S : std::uint8_t {
    prolog,        // before the stream header
    lt,            // after '<'
    bang,          // after "<!"
    cdata_open,    // matching "<![CDATA["
    cdata,         // inside CDATA
    pi,            // inside the leading <?xml ...?>
    start_name,    // element name
    in_tag,        // between attributes
    attr_name,
    attr_after_name,
    attr_eq,
    attr_value,
    attr_after_value,
    empty_slash,   // "/" seen in a start tag
    end_name,      // element name in an end tag
    end_ws,        // whitespace after the end tag name
    text,          // character data
    entity,        // after '&'
    done_end,      // the stream has ended
    failed,
  };

  bool fail(StreamError e, std::string text);
  bool check_char(unsigned char b);   // UTF-8 + XML Char validation of one byte
  // Fast path: the byte class (framer.cpp's kClass) of the bytes the byte loop would take
  // one by one in the current state without any effect but appending them to a name or
  // value, 0 where there is no fast path; see feed().
  std::uint8_t run_mask() const;
  // Fast path over the markup of a stanza (see feed()): from data[i], in text at a '<' or
  // between attributes, takes what the byte loop would take with the same effects (tag
  // names, attributes with plain values, the '>' ending a start tag), stopping before any
  // byte it leaves to the byte loop. Advances i; false when the framer failed at data[i].
  bool markup_run(std::string_view data, std::size_t& i, std::size_t& buf_from);
  bool on_entity_end();
  bool finish_start_tag(bool empty);  // returns false on error
  bool finish_end_tag();
  bool finish_attribute(std::string_view name);  // the attribute name just read
  void trim();  // between stanzas: drops what one big stanza made the scratch grow to
  void start_stanza();  // stanza_ for a new stanza: this thread's spare block (stanza_buffer.hpp)

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

  // The stream element's name (the stanzas' elements are in Scratch::open), so an idle
  // stream keeps no heap here ("stream:stream" fits libstdc++'s 15-char inline buffer).
  std::string names_;
  std::size_t depth_ = 0;  // 0: before header; 1: inside stream; >= 2: inside a stanza
  // Scratch of the stanza being read: its open elements' names and the tag or entity being
  // read. Only held while a stanza or the header is unfinished at the end of a read: an
  // idle stream keeps none (160 bytes per connection). Between reads it goes back to a
  // one-slot spare per thread, so a busy connection neither mallocs nor frees it per read.
  struct Scratch {
    std::string open;  // names of the elements open inside the stanza, each NUL-ended
    std::string cur_name;
    std::string cur_attr;
    std::string cur_value;   // raw (undecoded) value, only kept for the header
    std::string attr_names;  // of the current tag, NUL-ended, for duplicate detection
    std::string entity;
  };
  std::unique_ptr<Scratch> sc_;
  static std::unique_ptr<Scratch>& spare_scratch();  // this thread's spare
  void acquire_scratch();
  void release_scratch();
  void release_if_idle();
  std::size_t attr_count_ = 0;
  char quote_ = 0;
  std::uint8_t match_ = 0;  // progress through "[CDATA[" / "]]>" / "?>"

  std::vector<char> stanza_;
  bool buffering_ = false;  // bytes belong to a stanza or the header
  bool prefixed_ = false;   // see stanza_prefixed()
  std::size_t header_bytes_ = 0;
  StreamError error_ = StreamError::none;
  std::string error_text_;
};

// Decodes the five predefined entities and character references of an attribute value or
// text that the framer has already validated.
std::string decode_entities(std::string_view raw);

}  // namespace parley::protocols::xmpp

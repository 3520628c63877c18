#pragma once
// IRC message codec (Modern IRC client protocol, "Messages"; IRCv3 message-tags).
//
// Parsing is a pure value layer: LineFramer cuts lines out of a receive buffer
// (CRLF or LF; resumable; bounded) and parse_line() splits one line into string_views
// of that buffer, without copying. A line that is not valid UTF-8 is converted with the
// configured fallback (latin-1 by default) into the framer's scratch buffer instead of
// being dropped. Rendering appends wire lines to a std::string.
//
// Limits: the tag section ('@' .. the space after it) is at most 8191 bytes and the rest
// of the line at most 512 bytes including CRLF (message-tags spec, "Size limit"); more
// than 15 parameters folds the rest into the 15th, as RFC 1459 §2.3 does.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::protocols::irc {

inline constexpr std::size_t kMaxBody = 512;        // incl. CRLF
inline constexpr std::size_t kMaxConvertedBody = 2 * kMaxBody;  // latin-1 decoded to UTF-8
inline constexpr std::size_t kMaxTagSection = 8191;  // incl. '@' and the trailing space
inline constexpr std::size_t kMaxParams = 15;
inline constexpr std::size_t kMaxLine = kMaxTagSection + kMaxBody;

enum class ParseError : std::uint8_t {
  none,
  line_too_long,   // body over 512 bytes (ERR_INPUTTOOLONG 417)
  tags_too_long,   // tag section over 8191 bytes (417)
  empty,           // blank line: ignored silently
  no_command,      // prefix or tags without a command
  bad_command,     // command neither letters nor three digits
  bad_character,   // NUL in the line
  bad_encoding,    // invalid UTF-8 and no fallback configured
};
std::string_view to_string(ParseError e);

enum class Fallback : std::uint8_t { latin1, reject };

struct Message {
  std::string_view tags;     // raw tag section without '@', empty for none
  std::string_view prefix;   // without ':', empty for none
  std::string_view command;  // as sent (compare case-insensitively)
  std::array<std::string_view, kMaxParams> params{};
  std::size_t nparams = 0;
  bool trailing = false;  // last param was written with ':'

  std::string_view param(std::size_t i) const { return i < nparams ? params[i] : std::string_view{}; }
};

// Splits one line (without CR/LF) into a Message of views into `line`. On bad_command,
// tags, prefix and command are already set (a server answers ERR_UNKNOWNCOMMAND naming it).
// max_body: kMaxConvertedBody for a line LineFramer decoded from latin-1 (its bytes as sent
// kept kMaxBody; each high byte became two).
ParseError parse_line(std::string_view line, Message& out, std::size_t max_body = kMaxBody);

// Iterates the tag section: key and raw (escaped) value; value empty when absent.
struct Tag {
  std::string_view key;
  std::string_view value;
};
template <class F>
void for_each_tag(std::string_view tags, F&& f) {
  while (!tags.empty()) {
    auto semi = tags.find(';');
    std::string_view item = tags.substr(0, semi);
    tags = semi == std::string_view::npos ? std::string_view{} : tags.substr(semi + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    f(Tag{item.substr(0, eq), eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1)});
  }
}
std::string unescape_tag_value(std::string_view v);  // message-tags "Escaping values"
void escape_tag_value(std::string_view v, std::string& out);
// Appends "key=escaped value" to a tag list, with the ';' separator when it is not empty.
void append_tag(std::string& tags, std::string_view key, std::string_view value);

// UTF-8 validity (RFC 3629: no overlongs, no surrogates, max U+10FFFF).
bool is_valid_utf8(std::string_view s);
// Each byte is a latin-1 code point: appends its UTF-8 form.
void latin1_to_utf8(std::string_view s, std::string& out);
// The longest prefix of s no longer than max bytes that does not split a UTF-8 sequence.
std::string_view utf8_truncate(std::string_view s, std::size_t max);

// Cuts complete lines out of a receive buffer.
class LineFramer {
 public:
  enum class Status : std::uint8_t { line, need_more, error };
  struct Result {
    Status status = Status::need_more;
    std::size_t consumed = 0;  // bytes of the input used (the caller drops them)
    // Of consumed, the tail of an overlong line dropped ahead of this result: a caller that
    // keeps this line for later (IrcLink's take_hold) keeps only consumed - discarded.
    std::size_t discarded = 0;
    std::string_view line;     // Status::line: without CR/LF (maybe in scratch after fallback)
    bool converted = false;    // decoded from latin-1: parse it with kMaxConvertedBody
    ParseError error = ParseError::none;
  };

  explicit LineFramer(Fallback fallback = Fallback::latin1) : fallback_(fallback) {}
  // Looks at the start of `buffer` for the next line. An overlong line yields one error and
  // its bytes are discarded up to and including its LF, across calls.
  Result next(std::string_view buffer) { return decode(next_raw(buffer)); }
  // The same in two steps: the next line as sent (not checked for UTF-8), then what next()
  // would give for it (the encoding checked and the fallback applied). A reader that knows a
  // line already by its bytes (a gateway puppet skipping a channel line another puppet read)
  // drops it between the two without the check.
  Result next_raw(std::string_view buffer);
  Result decode(Result raw);

 private:
  Fallback fallback_;
  bool discarding_ = false;
  std::string scratch_;
};

// ---------------------------------------------------------------------------------------
// Rendering

// Appends one wire line. Parameters: every but the last must be non-empty and contain no
// space or leading ':'; the last is written as trailing (':') when needed or when
// force_trailing. The body is truncated (at a UTF-8 boundary) to keep it within 512 bytes.
class LineWriter {
 public:
  explicit LineWriter(std::string& out) : out_(out), start_(out.size()) {}
  // "@a=b;c " — pass the section without '@' and without the space.
  LineWriter& tags(std::string_view raw);
  LineWriter& prefix(std::string_view p);
  LineWriter& command(std::string_view c);
  LineWriter& param(std::string_view p);
  LineWriter& trailing(std::string_view p);
  // A numeric: three digits, zero-padded.
  LineWriter& numeric(int n);
  void end();  // CRLF; idempotent

 private:
  std::string& out_;
  std::size_t start_;
  std::size_t body_start_ = std::string::npos;
  bool ended_ = false;
};

}  // namespace parley::protocols::irc

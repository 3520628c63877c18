#pragma once
// IRC text helpers: formatting codes <-> style spans (https://modern.ircdocs.horse/formatting),
// CTCP ACTION framing, ascii casemapping (ISUPPORT CASEMAPPING=ascii) and name checks.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/ascii.hpp"

namespace parley::protocols::irc {

// A styled byte range over the plain text; colours are 0xRRGGBB.
struct Span {
  enum Flag : std::uint8_t { bold = 1, italic = 2, underline = 4, monospace = 8, strike = 16 };
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::uint8_t flags = 0;
  std::optional<std::uint32_t> fg;
  std::optional<std::uint32_t> bg;
  friend bool operator==(const Span&, const Span&) = default;
};

struct StyledText {
  std::string text;
  std::vector<Span> spans;
};

// At most this many spans are made or rendered for one text; past them the text is plain
// (never dropped). An IRC line carries at most ~250; the bound is for longer texts (other
// protocols' messages rendered into IRC) and keeps the work linear in the text.
inline constexpr std::size_t kMaxSpans = 1024;

// Strips formatting codes (bold ^B, italic ^], underline ^_, strike ^^, monospace ^Q,
// colour ^C[fg[,bg]], hex colour ^D, reverse ^V, reset ^O) into spans. A text without any
// code comes back unchanged with no spans. Linear in the input; at most kMaxSpans spans.
StyledText parse_formatting(std::string_view in);
// Renders text + spans back into codes (colours to the nearest of the 16 standard ones).
// Spans may overlap (flags combine, the later colour wins); only the first kMaxSpans count.
// O(n + s log s).
std::string render_formatting(std::string_view text, const std::vector<Span>& spans);

// The texts of the IRC lines for text + spans: one per '\n'-separated line (blank lines
// skipped, a CR before LF dropped), each cut at UTF-8 boundaries so that its rendered form,
// codes included, is at most `budget` bytes (a single character may exceed a tiny budget).
// Clients reset formatting at the end of each line, so each line re-opens the style in
// force. At most max_lines texts are kept; `more` counts the ones left out. Linear.
struct RenderedLines {
  std::vector<std::string> lines;
  std::size_t more = 0;
};
RenderedLines render_lines(std::string_view text, const std::vector<Span>& spans, std::size_t budget,
                           std::size_t max_lines);
// True when the text contains any formatting control character.
bool has_formatting(std::string_view in);
// The mIRC colour index (0..98) as RGB; nullopt for 99 (default) and out-of-range.
std::optional<std::uint32_t> colour_rgb(int index);

// CTCP (https://modern.ircdocs.horse/ctcp): "\x01ACTION text\x01" <-> text.
std::optional<std::string_view> ctcp_action(std::string_view body);
std::string make_ctcp_action(std::string_view text);
// Any CTCP: the command word and its params; nullopt if body is not CTCP.
struct Ctcp {
  std::string_view command;
  std::string_view params;
};
std::optional<Ctcp> parse_ctcp(std::string_view body);

// CASEMAPPING=ascii: the shared helpers of protocols/common/ascii.hpp under IRC's names.
inline std::string casefold(std::string_view s) { return ascii_fold(s); }
constexpr bool equal_fold(std::string_view a, std::string_view b) { return ascii_equal_fold(a, b); }

// Nick: RFC 2812 §2.3.1 letters, digits and []\`_^{|}-, not starting with a digit or '-'.
bool is_valid_nick(std::string_view nick, std::size_t max_len);
// Channel: '#' then 1+ bytes, none of space, comma, BEL, NUL, CR, LF, ':'.
bool is_valid_channel(std::string_view chan, std::size_t max_len);
// The non-empty items of a comma-separated list (JOIN/PART/KICK targets, WHOIS nicks, ...).
std::vector<std::string_view> split_list(std::string_view s);
// Glob match with '*' and '?' under ascii casemapping (WHO and server masks; room bans
// are matched by the core's neutral BanMask pattern, core/model/room_change.hpp).
bool mask_match(std::string_view mask, std::string_view text);

}  // namespace parley::protocols::irc

#pragma once
// What a relay bot says for a line it heard in another room of its bridge (pure):
//
//   a message "hi" from alice, prefix "<{nick}> "  ->  "<alice> hi"
//   an action "/me waves" from alice                ->  an action "alice waves"
//
// "{nick}" in the prefix format is the speaker's nick with control characters (CR, LF,
// NUL, formatting codes) removed and cut to kMaxRelayNick bytes at a UTF-8 boundary, so no
// nick can add a line or a command. Every line of a multi-line message gets the prefix
// (IRC shows each line on its own), at most max_lines of them (then "[... N more lines]").
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley::adapters::bridge {

inline constexpr std::size_t kMaxRelayNick = 64;

// A line heard in one room of a bridge.
struct Heard {
  std::string nick;
  std::string text;  // UTF-8, may hold several lines
  bool action = false;
};

// The speaker's nick made safe for a prefix (see above).
std::string clean_nick(std::string_view nick);
// fmt with every "{nick}" replaced by clean_nick(nick).
std::string format_prefix(std::string_view fmt, std::string_view nick);
// The lines to say, one per line of h.text (CR, LF and CR LF end a line; blank lines are
// skipped): prefix + line for a message, nick + " " + line for an action.
std::vector<std::string> relay_lines(std::string_view fmt, const Heard& h, std::size_t max_lines);

// The IRC wire lines ("PRIVMSG #chan :...\r\n") for h said by `nick` in `channel`: relay_lines
// with fmt, actions as CTCP ACTION, each through adapters/gateway/outgoing (NUL and controls
// dropped, cut at UTF-8 boundaries to fit 512 bytes), so no text makes a second command.
// fmt empty and puppet true: the speaker's own puppet says it (no nick in an action).
std::vector<std::string> irc_wire_lines(std::string_view nick, std::string_view channel, std::string_view fmt,
                                        const Heard& h, std::size_t max_lines, bool puppet = false);

}  // namespace parley::adapters::bridge

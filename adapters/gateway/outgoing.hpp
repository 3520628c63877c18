#pragma once
// Text from XMPP into IRC lines, so that no XMPP input can become a second IRC command
// (Modern IRC "Messages": a line ends at CR or LF, NUL is forbidden): CR and LF split the
// body into lines, NUL and other C0 controls except the formatting codes are dropped, each
// line is cut at UTF-8 boundaries to fit the 512-byte limit with the prefix the server will
// add when it relays it, and at most max_lines lines are made (a last "[... N more lines]"
// says how many were left out). Pure.
#include <string>
#include <string_view>
#include <vector>

#include "protocols/irc/text.hpp"

namespace parley::adapters::gateway {

// The bytes of text a "PRIVMSG <target> :" line may carry once the server has prefixed it
// with ":nick!user@host " (user and host unknown to us: their usual maxima are assumed).
std::size_t privmsg_budget(std::string_view nick, std::string_view target);

// body: the XMPP <body/>. "/me text" becomes one CTCP ACTION per line.
// Appends complete "PRIVMSG target :..." (or NOTICE) wire lines, one string each, to out.
// spans (from XHTML-IM) become mIRC formatting; they are used only when the body needed no
// cleaning (CR/LF or controls would move their offsets), else the text goes plain.
void privmsg_lines(std::string_view nick, std::string_view target, std::string_view body,
                   std::size_t max_lines, std::vector<std::string>& out,
                   std::string_view command = "PRIVMSG", const std::vector<protocols::irc::Span>& spans = {});
// privmsg_lines without its fast path for the common body (one line that fits, nothing to
// clean, no /me, no spans), which writes that line directly. The same output for every
// input: the unit tests and fuzz_gateway compare the two.
void privmsg_lines_general(std::string_view nick, std::string_view target, std::string_view body,
                           std::size_t max_lines, std::vector<std::string>& out, std::string_view command,
                           const std::vector<protocols::irc::Span>& spans);

// One line of text with line breaks turned into spaces, controls dropped, cut to max bytes
// at a UTF-8 boundary (TOPIC, PART and KICK reasons).
std::string one_line(std::string_view text, std::size_t max);

// Raw IRC commands (a message to the server JID net@gw, the user's own connection): CR and
// LF end a command, so each line of body is one command; NUL is dropped (Modern IRC
// "Messages"), blank lines are skipped, each line is cut at a UTF-8 boundary to 510 bytes,
// at most max_lines are made. Appends complete "...\r\n" wire lines to out.
void raw_lines(std::string_view body, std::size_t max_lines, std::vector<std::string>& out);

}  // namespace parley::adapters::gateway

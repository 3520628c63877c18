#include "adapters/gateway/outgoing.hpp"

#include <algorithm>

#include "protocols/irc/message.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::gateway {

namespace irc = protocols::irc;

namespace {
constexpr std::size_t kAssumedUser = 10;  // USERLEN on most networks
constexpr std::size_t kAssumedHost = 63;  // a host name label limit; cloaks are shorter

// Formatting codes (bold, colour, italic, ...) are kept; every other control byte goes.
bool keep_control(unsigned char c) {
  return c == 0x02 || c == 0x03 || c == 0x04 || c == 0x0f || c == 0x11 || c == 0x16 || c == 0x1d ||
         c == 0x1e || c == 0x1f || c == '\t';
}

// CR, CR LF and LF all become one '\n'; NUL and other controls are dropped.
std::string normalise(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (c == '\n' || c >= 0x20 || keep_control(c)) {
      if (c != 0x7f) out.push_back(static_cast<char>(c));
    }
  }
  return out;
}
}  // namespace

std::size_t privmsg_budget(std::string_view nick, std::string_view target) {
  // ":" nick "!" user "@" host " PRIVMSG " target " :" text CRLF <= 512
  const std::size_t fixed = 1 + nick.size() + 1 + kAssumedUser + 1 + kAssumedHost + 9 + target.size() + 2 + 2;
  return fixed + 16 >= irc::kMaxBody ? 16 : irc::kMaxBody - fixed;
}

void privmsg_lines(std::string_view nick, std::string_view target, std::string_view body,
                   std::size_t max_lines, std::vector<std::string>& out, std::string_view command,
                   const std::vector<irc::Span>& spans) {
  // The common message: what the general path makes of a body that normalise() leaves as it
  // is (no CR, LF, NUL, DEL or dropped control), without /me or styling, that fits one line:
  // render_lines() returns it whole and the LineWriter below writes it, here without the
  // copies in between (~3,900 instructions a message before, bench/README.md).
  if (spans.empty() && !body.empty() && body.size() <= privmsg_budget(nick, target) &&
      std::all_of(body.begin(), body.end(),
                  [](char ch) {
                    const auto c = static_cast<unsigned char>(ch);
                    return (c >= 0x20 && c != 0x7f) || keep_control(c);
                  }) &&
      !body.starts_with("/me ")) {
    std::string line;
    line.reserve(command.size() + target.size() + body.size() + 6);  // " " or " :", " :", CRLF
    irc::LineWriter w(line);
    w.command(command).param(target).trailing(body);
    w.end();
    out.push_back(std::move(line));
    return;
  }
  privmsg_lines_general(nick, target, body, max_lines, out, command, spans);
}

void privmsg_lines_general(std::string_view nick, std::string_view target, std::string_view body,
                           std::size_t max_lines, std::vector<std::string>& out, std::string_view command,
                           const std::vector<irc::Span>& spans) {
  std::string text = normalise(body);
  std::vector<irc::Span> styled;
  if (!spans.empty() && text == body) styled = spans;
  bool action = false;
  if (text.rfind("/me ", 0) == 0) {
    action = true;
    text.erase(0, 4);
    std::vector<irc::Span> shifted;
    for (auto sp : styled) {
      if (sp.end <= 4) continue;
      sp.begin = sp.begin < 4 ? 0 : sp.begin - 4;
      sp.end -= 4;
      shifted.push_back(sp);
    }
    styled = std::move(shifted);
  }
  std::size_t budget = privmsg_budget(nick, target);
  if (action) budget = budget > 9 + 16 ? budget - 9 : 16;  // "\x01ACTION " + "\x01"
  auto lines = irc::render_lines(text, styled, budget, max_lines == 0 ? 1 : max_lines);
  if (lines.more != 0) lines.lines.push_back("[... " + std::to_string(lines.more) + " more lines]");
  for (auto& l : lines.lines) {
    std::string line;
    irc::LineWriter w(line);
    w.command(command).param(target).trailing(action ? irc::make_ctcp_action(l) : l);
    w.end();
    out.push_back(std::move(line));
  }
}

std::string one_line(std::string_view text, std::size_t max) {
  std::string s = normalise(text);
  for (char& c : s)
    if (c == '\n') c = ' ';
  return std::string(irc::utf8_truncate(s, max));
}

void raw_lines(std::string_view body, std::size_t max_lines, std::vector<std::string>& out) {
  std::size_t made = 0;
  std::size_t pos = 0;
  while (pos <= body.size() && made < (max_lines == 0 ? 1 : max_lines)) {
    std::size_t end = body.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = body.size();
    std::string line;
    for (char c : body.substr(pos, end - pos))
      if (c != '\0') line.push_back(c);
    pos = end + 1;
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    line = std::string(irc::utf8_truncate(line, irc::kMaxBody - 2));
    line += "\r\n";
    out.push_back(std::move(line));
    ++made;
  }
}

}  // namespace parley::adapters::gateway

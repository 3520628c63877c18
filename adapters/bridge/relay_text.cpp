#include "adapters/bridge/relay_text.hpp"

#include "adapters/gateway/outgoing.hpp"

namespace parley::adapters::bridge {

namespace {
// The length of s cut to at most max bytes without splitting a UTF-8 sequence.
std::size_t utf8_cut(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s.size();
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}
}  // namespace

std::string clean_nick(std::string_view nick) {
  std::string out;
  for (char c : nick) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    out.push_back(c);
  }
  out.resize(utf8_cut(out, kMaxRelayNick));
  return out.empty() ? std::string("?") : out;
}

std::string format_prefix(std::string_view fmt, std::string_view nick) {
  constexpr std::string_view kNick = "{nick}";
  const std::string n = clean_nick(nick);
  std::string out;
  for (std::size_t i = 0; i < fmt.size();) {
    if (fmt.substr(i, kNick.size()) == kNick) {
      out += n;
      i += kNick.size();
    } else {
      out.push_back(fmt[i++]);
    }
  }
  return out;
}

std::vector<std::string> relay_lines(std::string_view fmt, const Heard& h, std::size_t max_lines) {
  const std::string lead = h.action ? clean_nick(h.nick) + " " : format_prefix(fmt, h.nick);
  std::vector<std::string> lines;
  std::size_t skipped = 0;
  std::string_view text = h.text;
  while (!text.empty()) {
    const auto end = text.find_first_of("\r\n");
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (lines.size() >= max_lines) {
      ++skipped;
      continue;
    }
    lines.push_back(lead + std::string(line));
  }
  if (skipped != 0 && !lines.empty()) lines.back() += " [... " + std::to_string(skipped) + " more lines]";
  return lines;
}

std::vector<std::string> irc_wire_lines(std::string_view nick, std::string_view channel, std::string_view fmt,
                                        const Heard& h, std::size_t max_lines, bool puppet) {
  std::vector<std::string> wire;
  const Heard line = puppet ? Heard{{}, h.text, false} : h;
  for (const auto& l : relay_lines(puppet ? std::string_view{} : fmt, line, max_lines))
    gateway::privmsg_lines(nick, channel, h.action ? "/me " + l : l, max_lines, wire);
  return wire;
}

}  // namespace parley::adapters::bridge

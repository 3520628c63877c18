#include "protocols/irc/caps.hpp"

#include <algorithm>
#include <vector>

#include "protocols/irc/message.hpp"

namespace parley::protocols::irc {

namespace {

std::string make_list(bool v302) {
  std::vector<const CapInfo*> caps;
  for (const auto& c : kCaps)
    if (v302 || c.bit != cap_cap_notify) caps.push_back(&c);
  std::sort(caps.begin(), caps.end(), [](const CapInfo* a, const CapInfo* b) { return a->name < b->name; });
  std::string out;
  for (const CapInfo* c : caps) {
    if (!out.empty()) out += ' ';
    out += c->name;
    if (v302 && !c->value.empty()) {
      out += '=';
      out += c->value;
    }
  }
  return out;
}

}  // namespace

const CapInfo* find_cap(std::string_view name) {
  for (const auto& c : kCaps)
    if (c.name == name) return &c;
  return nullptr;
}

std::string_view cap_ls_list(std::uint16_t version) {
  static const std::string v301 = make_list(false);
  static const std::string v302 = make_list(true);
  return version >= 302 ? v302 : v301;
}

void append_cap_reply(std::string& out, std::string_view server, std::string_view nick, std::string_view sub,
                      std::string_view tokens, std::uint16_t version) {
  // ":server CAP nick SUB * :" + tokens + CRLF within the 512-byte body.
  const std::size_t fixed = 1 + server.size() + 5 + nick.size() + 1 + sub.size() + 4 + 2;
  const std::size_t room = fixed < kMaxBody ? kMaxBody - fixed : 0;
  while (version >= 302 && tokens.size() > room && room > 0) {
    // Cut at the last space that keeps this line within bounds (a token longer than a
    // whole line is cut where it must be: no capability name comes close).
    std::size_t cut = tokens.rfind(' ', room);
    if (cut == std::string_view::npos || cut == 0) cut = room;
    LineWriter(out)
        .prefix(server)
        .command("CAP")
        .param(nick)
        .param(sub)
        .param("*")
        .trailing(tokens.substr(0, cut))
        .end();
    tokens.remove_prefix(cut);
    while (!tokens.empty() && tokens.front() == ' ') tokens.remove_prefix(1);
  }
  LineWriter(out).prefix(server).command("CAP").param(nick).param(sub).trailing(tokens).end();
}

}  // namespace parley::protocols::irc

#include "adapters/irc/member_nicks.hpp"

#include <algorithm>

namespace parley::adapters::irc {

namespace {

bool nick_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '[' ||
         c == ']' || c == '\\' || c == '`' || c == '_' || c == '^' || c == '{' || c == '|' || c == '}';
}

// Length of the UTF-8 sequence led by byte b (1 for ASCII and for stray bytes).
std::size_t sequence_length(unsigned char b) {
  if (b >= 0xF0 && b <= 0xF4) return 4;
  if (b >= 0xE0) return b <= 0xEF ? 3 : 1;
  if (b >= 0xC2) return 2;
  return 1;
}

}  // namespace

std::string irc_nick_base(std::string_view nick, std::size_t max_len) {
  if (max_len == 0) max_len = 1;
  std::string out;
  out.reserve(std::min(nick.size() + 1, max_len));
  // Modern IRC "Nicknames": no leading digit, and '-' is not allowed first either.
  if (!nick.empty() && ((nick[0] >= '0' && nick[0] <= '9') || nick[0] == '-')) out += '_';
  for (std::size_t i = 0; i < nick.size() && out.size() < max_len;) {
    const char c = nick[i];
    if (nick_char(c)) {
      out += c;
      ++i;
    } else {
      out += '_';
      i += std::min(sequence_length(static_cast<unsigned char>(c)), nick.size() - i);
    }
  }
  if (out.size() > max_len) out.resize(max_len);
  if (out.empty()) out = "_";
  return out;
}

std::string dedup_nick(const std::string& base, std::size_t max_len,
                       const std::function<bool(std::string_view)>& taken) {
  if (!taken(base)) return base;
  // Bounded (each try costs a pass over the room): past it the last candidate is used, a
  // duplicate shown to IRC being better than a member that cannot be shown at all.
  constexpr unsigned kTries = 999;
  std::string candidate;
  for (unsigned n = 1; n <= kTries; ++n) {
    std::string suffix = std::to_string(n);
    std::size_t keep = max_len > suffix.size() ? max_len - suffix.size() : 1;
    candidate = base.substr(0, std::min(keep, base.size())) + suffix;
    if (!taken(candidate)) return candidate;
  }
  return candidate;
}

const MemberNicks::Entry* MemberNicks::find(const std::string& room, core::SessionId s) const {
  auto r = rooms_.find(room);
  if (r == rooms_.end()) return nullptr;
  auto e = r->second.find(s);
  return e == r->second.end() ? nullptr : &e->second;
}

const MemberNicks::Entry& MemberNicks::set(const std::string& room, core::SessionId s, std::string source,
                                           std::string nick) {
  Entry& e = rooms_[room][s];
  e.previous = e.nick.empty() ? nick : std::move(e.nick);
  e.source = std::move(source);
  e.nick = std::move(nick);
  return e;
}

void MemberNicks::sweep(const std::string& room, const std::function<bool(core::SessionId)>& keep) {
  auto r = rooms_.find(room);
  if (r == rooms_.end()) return;
  std::erase_if(r->second, [&](const auto& kv) { return !keep(kv.first); });
  if (r->second.empty()) rooms_.erase(r);
}

std::size_t MemberNicks::size() const {
  std::size_t n = 0;
  for (const auto& [name, members] : rooms_) n += members.size();
  return n;
}

}  // namespace parley::adapters::irc

#pragma once
// Room members of other protocols as IRC sees them. A room nick is protocol-neutral: an
// XMPP occupant may be "Jane Doe" (XEP-0045 allows any resourcepart), which no IRC nick can
// be. As IRC bridges do, such a member is shown to IRC under a derived nick ("Jane_Doe"),
// chosen once per member and room and kept while the member stays (so that PRIVMSG to it,
// and its messages, parts and quits, all use the same name), unique in the room (a suffix
// settles collisions), and looked up back when an IRC user names it. The core keeps only
// the neutral nick; this is the IRC adapter's own state (core strand).
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/model/room.hpp"

namespace parley::adapters::irc {

// `nick` in IRC's nick alphabet (letters, digits, []\`_^{|}-): every other character (one
// per UTF-8 sequence) becomes '_', a leading digit or '-' gets a '_' in front, and the
// result is cut to max_len bytes. Never empty.
std::string irc_nick_base(std::string_view nick, std::size_t max_len);

// The first of base, base1, base2... (cut so as to fit max_len) that `taken` refuses not.
// `taken` sees candidates as they are; comparisons are the caller's (case-insensitive).
std::string dedup_nick(const std::string& base, std::size_t max_len,
                       const std::function<bool(std::string_view)>& taken);

class MemberNicks {
 public:
  struct Entry {
    std::string source;    // the neutral nick it was derived from
    std::string nick;      // the IRC nick shown
    std::string previous;  // the IRC nick shown before the last nick change
  };

  // The entry of a member, or nullptr.
  const Entry* find(const std::string& room, core::SessionId s) const;
  // Records the derived nick of a member (replacing an earlier one: `previous` keeps it).
  const Entry& set(const std::string& room, core::SessionId s, std::string source, std::string nick);
  // Forgets the members of `room` for which keep(session) is false; the room when none is left.
  void sweep(const std::string& room, const std::function<bool(core::SessionId)>& keep);
  void forget_room(const std::string& room) { rooms_.erase(room); }
  std::size_t size() const;

 private:
  std::map<std::string, std::map<core::SessionId, Entry>> rooms_;
};

}  // namespace parley::adapters::irc

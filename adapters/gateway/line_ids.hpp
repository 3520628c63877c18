#pragma once
// Which archived line a channel line heard by a puppet is, so that every XMPP user gets the
// same XEP-0359 <stanza-id/> for it: the id MAM returns for that line (archive.hpp: the
// store key). Pure logic; the gateway keeps one RecentLines per archived channel.
//
// Every puppet in a channel hears the channel's lines in the IRC server's order, each on its
// own socket and so at its own time. The first puppet to hear a line archives it (a new
// key) and adds it here; the others find it here and use its key. Each puppet keeps a
// Cursor per channel: which of the recent keys it has matched already (a 64-key window), so
// that a line said twice ("ok", "ok") is two lines and each puppet matches each once, in
// order. A puppet's own lines are added by it when it sends them (it does not hear them
// from IRC) and marked matched at once.
//
// Bounds: kRecent lines per channel. A puppet lagging further behind the first hearer than
// that, or a window that must slide past lines a puppet never heard (those before it
// joined), archives such a line again under a new key: a duplicate in the archive, never a
// lost line. A line equal (nick and body) to a recent one the puppet never heard but that it
// had not matched (around its own JOIN) takes that line's key: the rare price of matching
// by content, which is all IRC offers without message-tags msgid.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace parley::adapters::gateway {

class RecentLines {
 public:
  static constexpr std::size_t kRecent = 64;

  // One puppet's progress in one channel: keys below `base` are matched or forgotten; bit i
  // of `mask` says key base + i is matched.
  struct Cursor {
    std::int64_t base = 0;
    std::uint64_t mask = 0;
  };

  // A cursor for a puppet that starts hearing the channel now: lines added before are not
  // its to match. next_key: the key the next line will get, when no line is kept here (0:
  // unknown).
  Cursor cursor_now(std::int64_t next_key = 0) const {
    return Cursor{lines_.empty() ? next_key : lines_.back().key + 1, 0};
  }

  // The key of the oldest recent line (nick, body) this cursor has not matched yet, now
  // matched; nullopt: a new line.
  std::optional<std::int64_t> match(Cursor& c, std::string_view nick, std::string_view body);
  // A new line archived under `key` (greater than any added before); matched by `c`.
  void add(Cursor& c, std::int64_t key, std::string_view nick, std::string_view body);
  bool empty() const { return lines_.empty(); }

  static void mark(Cursor& c, std::int64_t key);  // key matched by c

 private:
  struct Line {
    std::int64_t key;
    std::string nick, body;
  };
  std::deque<Line> lines_;  // oldest first, keys growing
};

}  // namespace parley::adapters::gateway

#pragma once
// A channel line converted and rendered once for all the puppets that hear it.
//
// Every puppet in a channel reads its own copy of each channel line, one after the other
// (the IRC server writes them in turn). The groupchat stanza each sends its XMPP users
// differs only in `to`: `from` is the speaker's occupant JID (XEP-0045 §7.4), and the body,
// the XHTML-IM and the XEP-0359 stanza-id are the line's. The first puppet to hear a line
// converts and renders it here; the next ones find it and copy the stanza around their own
// `to`. At 10 occupants the conversion and rendering were ~40 % of the gateway's user-space
// instructions per copy (bench/README.md, issue 11).
//
// Kept: the last line of each of kSlots rooms, the slot chosen by a hash of the room JID
// (two busy rooms in one slot only render more often). A line is found by content (room,
// nick, raw text, notice), so an evicted or stale slot costs a render, never a wrong
// stanza. Pure; on the gateway's strand.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/gateway/render.hpp"

namespace parley::adapters::gateway {

class ChannelLines {
 public:
  static constexpr std::size_t kSlots = 16;

  struct Line {
    std::string room, nick, text;  // what it was made from: the room JID, the IRC nick and text
    bool notice = false;
    bool action = false;  // a CTCP ACTION (/me)
    XmppBody body;        // "[notice] " and "/me " prefixes included
    // The stanza rendered with stanza_id (empty: none), before and after the value of `to`.
    std::string stanza_id, head, tail;
    bool rendered = false;
    bool used = false;
  };

  // A recipient's JID as the attribute value, escaped once: a puppet keeps one for its user's
  // resource, which hears every line (escaping it per copy was ~4 % of a copy's instructions).
  class EscapedTo {
   public:
    std::string_view operator()(std::string_view to);

   private:
    std::string to_, escaped_;
    bool set_ = false;
  };

  // The slot of `room`'s lines: a caller that keeps it (a puppet's channel) does not hash the
  // room JID for every line.
  static std::size_t slot_of(std::string_view room);
  // The line `nick` said in `room` (NOTICE when `notice`), converted now or found converted;
  // null when it is not shown (a CTCP request other than ACTION). Valid until the next call.
  Line* line(std::string_view room, std::string_view nick, std::string_view text, bool notice) {
    return line(slot_of(room), room, nick, text, notice);
  }
  // The same with `slot` == slot_of(room), kept by the caller.
  Line* line(std::size_t slot, std::string_view room, std::string_view nick, std::string_view text,
             bool notice);
  // The groupchat stanza of `l` to `to`, with the XEP-0359 stanza-id `sid` by the room (empty:
  // none); equal to render_message's.
  std::string stanza(Line& l, std::string_view to, std::string_view sid);
  // The same in three parts, head + escaped `to` + tail (valid until the next call), with `to`
  // escaped through `cache`; nullopt when the stanza must be rendered whole (stanza()).
  struct Parts {
    std::string_view head, to, tail;
  };
  std::optional<Parts> parts(Line& l, std::string_view to, std::string_view sid, EscapedTo& cache);

 private:
  // Renders `l` with `sid` into head and tail if it is not yet; false: the writer's layout is
  // not the expected one (then each copy is rendered whole).
  bool prepare(Line& l, std::string_view sid);
  // The whole stanza of `l` to `to` (render_message), what every copy equals.
  static std::string render(const Line& l, std::string_view to, std::string_view sid);

  std::array<Line, kSlots> slots_;
};

}  // namespace parley::adapters::gateway

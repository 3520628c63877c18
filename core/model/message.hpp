#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/model/address.hpp"
#include "core/model/time.hpp"

namespace parley::core {

enum class MessageKind : std::uint8_t { direct, room, notice, action };
enum class ChatState : std::uint8_t { none, active, composing, paused, inactive, gone };  // XEP-0085

// Neutral rich text: styled byte ranges over the UTF-8 body. IRC formatting codes, XHTML-IM
// and PSYC's plain text all map to and from this. Spans may overlap (flags combine, the later
// colour wins); parsers make at most kMaxStyleSpans and renderers use no more (the text past
// them is plain, never dropped), so rendering stays linear in the message (issue 9).
inline constexpr std::size_t kMaxStyleSpans = 1024;
// A client's own id for its message (XEP-0359 origin-id) is kept only up to this length:
// it is repeated to every recipient, so an unbounded one is an amplifier (issue 9).
inline constexpr std::size_t kMaxOriginIdBytes = 128;

struct StyleSpan {
  enum Flag : std::uint8_t { bold = 1, italic = 2, underline = 4, monospace = 8, strike = 16 };
  std::uint32_t begin = 0;  // byte offset into body
  std::uint32_t end = 0;    // one past the last byte
  std::uint8_t flags = 0;
  std::optional<std::uint32_t> fg;  // 0xRRGGBB
  std::optional<std::uint32_t> bg;

  friend bool operator==(const StyleSpan&, const StyleSpan&) = default;
};

// Where a message entered Parley: loop prevention for bridges and echo suppression.
struct Origin {
  Protocol protocol = Protocol::local;
  std::uint64_t session = 0;  // the session it came from, 0 for none
  std::string bridge;         // the bridge that relayed it, empty for none

  friend bool operator==(const Origin&, const Origin&) = default;
};

struct Message {
  // Stable id, Parley's own (Router::next_id, unique across restarts): the XEP-0359
  // stanza-id and the IRC msgid. Never taken from a client.
  std::string id;
  // The sending client's id for the message (XMPP id / XEP-0359 origin-id), at most
  // kMaxOriginIdBytes; empty for none. Shown to XMPP recipients as the stanza's id (so that
  // receipts and the sender's MUC reflection match) and as <origin-id/>.
  std::string origin_id;
  Address from;    // for room messages: the sender's user address
  Address to;      // a user (maybe with resource), a room, or a foreign address
  MessageKind kind = MessageKind::direct;
  std::string body;  // UTF-8
  std::vector<StyleSpan> rich;
  std::optional<std::string> subject;
  std::string thread;
  Timestamp timestamp{};
  ChatState chat_state = ChatState::none;
  bool receipt_request = false;
  std::string receipt_for;  // a delivery receipt (XEP-0184): the id of the message received
  bool no_copy = false;     // not copied to the user's other devices (XEP-0280 <private/>)
  std::string nick;  // sender's nick in the room, for room messages
  // Client-to-client metadata the hub does not interpret: IRCv3 client-only tags
  // ("+draft/reply=123;+example"), serialised and escaped as on the wire. Adapters with no
  // such notion ignore it; the IRC adapter relays it to message-tags clients.
  std::string client_tags;
  Origin origin;

  friend bool operator==(const Message&, const Message&) = default;
};

// Applies the bounds on what clients put into a message (ids, spans): the core calls it on
// every message it routes, whichever adapter made it.
inline void bound_client_fields(Message& m) {
  if (m.origin_id.size() > kMaxOriginIdBytes) m.origin_id.clear();
  if (m.receipt_for.size() > kMaxOriginIdBytes) m.receipt_for.clear();  // names an id as above
  if (m.rich.size() > kMaxStyleSpans) m.rich.resize(kMaxStyleSpans);
}

// Messages are immutable once routed and shared by every recipient.
using MessagePtr = std::shared_ptr<const Message>;

}  // namespace parley::core

#pragma once
// Core events as IRC lines: room and direct messages (deliver), the masks and tags they
// carry, NAMES and TOPIC replies. IrcClient's SessionSink and the command handlers call it;
// it writes through IrcServer's output layer (queue, numeric). Core strand.
//
// Room traffic is rendered once per message and capability variant (server-time,
// account-tag, message-tags) and the same bytes are handed to every recipient.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/model/message.hpp"
#include "core/model/room.hpp"

namespace parley::adapters::irc {

class IrcServer;
class IrcClient;

// The lines of one message for one target, appended to `out`. Multi-line bodies (from
// XMPP) become one line per body line, long ones are split at UTF-8 boundaries, each line
// re-opening its formatting. At most max_lines lines, and at most max_bytes in all (but
// always one line): the rest becomes one "[... N more lines]" line, so that one message
// can neither flood a channel nor overflow a member's sendq (issue 9).
void render_body_lines(std::string& out, std::string_view tags, std::string_view mask,
                       std::string_view target, const core::Message& m, std::size_t max_lines,
                       std::size_t max_bytes);

class IrcRender {
 public:
  explicit IrcRender(IrcServer& server) : srv_(server) {}

  // A room or direct message for c (SessionSink::on_message).
  void deliver(IrcClient& c, const core::MessagePtr& m);
  // An offline message (SessionSink::on_stored_message): delivered as any, and confirmed
  // to the core once the bytes are written (IrcServer::flush). false: no socket to tell (tests).
  bool deliver_stored(IrcClient& c, const core::MessagePtr& m);
  // nick!user@host for a room member or a message sender of any protocol.
  std::string member_mask(const core::Room& room, const core::Member& m);
  std::string mask_with(const core::Member& m, std::string_view nick) const;
  std::string sender_mask(const core::Message& m, std::string_view nick) const;
  std::string account_of(core::SessionId s) const;  // "*" for guests / unknown
  // Tags for a line this adapter writes itself (TAGMSG, INVITE, STATUSMSG...) as `to` may
  // receive them: server-time, account-tag (of `from`), msgid; empty when none apply.
  std::string tags_to(const IrcClient& to, const IrcClient* from, std::string_view msgid = {}) const;
  // Tags of a room or direct message for a capability variant (1 server-time, 2 account-tag,
  // 4 message-tags), bounded as message-tags requires.
  std::string tags_for(const core::Message& m, std::uint32_t variant) const;
  // The status prefixes `viewer` is shown: all with multi-prefix ("@+"), else the highest.
  std::string status_of(const IrcClient& viewer, const core::Member& m) const;
  void send_names(IrcClient& c, const core::Room& room, bool with_end = true);
  void send_topic(IrcClient& c, const core::Room& room);

 private:
  std::string render_room_line(const core::Message& m, std::uint32_t variant);
  // The IRC nick of a room message's sender (m.nick is the neutral one).
  std::string room_sender_nick(const core::Message& m);
  // The most bytes one message may take in a member's output (a share of the sendq).
  std::size_t message_bytes_max() const;

  IrcServer& srv_;
  // Render cache: one message, up to 8 tag variants.
  const core::Message* cached_msg_ = nullptr;
  std::array<std::shared_ptr<const std::string>, 8> cached_lines_{};
  std::shared_ptr<const core::Message> cached_keep_;
};

}  // namespace parley::adapters::irc

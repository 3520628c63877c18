#include "adapters/gateway/irc_link.hpp"

namespace parley::adapters::gateway {

namespace irc = protocols::irc;

IrcLink::IrcLink(protocols::ConnectedStream stream, Limits limits, irc::Fallback fallback, Owner* owner)
    : Connection(std::move(stream.socket), std::move(stream.tls), std::move(stream.pending), limits),
      framer_(fallback),
      owner_(owner) {}

void IrcLink::detach(std::string_view reason) {
  owner_ = nullptr;
  close(reason);
}

std::size_t IrcLink::on_data(std::string_view data) {
  std::size_t used = 0;
  // Kept bytes count against the read buffer's bound (Connection::Limits::max_read_buffer).
  holdable_ = data.size() <= 4096;
  while (owner_ && !closed()) {
    const auto raw = framer_.next_raw(data.substr(used));
    used += raw.consumed;
    if (raw.status == irc::LineFramer::Status::need_more) break;
    if (raw.status == irc::LineFramer::Status::error) continue;  // an overlong line is skipped
    // Before the UTF-8 check: a follower's copy of a line its leader handed on is known by
    // its bytes (most of what a puppet in a busy channel reads).
    if (owner_->skip_line(raw.line)) continue;
    const auto r = framer_.decode(raw);
    if (r.status != irc::LineFramer::Status::line) continue;  // not UTF-8, with fallback reject
    irc::Message m;
    if (irc::parse_line(r.line, m, r.converted ? irc::kMaxConvertedBody : irc::kMaxBody) !=
        irc::ParseError::none)
      continue;
    line_ = raw.line;  // as read: a leader hashes it as its followers' skip_line hashes theirs
    owner_->on_irc_message(m);
    line_ = {};
    if (owner_ && owner_->take_hold()) {
      // This line and the rest wait in the buffer (not an overlong line's tail dropped
      // before it: fed again, it would be read as a line).
      used -= raw.consumed - raw.discarded;
      break;
    }
  }
  if (owner_ && !closed()) owner_->after_read();
  return used;
}

void IrcLink::on_close(std::string_view reason) {
  if (auto* o = owner_) {
    owner_ = nullptr;
    o->on_irc_closed(reason);
  }
}

}  // namespace parley::adapters::gateway

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
    auto r = framer_.next(data.substr(used));
    used += r.consumed;
    if (r.status == irc::LineFramer::Status::need_more) break;
    if (r.status == irc::LineFramer::Status::error) continue;  // an overlong line is skipped
    if (owner_->skip_line(r.line)) continue;
    irc::Message m;
    if (irc::parse_line(r.line, m) != irc::ParseError::none) continue;
    line_ = r.line;
    owner_->on_irc_message(m);
    line_ = {};
    if (owner_ && owner_->take_hold()) {
      used -= r.consumed;  // this line and the rest wait in the buffer
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

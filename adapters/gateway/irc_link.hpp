#pragma once
// One outbound IRC connection's socket side: bytes -> lines -> parsed messages for its
// owner (a Puppet), and a close notification. Bounded like the listener's connections
// (LineFramer's 512/8191-byte lines, Connection's read and write bounds). Runs on the
// strand the connector gave its socket: the gateway's.
#include <memory>
#include <string_view>

#include "protocols/common/connector.hpp"
#include "protocols/common/net.hpp"
#include "protocols/irc/message.hpp"

namespace parley::adapters::gateway {

class IrcLink : public protocols::Connection {
 public:
  struct Owner {
    virtual ~Owner() = default;
    virtual void on_irc_message(const protocols::irc::Message& m) = 0;
    virtual void on_irc_closed(std::string_view reason) = 0;
    // After the lines of one read were handed over.
    virtual void after_read() {}
    // True once after a message the owner wants again later: that line and the rest of the
    // read stay buffered (Connection::redeliver feeds them again).
    virtual bool take_hold() { return false; }
    // Before a line is parsed: true if the owner knows it by its bytes and needs nothing more
    // of it (a shared reading follower's copy of a line handed already): it is not parsed.
    virtual bool skip_line(std::string_view /*line*/) { return false; }
  };
  IrcLink(protocols::ConnectedStream stream, Limits limits, protocols::irc::Fallback fallback, Owner* owner);
  // The owner is going away: no more calls into it (the socket is closed too).
  void detach(std::string_view reason);
  // The owner is going away but the link is already closing after a flush (a QUIT on its
  // way): no more calls into the owner, the close goes on.
  void release() { owner_ = nullptr; }
  // The read being handed over is small enough to be kept buffered (take_hold).
  bool holdable() const { return holdable_; }
  // The line being handed over, as read (without CR LF, before any encoding fallback); empty
  // outside on_irc_message.
  std::string_view current_line() const { return line_; }

 protected:
  std::size_t on_data(std::string_view data) override;
  void on_close(std::string_view reason) override;

 private:
  protocols::irc::LineFramer framer_;
  Owner* owner_;
  bool holdable_ = false;
  std::string_view line_;
};

}  // namespace parley::adapters::gateway

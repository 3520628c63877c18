#pragma once
// The socket side of one IRC client: framing, flood control, idle checks. IRC connections
// run on the core strand (like a classic single-threaded ircd): a read's lines are handled
// in place and a room message is written to each member's socket with no post per
// recipient — the cross-thread hand-off was most of the cost of fan-out to big channels.
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "protocols/common/net.hpp"
#include "protocols/irc/message.hpp"

namespace parley::adapters::irc {

class IrcServer;
class IrcClient;

struct Incoming {
  std::string_view line;  // empty with error set: a line that could not be framed
  protocols::irc::ParseError error = protocols::irc::ParseError::none;
  bool converted = false;  // decoded from latin-1 (LineFramer::Result::converted)
};

struct FloodPolicy {
  std::size_t burst = 10;           // lines ahead before lines wait; 0: off
  std::chrono::milliseconds cost{500};  // per line
};

class IrcConnection final : public protocols::Connection {
 public:
  // `s` must already be on the core strand (protocols::rehome), which the server's state
  // lives on.
  IrcConnection(protocols::Socket s, std::shared_ptr<boost::asio::ssl::context> tls, Limits limits,
                std::shared_ptr<IrcServer> server, FloodPolicy flood, protocols::irc::Fallback fallback);
  // IRC over WebSocket: the HTTP listener's connection after its 101 (its socket re-homed
  // onto the core strand), carried on through `framing` (protocols/irc/ws_framing.hpp).
  IrcConnection(protocols::Connection::Detached d, std::unique_ptr<protocols::Framing> framing, Limits limits,
                std::shared_ptr<IrcServer> server, FloodPolicy flood, protocols::irc::Fallback fallback);

  void set_client(std::shared_ptr<IrcClient> c) { client_ = std::move(c); }
  // Idle check from the plugin's sweeper (connection strand = the core strand).
  void check_idle(std::chrono::seconds ping_interval, std::chrono::seconds timeout, const std::string& server_name);
  // Sends ERROR and closes after flushing (connection strand = the core strand).
  void error_and_close(const std::string& text);

 protected:
  std::size_t on_data(std::string_view data) override;
  void on_close(std::string_view reason) override;
  void on_read_overflow() override;
  void on_write_overflow() override;
  void on_open() override;
  void on_deadline(Deadline kind) override;
  void on_exception(std::string_view what) override;

 private:
  void schedule_resume(std::chrono::steady_clock::duration after);

  std::shared_ptr<IrcServer> server_;
  std::shared_ptr<IrcClient> client_;
  protocols::irc::LineFramer framer_;
  FloodPolicy flood_;
  std::chrono::steady_clock::time_point penalty_until_{};
  std::chrono::steady_clock::time_point last_read_ = std::chrono::steady_clock::now();
  bool pinged_ = false;
  std::unique_ptr<boost::asio::steady_timer> resume_timer_;  // only while throttled
};

}  // namespace parley::adapters::irc

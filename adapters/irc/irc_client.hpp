#pragma once
// One IRC client as the core sees it: the per-connection IRC state (registration, nick,
// capabilities, SASL) and its SessionSink. Lives on the core strand; the socket side is
// IrcConnection on the connection's strand. Output is appended to `out` and flushed to the
// connection strand by IrcServer at the end of each core-strand task.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/services/session_sink.hpp"

namespace parley::protocols::xmpp {
class ScramServer;
}

namespace parley::adapters::irc {

class IrcServer;
class IrcConnection;

// IRCv3 capabilities (bit set).
enum Cap : std::uint32_t {
  cap_message_tags = 1u << 0,
  cap_server_time = 1u << 1,
  cap_echo_message = 1u << 2,
  cap_away_notify = 1u << 3,
  cap_multi_prefix = 1u << 4,
  cap_account_tag = 1u << 5,
  cap_extended_join = 1u << 6,
  cap_batch = 1u << 7,
  cap_labeled_response = 1u << 8,
  cap_sasl = 1u << 9,
  cap_cap_notify = 1u << 10,
  cap_userhost_in_names = 1u << 11,
  cap_invite_notify = 1u << 12,
  cap_account_notify = 1u << 13,
  cap_setname = 1u << 14,
};

// One AUTHENTICATE exchange (IRCv3 sasl-3.1). It carries the account it verifies: the
// client's account is set from here once the mechanism succeeded, and from nothing else.
struct SaslExchange {
  SaslExchange();
  ~SaslExchange();
  std::string mech;  // PLAIN or SCRAM-SHA-256
  std::string buf;   // base64 chunks of the message being received (400-byte lines)
  std::string user;  // SCRAM: the account of the client-first-message
  std::unique_ptr<protocols::xmpp::ScramServer> scram;
  bool known = false;      // SCRAM: false for an unknown user's decoy credentials
  bool final_ack = false;  // SCRAM: server-final sent, waiting for the client's "+"
};

class IrcClient final : public core::SessionSink {
 public:
  enum class State : std::uint8_t { registering, registered, closed };

  IrcClient(IrcServer& server, std::shared_ptr<IrcConnection> conn, std::string host, bool tls);
  ~IrcClient() override;

  // SessionSink (core strand)
  void on_message(const core::MessagePtr& m) override;
  bool on_stored_message(const core::MessagePtr& m) override;
  void on_presence(const core::PresenceUpdate& p) override;
  void on_room_join(const core::Room& room, const core::Member& m, bool self) override;
  void on_room_leave(const core::Room& room, const core::Member& m, const core::LeaveReason& r,
                     bool self) override;
  void on_room_nick(const core::Room& room, const core::Member& before, const std::string& new_nick,
                    bool self) override;
  void on_room_topic(const core::Room& room, const core::Topic& t) override;
  void on_room_change(const core::Room& room, const core::RoomChange& c, const std::string& by) override;
  void on_room_invite(const std::string& room, const core::Address& from, const std::string& from_nick) override;
  void on_error(const std::string& ref_id, const core::Error& e) override;
  void on_terminate(const std::string& reason) override;

  // nick!user@host
  std::string mask() const { return nick + "!" + user + "@" + host; }
  const std::string& nick_or_star() const { return nick.empty() ? star_ : nick; }
  bool has(Cap c) const { return (caps & c) != 0; }

  IrcServer& server;
  std::shared_ptr<IrcConnection> conn;  // reset when the connection is gone
  State state = State::registering;
  std::string nick;
  std::string user;      // USER username
  std::string realname;
  std::string host;
  std::string account;   // empty: guest
  std::string pass;      // PASS, until registration
  std::string away;      // empty: here
  std::string out;       // pending output, flushed by IrcServer
  // Ids of the offline messages in `out`: confirmed to the core (Router::delivered) once
  // flushed and written to the socket, so a connection that dies first leaves them stored.
  std::vector<std::string> stored;
  // Lines produced while a command runs that are not part of its labeled response (IRCv3
  // labeled-response): a message to oneself arrives once as the echo (labeled) and once
  // as a delivery, which follows the response. Appended to `out` after the command.
  std::string deferred;
  std::uint32_t caps = 0;
  core::SessionId session = 0;
  bool tls = false;
  bool cap_negotiating = false;
  bool oper = false;
  bool dirty = false;          // in the server's flush list
  bool invisible = true;       // user mode +i
  std::uint16_t cap_version = 0;
  std::size_t channels = 0;    // rooms joined (CHANLIMIT)
  std::chrono::steady_clock::time_point connected = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point signon = connected;
  std::chrono::steady_clock::time_point last_message = signon;

  // Join in progress: the core reports the other members and the topic inside join();
  // they become the NAMES and 332 replies instead of JOIN lines.
  std::string joining;
  bool join_topic = false;
  // Dedup of QUIT/NICK seen once per room: the same event for several shared rooms.
  core::SessionId last_quit = 0;
  core::SessionId last_nick_session = 0;
  std::string last_nick_new;
  // MONITOR (IRCv3): casefolded nicks this client watches, at most IrcServer::kMonitorMax.
  std::vector<std::string> monitoring;

  // Authentication: SASL (AUTHENTICATE), PASS, OPER.
  std::unique_ptr<SaslExchange> sasl;
  // A password check runs off the core strand: no line of this client is handled until
  // its outcome is in place (IrcConnection stops reading its buffer meanwhile).
  bool auth_pending = false;
  bool connection_password_ok = false;  // irc.password checked
  std::uint32_t auth_failures = 0;      // failed SASL attempts on this connection

 private:
  static inline const std::string star_ = "*";
};

}  // namespace parley::adapters::irc

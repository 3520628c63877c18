#pragma once
// One IRC client as the core sees it: the per-connection IRC state (registration, nick,
// capabilities, SASL) and its SessionSink. Lives on the core strand, like its socket side
// IrcConnection (docs/ARCHITECTURE.md, Threads). Output is appended to `out` and written
// once per client by IrcServer::flush after the core-strand tasks of a reactor round.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/services/session_sink.hpp"
#include "protocols/irc/registration.hpp"

namespace parley::protocols::sasl {
class ScramServer;
}

namespace parley::adapters::irc {

class IrcServer;
class IrcConnection;

// IRCv3 capabilities: the table lives with the registration machine (protocols/irc/caps.hpp).
using protocols::irc::Cap;
using enum protocols::irc::Cap;

// The mechanism half of one AUTHENTICATE exchange (the framing is in IrcClient::reg: its
// sasl_mech and reassembled payloads). It carries the account it verifies: the client's
// account is set from here once the mechanism succeeded, and from nothing else.
struct SaslExchange {
  SaslExchange();
  ~SaslExchange();
  std::string challenge;  // SCRAM: server-first-message computed, not yet sent
  std::string user;       // SCRAM: the account of the client-first-message
  std::unique_ptr<protocols::sasl::ScramServer> scram;
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
  bool has(Cap c) const { return reg.has(c); }

  IrcServer& server;
  std::shared_ptr<IrcConnection> conn;  // reset when the connection is gone
  State state = State::registering;
  std::string nick;
  std::string user;      // USER username
  std::string realname;
  std::string host;
  std::string account;   // empty: guest
  std::string away;      // empty: here
  std::string out;       // pending output, flushed by IrcServer
  // Ids of the offline messages in `out`: confirmed to the core (Router::delivered) once
  // flushed and written to the socket, so a connection that dies first leaves them stored.
  std::vector<std::string> stored;
  // Lines produced while a command runs that are not part of its labeled response (IRCv3
  // labeled-response): a message to oneself arrives once as the echo (labeled) and once
  // as a delivery, which follows the response. Appended to `out` after the command.
  std::string deferred;
  // Registration, CAP and AUTHENTICATE framing state (protocols/irc/registration.hpp):
  // enabled caps, CAP version, negotiation under way, PASS until registration.
  protocols::irc::Registration reg;
  core::SessionId session = 0;
  bool tls = false;
  bool oper = false;
  bool dirty = false;          // in the server's flush list
  bool invisible = true;       // user mode +i
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

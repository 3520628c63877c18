#pragma once
// The IRC server (Modern IRC client protocol + IRCv3) on top of the core: the connection
// lifecycle, the command registry and the output layer. Every method runs on the core
// strand: IrcConnection posts the lines it framed, the server dispatches them through its
// CommandRegistry (command.hpp: arity and registration checked there), the command's
// handler (adapters/irc/commands/<area>.cpp) calls the core and replies through the output
// layer below; the client's SessionSink renders core events through IrcRender
// (render_events.hpp). The IRC nicks of room members are RoomNicks' (room_nicks.hpp).
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapters/common/auth.hpp"
#include "adapters/common/runtime.hpp"
#include "adapters/irc/command.hpp"
#include "adapters/irc/irc_auth.hpp"
#include "adapters/irc/irc_client.hpp"
#include "adapters/irc/irc_connection.hpp"
#include "adapters/irc/monitors.hpp"
#include "adapters/irc/render_events.hpp"
#include "adapters/irc/room_nicks.hpp"
#include "config/irc_config.hpp"
#include "protocols/irc/message.hpp"

namespace parley::adapters::irc {

class IrcServer : public std::enable_shared_from_this<IrcServer>, private IrcNickOwners {
 public:
  IrcServer(Runtime& rt, config::IrcConfig cfg);
  ~IrcServer();

  // --- entry points (core strand) ---
  void attach(const std::shared_ptr<IrcClient>& c);
  void handle_lines(IrcClient& c, std::vector<Incoming>& lines);  // then flush()
  // One framed line (or framing error) of c's; the caller calls flush() after a batch.
  void handle_input(IrcClient& c, const Incoming& in);
  // One line (tests); max_body: parse_line's (kMaxConvertedBody for a line decoded from latin-1).
  void handle_line(IrcClient& c, std::string_view line, std::size_t max_body = protocols::irc::kMaxBody);
  // The connection is gone: close the core session, forget the client.
  void detach(IrcClient& c, const std::string& reason);
  // Disconnect everyone (plugin stop).
  void shutdown(const std::string& reason);
  // Closes connections that have not registered within `timeout` (plugin sweeper).
  void sweep_unregistered(std::chrono::seconds timeout);
  void set_config(config::IrcConfig cfg) { cfg_ = std::move(cfg); }
  const config::IrcConfig& config() const { return cfg_; }
  std::size_t client_count() const { return clients_.size(); }

  // --- output layer and lookups, for IrcClient and the command handlers (core strand) ---
  core::Core& core() { return rt_.core; }
  CoreStrand& core_strand() { return rt_.core_strand; }
  Runtime& runtime() { return rt_; }
  void queue(IrcClient& c, std::string_view bytes);
  // c has output (appended to c.out directly): flushed with this task's batch.
  void mark_dirty(IrcClient& c);
  void queue_shared(IrcClient& c, const std::shared_ptr<const std::string>& line);
  void flush();
  // Flushes after the reads already pending in this reactor round (core strand).
  void flush_soon();
  void close_link(IrcClient& c, const std::string& reason);
  void numeric(IrcClient& c, int code, std::initializer_list<std::string_view> middle,
               std::string_view trailing);
  void numeric_nt(IrcClient& c, int code, std::initializer_list<std::string_view> middle);
  // Core events as IRC lines (render_events.hpp) and room members' IRC nicks (room_nicks.hpp).
  IrcRender& render() { return render_; }
  RoomNicks& room_nicks() { return room_nicks_; }
  static constexpr std::size_t kMonitorMax = 100;  // ISUPPORT MONITOR=
  static constexpr std::size_t kKeyLen = 32;       // ISUPPORT KEYLEN=
  static constexpr std::size_t kMaxBans = 100;     // ISUPPORT MAXLIST=b:
  std::size_t channel_length() const;              // ISUPPORT CHANNELLEN=
  IrcClient* client_by_session(core::SessionId s) const;
  IrcClient* client_by_nick(std::string_view nick) const;
  const std::string& name() const { return cfg_.server_name; }
  // The local room a channel name stands for (casefolded, without '#'), if it is valid.
  std::optional<std::string> room_of(std::string_view chan) const;
  // Another user in one of c's rooms (or in `only`) shows `nick` to IRC.
  bool nick_shown_in_rooms(const IrcClient& c, std::string_view nick, const core::Room* only = nullptr);
  void send_lusers(IrcClient& c);
  // c's AWAY state as its presence tuple.
  void publish_away(IrcClient& c);
  // SASL, PASS and the paused password checks (irc_auth.hpp).
  IrcAuth& auth() { return auth_; }
  const std::unordered_map<IrcClient*, std::shared_ptr<IrcClient>>& clients() const { return clients_; }
  MonitorList& monitors() { return monitors_; }
  struct WhoWas {
    std::string nick, user, host, realname;
  };
  const std::deque<WhoWas>& whowas() const { return whowas_; }  // most recent first

 private:
  friend struct RegistrationCommands;  // commands/registration.cpp
  friend class IrcAuth;                // resumes registration once a password is checked

  void dispatch(IrcClient& c, const protocols::irc::Message& m);
  void try_register(IrcClient& c);
  void welcome(IrcClient& c);
  // IrcNickOwners, for room_nicks_.
  bool is_irc(core::SessionId s) const override;
  bool irc_nick_of_other(std::string_view nick, const core::Address& user) const override;
  bool nick_available(IrcClient& c, const std::string& folded, bool& reserved);
  void set_nick(IrcClient& c, const std::string& nick);
  void remember_whowas(const IrcClient& c);
  void apply_label(IrcClient& c, std::size_t from, std::string_view label);

  // Registration commands (commands/registration.cpp puts them in the registry).
  void cmd_cap(IrcClient&, const protocols::irc::Message&);
  void cmd_pass(IrcClient&, const protocols::irc::Message&);
  void cmd_nick(IrcClient&, const protocols::irc::Message&);
  void cmd_user(IrcClient&, const protocols::irc::Message&);

  Runtime& rt_;
  config::IrcConfig cfg_;
  CommandRegistry commands_;
  std::unordered_map<IrcClient*, std::shared_ptr<IrcClient>> clients_;
  std::unordered_map<std::string, IrcClient*> nicks_;  // casefolded
  std::unordered_map<core::SessionId, IrcClient*> by_session_;
  std::vector<IrcClient*> dirty_;
  bool flush_posted_ = false;
  bool checking_final_ = false;  // nick_available: registration is completing
  IrcClient* current_ = nullptr;  // the client whose command is being handled
  std::size_t max_local_ = 0;     // most registered IRC clients at once (RPL_LOCALUSERS)
  std::size_t max_global_ = 0;    // most sessions of any protocol at once (RPL_GLOBALUSERS)
  MonitorList monitors_;
  std::uint64_t next_guest_ = 1;
  RoomNicks room_nicks_;
  IrcRender render_;
  IrcAuth auth_;
  std::string created_;
  std::deque<WhoWas> whowas_;
};

}  // namespace parley::adapters::irc

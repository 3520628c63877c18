#pragma once
// The IRC command groups, one file per area (as InspIRCd's core modules): each adds its
// commands to the server's registry. IrcServer's constructor registers them all.
//
// Handlers run on the core strand with the registry's checks passed (registration state,
// parameter count), and reach the core and the client's output through IrcServer's public
// output layer (numeric, queue, close_link...) only.
#include "adapters/irc/command.hpp"
#include "core/model/error.hpp"

namespace parley::adapters::irc {

void register_registration_commands(CommandRegistry& r);  // CAP AUTHENTICATE PASS NICK USER
void register_channel_commands(CommandRegistry& r);       // JOIN PART TOPIC NAMES LIST KICK INVITE
void register_message_commands(CommandRegistry& r);       // PRIVMSG NOTICE TAGMSG
void register_mode_commands(CommandRegistry& r);          // MODE
void register_user_commands(
    CommandRegistry& r);  // PING PONG QUIT AWAY SETNAME MONITOR ISON USERHOST WHO WHOIS WHOWAS
void register_info_commands(CommandRegistry& r);  // MOTD LUSERS VERSION TIME INFO LINKS
void register_oper_commands(CommandRegistry& r);  // OPER KILL

// Replies of the welcome burst that commands repeat (VERSION, MOTD): RPL_ISUPPORT, the MOTD.
void send_isupport(IrcServer& srv, IrcClient& c);
void send_motd(IrcServer& srv, IrcClient& c);

inline void register_all_commands(CommandRegistry& r) {
  register_registration_commands(r);
  register_channel_commands(r);
  register_message_commands(r);
  register_mode_commands(r);
  register_user_commands(r);
  register_info_commands(r);
  register_oper_commands(r);
}

// The change was applied but the store could not save it (RoomService, e.g. disk full).
inline bool store_failed(const core::Error& e) {
  return e.condition == core::Condition::internal_server_error ||
         e.condition == core::Condition::resource_constraint;
}

}  // namespace parley::adapters::irc

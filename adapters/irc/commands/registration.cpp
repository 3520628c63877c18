// Registration commands: CAP AUTHENTICATE PASS NICK USER. Their handlers are IrcServer's
// own (irc_server.cpp) and IrcAuth's (irc_auth.cpp), which keep the registration state;
// this file only puts them in the registry next to every other command.
#include "adapters/irc/commands/commands.hpp"
#include "adapters/irc/irc_server.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;

// A friend of IrcServer: the registration handlers stay private to it.
struct RegistrationCommands {
  static void cap(IrcServer& srv, IrcClient& c, const pi::Message& m) { srv.cmd_cap(c, m); }
  static void authenticate(IrcServer& srv, IrcClient& c, const pi::Message& m) {
    srv.auth().authenticate(c, m);
  }
  static void pass(IrcServer& srv, IrcClient& c, const pi::Message& m) { srv.cmd_pass(c, m); }
  static void nick(IrcServer& srv, IrcClient& c, const pi::Message& m) { srv.cmd_nick(c, m); }
  static void user(IrcServer& srv, IrcClient& c, const pi::Message& m) { srv.cmd_user(c, m); }
};

void register_registration_commands(CommandRegistry& r) {
  using R = RegistrationCommands;
  // Allowed before registration; NICK answers a missing nick itself (431).
  static constexpr Command kCommands[] = {
      {"CAP", 1, 2, false, &R::cap},                    // CAP <subcommand> [:<capabilities>]
      {"AUTHENTICATE", 1, 1, false, &R::authenticate},  // AUTHENTICATE <mechanism|data|+|*>
      {"PASS", 1, 1, false, &R::pass},                  // PASS <password>
      {"NICK", 0, 1, false, &R::nick},                  // NICK <nickname>
      {"USER", 4, 4, false, &R::user},                  // USER <username> 0 * <realname>
  };
  r.add(kCommands);
}

}  // namespace parley::adapters::irc

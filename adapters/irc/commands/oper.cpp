// Operator commands (core strand): OPER KILL.
#include <spdlog/spdlog.h>

#include "adapters/irc/commands/commands.hpp"
#include "adapters/irc/irc_server.hpp"
#include "core/core.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;
using pi::LineWriter;

namespace {

void cmd_oper(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  const config::IrcOper* oper = nullptr;
  for (const auto& o : srv.config().opers)
    if (o.name == m.param(0)) oper = &o;
  if (!oper) return srv.numeric(c, 491, {}, "No O-lines for your host");
  // Plaintext or hashed (core/services/password_hash.hpp), compared in constant time on
  // the auth pool, throttled per address like every other password.
  std::string name = oper->name, host = c.host;
  srv.auth().paused_check(
      c,
      [&](AuthDone done) {
        check_config_password(srv.runtime(), host, "oper:" + name, oper->password, std::string(m.param(1)),
                              srv.core_strand(), std::move(done));
      },
      [&srv, name](IrcClient& cl, AuthResult r) {
        if (r != AuthResult::ok) {
          spdlog::warn("irc: failed OPER {} by {} from {}", name, cl.nick, cl.host);
          return srv.numeric(cl, 464, {},
                             r == AuthResult::throttled
                                 ? "Password incorrect (too many failed attempts, try again later)"
                                 : "Password incorrect");
        }
        cl.oper = true;
        spdlog::info("irc: {} is now an IRC operator ({}) from {}", cl.nick, name, cl.host);
        srv.numeric(cl, 381, {}, "You are now an IRC operator");
        LineWriter(cl.out).prefix(cl.mask()).command("MODE").param(cl.nick).trailing("+o").end();
        srv.mark_dirty(cl);
      });
}

void cmd_kill(IrcServer& srv, IrcClient& c, const pi::Message& m) {
  if (!c.oper) return srv.numeric(c, 481, {}, "Permission Denied- You're not an IRC operator");
  IrcClient* t = srv.client_by_nick(m.param(0));
  if (!t) return srv.numeric(c, 401, {m.param(0)}, "No such nick/channel");
  std::string reason = "Killed (" + c.nick + " (" + std::string(m.param(1)) + "))";
  LineWriter(t->out).prefix(c.mask()).command("KILL").param(t->nick).trailing(m.param(1)).end();
  srv.mark_dirty(*t);
  srv.close_link(*t, reason);
}

}  // namespace

void register_oper_commands(CommandRegistry& r) {
  static constexpr Command kCommands[] = {
      {"OPER", 2, 2, true, &cmd_oper},  // OPER <name> <password>
      {"KILL", 2, 2, true, &cmd_kill},  // KILL <nickname> <comment>
  };
  r.add(kCommands);
}

}  // namespace parley::adapters::irc

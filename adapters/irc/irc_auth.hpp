#pragma once
// IRC authentication (irc_auth.cpp): SASL (IRCv3 sasl-3.1/3.2: PLAIN, SCRAM-SHA-256), PASS
// account logins and the connection password, and the paused password checks OPER uses
// too. Owned by IrcServer, whose output layer it answers through. Core strand.
#include <functional>
#include <string>
#include <string_view>

#include "adapters/common/auth.hpp"
#include "protocols/irc/message.hpp"

namespace parley::adapters::irc {

class IrcServer;
class IrcClient;

class IrcAuth {
 public:
  explicit IrcAuth(IrcServer& server) : srv_(server) {}

  // AUTHENTICATE (the framing is protocols/irc/registration.hpp's on_authenticate).
  void authenticate(IrcClient& c, const protocols::irc::Message& m);
  // irc.password, then PASS account:password; registration resumes once it is checked.
  void check_pass(IrcClient& c);
  // Runs start(done) with c's input paused; then(c, result) runs on the core strand when
  // done is called, and c's buffered lines are handled after it.
  void paused_check(IrcClient& c, const std::function<void(AuthDone)>& start,
                    std::function<void(IrcClient&, AuthResult)> then);

 private:
  void sasl_step(IrcClient& c, std::string_view data);
  // counts: a failed attempt towards auth.max_failures_per_connection (906 aborts do not).
  void sasl_fail(IrcClient& c, int code, std::string_view text, bool counts = true);
  void sasl_succeed(IrcClient& c, const std::string& account);
  void send_sasl_data(IrcClient& c, std::string_view raw);

  IrcServer& srv_;
};

}  // namespace parley::adapters::irc

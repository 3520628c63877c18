#pragma once
// XEP-0050 ad-hoc commands of the gateway (Biboumi's configure commands, plus admin ones):
//   gw                  configure (the user's defaults), links and disconnect (admins:
//                       irc.gateway_admins)
//   net@gw              configure (this network: nick, realname, SASL, port, TLS...)
//   #chan%net@gw        configure (persistent)
// listed by disco#items on the commands node (XEP-0050 §2.2, admin commands only to
// admins). A configure command is one stage: execute -> the form (status executing,
// a sessionid), then complete (or execute) with the submitted form, or cancel. Sessions are
// per requesting full JID, bounded (irc.gateway_adhoc_sessions per user, the oldest
// dropped) and expire after kSessionTtl. Errors (XEP-0050 §4.6): item-not-found for an
// unknown node or target, forbidden for a non-admin, bad-request with bad-action,
// malformed-action, bad-sessionid or bad-payload. Settings are written to the store and
// used from the next IRC connection (settings.hpp). On the gateway's strand.
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "adapters/gateway/port.hpp"

namespace parley::adapters::gateway {

class Gateway;

inline constexpr std::string_view kCommandsNs = "http://jabber.org/protocol/commands";
inline constexpr std::chrono::minutes kSessionTtl{10};

class Adhoc {
 public:
  explicit Adhoc(Gateway& gw) : gw_(gw) {}

  // disco#items for node kCommandsNs on `s.to` (a get).
  void list(const XmppIn& s);
  // An iq set carrying <command/>.
  void execute(const XmppIn& s);
  bool is_admin(std::string_view bare) const;

 private:
  struct Session {
    std::string id, requester, target, node;
    std::chrono::steady_clock::time_point at;
  };
  void reply_error(const XmppIn& s, std::string_view type, std::string_view condition, std::string_view app,
                   std::string_view text);
  void reply(const XmppIn& s, std::string_view node, std::string_view sessionid, std::string_view status,
             std::string_view body);
  std::string new_session(const XmppIn& s, std::string_view node);
  Session* find_session(const XmppIn& s);
  void drop_session(std::string_view id);
  void submit(const XmppIn& s, const Session& sess);

  Gateway& gw_;
  std::deque<Session> sessions_;  // oldest first
  std::uint64_t counter_ = 0;
};

}  // namespace parley::adapters::gateway

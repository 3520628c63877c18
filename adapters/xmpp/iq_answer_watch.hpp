#pragma once
// Whether an iq request has been answered, from the stanzas written while it is handled.
//
// RFC 6120 §8.2.3: an entity that receives an iq get or set answers it with exactly one
// result or error. The component's exception firewall answers a stanza whose handling threw
// (failure_reply). Today every gateway path sends its answer as its last step, so a throw
// comes before it; but anything done after an answer (a later change, a deferred IRC read
// that runs first, an allocation failing) would make the firewall send a second one, telling
// the client that a request it saw succeed has failed. So the component watches what it sends
// while the gateway handles one iq, and the firewall answers only if nothing did. Answers sent
// later (a KICK's, at the IRC server's reply) are outside the watch: such a path must not
// leave a pending answer behind when it throws (Puppet::kick). Pure; the stanzas it sees are
// Parley's own rendering (XmlWriter: single-quoted values, escape_attr).
#include <string>
#include <string_view>

namespace parley::adapters::xmpp {

class IqAnswerWatch {
 public:
  // An iq get or set from `from` with `id` is being handled (ends any earlier watch).
  void watch(std::string_view from, std::string_view id);
  void end() { watching_ = false; }
  bool watching() const { return watching_; }
  // A stanza being sent: is it the answer (an iq result or error to `from` with `id`; for
  // an empty id, one with id='' or none, as render_error leaves it out)?
  void sent(std::string_view xml);
  // Since watch(): whether an answer went out.
  bool answered() const { return answered_; }

 private:
  bool watching_ = false, answered_ = false;
  std::string to_attr_, id_attr_;  // " to='...'" and " id='...'", escaped as rendered
};

}  // namespace parley::adapters::xmpp

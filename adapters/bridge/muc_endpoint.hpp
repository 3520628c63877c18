#pragma once
// A bridge's remote MUC (xmpp:room@muc.example.org), joined through the XEP-0114 component
// (adapters/xmpp/component): the bot is the occupant DOMAIN/bridge.NAME (DOMAIN: the
// component's domain) with the bridge's nick, so the XMPP server routes the room's traffic
// for it to Parley; in puppet mode each speaker of the other rooms is one more occupant,
// DOMAIN/bridge.NAME.N, under the speaker's nick (at most max_puppets).
//
// XEP-0045: the join asks for no history (§7.2.14, maxstanzas 0) and delayed messages
// (XEP-0203) are never relayed; a nick conflict (§7.2.9) retries with '_' appended; the
// self-presence (status 110) marks the occupant joined and sends what waited; being kicked
// or the stream detaching marks it out, and it joins again (after a delay, or when the
// component is attached again). What the bot says carries <bridged
// xmlns='urn:parley:bridge:0'/>, and messages with it, or from any bridge occupant of this
// process, are not relayed. Everything on the core strand.
#include <memory>
#include <string>
#include <vector>

#include "adapters/bridge/bridge.hpp"
#include "adapters/xmpp/component.hpp"

namespace parley::adapters::bridge {

inline constexpr std::string_view kBridgedNs = "urn:parley:bridge:0";

class MucOccupant;

class MucEndpoint : public Endpoint, public xmpp::ComponentClient {
 public:
  MucEndpoint(Bridge& bridge, BridgeIdentities& ids, const protocols::Strand& strand,
              std::shared_ptr<xmpp::Component> component, std::string room_jid,
              std::chrono::milliseconds rejoin_delay = std::chrono::milliseconds(5'000));
  ~MucEndpoint() override;
  void start() override;
  void stop() override;
  void say(const Heard& h) override;

  // ---- xmpp::ComponentClient ----
  bool on_component_stanza(protocols::xmpp::Stanza& s, const protocols::xmpp::Jid& to) override;
  void on_component_attached(bool attached) override;

  // The occupants' calls.
  void send(std::string_view xml) { component_->send(xml); }
  bool attached() const { return component_->attached(); }
  const std::string& room() const { return room_; }
  const std::string& domain() const { return component_->domain(); }
  const protocols::Strand& strand() const { return strand_; }
  std::chrono::milliseconds rejoin_delay() const { return rejoin_delay_; }
  std::size_t queue() const { return bridge_.options().queue; }
  const std::string& bridge_name() const { return bridge_.config().name; }
  const std::string& place() const { return place_; }

 private:
  void on_groupchat(protocols::xmpp::Stanza& s, std::string_view nick);
  MucOccupant* occupant_for(const std::string& speaker);

  Bridge& bridge_;
  BridgeIdentities& ids_;
  protocols::Strand strand_;
  std::shared_ptr<xmpp::Component> component_;
  std::string room_;   // bare JID
  std::string place_;  // "muc <room>"
  std::chrono::milliseconds rejoin_delay_;
  std::unique_ptr<MucOccupant> bot_;
  std::vector<std::pair<std::string, std::unique_ptr<MucOccupant>>> puppets_;  // folded speaker -> occupant
  bool started_ = false, stopped_ = false;
};

}  // namespace parley::adapters::bridge

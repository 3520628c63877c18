#pragma once
// A bridge's local Parley room (parley:#dev, or xmpp:dev@<xmpp.muc.domain>): the bot is a
// guest core session (Protocol::local, user "bridge.NAME") that joins the room under the
// bridge's nick, so IRC, XMPP, PSYC... members of the room see it like any member; in
// puppet mode each speaker of the other rooms gets a guest session of its own under its
// nick (at most max_puppets). What a bridge says carries Message::origin.bridge, and room
// messages with it set are never relayed (any bridge's, in this process). A kick or a
// terminated session joins again after a delay. Everything on the core strand.
#include <memory>
#include <string>
#include <vector>

#include "adapters/bridge/bridge.hpp"
#include "adapters/common/runtime.hpp"

namespace parley::adapters::bridge {

class LocalMember;

class LocalEndpoint : public Endpoint {
 public:
  LocalEndpoint(Bridge& bridge, Runtime& rt, std::string room,
                std::chrono::milliseconds rejoin_delay = std::chrono::milliseconds(5'000));
  ~LocalEndpoint() override;
  void start() override;
  void stop() override;
  void say(const Heard& h) override;

  // The bot's call: a person said something in the room.
  void heard(const core::MessagePtr& m);
  Runtime& runtime() { return rt_; }
  const std::string& room() const { return room_; }
  const std::string& bridge_name() const { return bridge_.config().name; }
  std::chrono::milliseconds rejoin_delay() const { return rejoin_delay_; }
  bool stopped() const { return stopped_; }

 private:
  LocalMember* member_for(const std::string& speaker);

  Bridge& bridge_;
  Runtime& rt_;
  std::string room_;
  std::chrono::milliseconds rejoin_delay_;
  std::unique_ptr<LocalMember> bot_;
  std::vector<std::pair<std::string, std::unique_ptr<LocalMember>>> puppets_;
  bool stopped_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted relays check it (weak)
};

}  // namespace parley::adapters::bridge

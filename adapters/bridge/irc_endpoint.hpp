#pragma once
// A bridge's IRC channel (irc://NETWORK/#chan): one bot connection to the network that
// joins the channel, reports what people say there and says what the other rooms said
// (relay mode, with the prefix); in puppet mode also one connection per speaker of the
// other rooms (at most max_puppets), each speaking under the speaker's nick.
//
// Each connection (IrcBot) registers with protocols/irc/client_registration (CAP, SASL,
// PASS, nick collisions, PING), is kept up by a Reconnector (backoff with jitter), joins
// its channel again after every reconnection or kick, and sends through one bounded
// queue drained by the network's token bucket (irc.networks[].throttle). Text goes through
// adapters/gateway/outgoing (CR/LF split, NUL and controls dropped, 512-byte cuts), so no
// relayed text can become a second IRC command. Everything on the core strand.
#include <map>
#include <memory>
#include <string>

#include "adapters/bridge/bridge.hpp"
#include "config/irc_config.hpp"
#include "protocols/common/backoff.hpp"
#include "protocols/common/net.hpp"

namespace parley::adapters::bridge {

class IrcBot;

struct IrcEndpointOptions {
  protocols::BackoffPolicy backoff;
  std::chrono::milliseconds registration_timeout{60'000};
  std::chrono::seconds ping_interval{90}, ping_timeout{180};
  std::chrono::milliseconds rejoin_delay{5'000};  // after a KICK or a refused JOIN
  std::size_t recvq = 16384, sendq = 1048576;
};

class IrcEndpoint : public Endpoint {
 public:
  IrcEndpoint(Bridge& bridge, BridgeIdentities& ids, const protocols::Strand& strand, config::IrcNetwork net,
              std::string channel, IrcEndpointOptions o);
  ~IrcEndpoint() override;
  void start() override;
  void stop() override;
  void say(const Heard& h) override;

  // The bot's calls: a person said something in the channel.
  void heard(std::string_view nick, std::string_view text, bool action);
  bool is_ours(std::string_view nick) const;

 private:
  Bridge& bridge_;
  BridgeIdentities& ids_;
  protocols::Strand strand_;
  config::IrcNetwork net_;
  std::string channel_;
  IrcEndpointOptions options_;
  std::string place_;  // "irc <network>"
  std::unique_ptr<IrcBot> bot_;
  std::map<std::string, std::unique_ptr<IrcBot>> puppets_;  // folded speaker nick -> its connection
  bool stopped_ = false;
};

}  // namespace parley::adapters::bridge

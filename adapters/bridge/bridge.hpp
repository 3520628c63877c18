#pragma once
// A configured bridge (bridges[] in the config; issue 11 "Relay-bot mode"): two or more
// rooms - IRC channels of irc.networks, remote MUCs reached through the XEP-0114
// component, local Parley rooms - each served by one Endpoint. A line heard in one room is
// said in every other room of the bridge:
//
//   relay mode:  by the endpoint's one bot (one IRC connection, one MUC occupant, one
//                local session) as prefix + text ("<alice> hi"), actions as actions
//                ("/me alice waves");
//   puppet mode: by a puppet of the speaker (its own IRC connection / MUC occupant / local
//                session, with the speaker's nick, no prefix), at most max_puppets per
//                room; later speakers go through the bot as in relay mode.
//
// Loop prevention: an endpoint never reports a line said by any bridge bot or puppet of this
// process (BridgeIdentities: IRC nicks per network, occupant nicks per MUC) nor a line
// tagged as bridged (XMPP: <bridged xmlns='urn:parley:bridge:0'/>; local rooms:
// Message::origin.bridge), so nothing a bridge says is ever relayed again.
//
// Threading: everything on the core strand (bridges, endpoints, their sockets and timers).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/bridge/relay_text.hpp"
#include "config/config.hpp"

namespace parley::adapters::bridge {

class Bridge;

// Who speaks for bridges, so that no endpoint relays a bridge's own lines. Entries are
// live objects asked for their current nick (a bot may be renamed by a nick collision).
class BridgeIdentities {
 public:
  struct Speaker {
    virtual ~Speaker() = default;
    virtual std::string_view place() const = 0;  // "irc <network>" or "muc <room jid>"
    virtual std::string_view speaker_nick() const = 0;
  };
  void add(const Speaker* s) { speakers_.push_back(s); }
  void remove(const Speaker* s) { std::erase(speakers_, s); }
  // True when `nick` in `place` is one of ours (ASCII case-insensitively).
  bool is_ours(std::string_view place, std::string_view nick) const;

 private:
  std::vector<const Speaker*> speakers_;
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  // A line heard in another room of the bridge: say it here.
  virtual void say(const Heard& h) = 0;
};

struct BridgeOptions {
  std::size_t max_lines = 10;  // irc.max_lines_per_message: lines one relayed message may take
  std::size_t queue = 200;     // irc.gateway_queue: lines waiting per bot while down/throttled
};

class Bridge {
 public:
  Bridge(config::BridgeConfig cfg, BridgeOptions o) : cfg_(std::move(cfg)), options_(o) {}
  void add(std::unique_ptr<Endpoint> e) { endpoints_.push_back(std::move(e)); }
  void start();
  void stop();
  // An endpoint heard a line from a person (never from a bridge: the endpoint checked).
  void heard(const Endpoint* from, const Heard& h);

  const config::BridgeConfig& config() const { return cfg_; }
  const BridgeOptions& options() const { return options_; }
  bool puppets() const { return cfg_.mode == "puppet"; }
  // The bot's nick: bridges[].nick, else name + "-bridge", made a valid IRC nick.
  std::string bot_nick() const;

 private:
  config::BridgeConfig cfg_;
  BridgeOptions options_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  bool stopped_ = false;
};

// An XMPP or IRC nick made an IRC nick (RFC 2812 §2.3.1): other bytes become '_', a leading
// digit or '-' gets a '_' before it, at most 30 bytes.
std::string irc_nick_of(std::string_view want);

}  // namespace parley::adapters::bridge

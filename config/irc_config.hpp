#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config/listen.hpp"

namespace parley::config {

struct IrcOper {
  std::string name;
  std::string password;
};

struct IrcNetwork {
  std::string name;
  std::string host;
  std::uint16_t port = 6697;
  bool tls = true;
};

struct IrcConfig {
  bool enabled = false;
  std::vector<ListenAddress> listen;  // "127.0.0.1:6667", "tls:127.0.0.1:6697", "[::1]:6667"
  std::string server_name = "irc.localhost";
  std::string network_name = "Parley";
  std::string motd = "Welcome to Parley.";
  std::vector<IrcOper> opers;
  // Connection password (PASS before NICK/USER, Modern IRC "PASS message"); empty: none,
  // and PASS then logs in to an account ("account:password").
  std::string password;
  bool guests = true;
  // An account's name is its owner's IRC nick: others may not take it. false: first come,
  // first served (a guest using it is still not that account).
  bool reserve_account_nicks = true;
  std::size_t nick_length = 30;
  std::size_t channel_length = 64;
  std::size_t max_channels = 50;
  std::vector<IrcNetwork> networks;
  // Flood control and connection limits (IRC adapter). flood_burst 0 turns flood control
  // off (benchmarks); otherwise each line costs flood_interval_ms and a client may be
  // flood_burst lines ahead before its lines wait; recvq bytes waiting -> Excess Flood.
  std::size_t flood_burst = 20;
  std::size_t flood_interval_ms = 500;
  std::size_t recvq = 16384;
  std::size_t sendq = 1048576;
  // Lines one message from another protocol (a multi-line or long XMPP body) may take on
  // IRC; the rest is replaced by a "[... N more lines]" line. A message is also never
  // rendered larger than a quarter of sendq, so no single message overflows a member.
  std::size_t max_lines_per_message = 10;
  std::size_t ping_interval = 90;  // seconds of silence before the server PINGs
  std::size_t ping_timeout = 180;  // seconds of silence before disconnecting
  std::size_t registration_timeout = 60;     // seconds a connection may take to register
  std::string fallback_encoding = "latin1";  // for lines that are not UTF-8: latin1 | reject
};

}  // namespace parley::config

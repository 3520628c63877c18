#pragma once
#include <cstdint>
#include <string>
#include <vector>

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
  std::vector<std::string> listen;  // "127.0.0.1:6667", "tls:127.0.0.1:6697", "[::1]:6667"
  std::string server_name = "irc.localhost";
  std::string network_name = "Parley";
  std::string motd = "Welcome to Parley.";
  std::vector<IrcOper> opers;
  bool guests = true;
  std::size_t nick_length = 30;
  std::size_t channel_length = 64;
  std::size_t max_channels = 50;
  std::vector<IrcNetwork> networks;
};

}  // namespace parley::config

#pragma once
// Typed configuration (DESIGN.md, Configuration shape). Each section has its own struct
// and its own parser file (config/<section>_config.cpp); load() checks the whole file and
// reports every error with file, line and key path. An empty or absent protocol section
// means that protocol is off (enabled == false).
#include <cstdint>
#include <string>
#include <vector>

#include "config/irc_config.hpp"
#include "config/xmpp_config.hpp"

namespace parley::config {

struct ServerConfig {
  std::string domain = "localhost";
  std::string data_dir = "./var";
  unsigned threads = 0;  // 0: one per core
  std::string log_level = "info";
};

struct SeedAccount {
  std::string user;
  std::string password;
};

struct SipConfig {
  bool enabled = false;
  std::vector<std::string> listen;
  std::string domain;
};

struct PsycConfig {
  bool enabled = false;
  std::vector<std::string> listen;
};

struct BridgeConfig {
  std::string name;
  std::string mode = "relay";  // relay | puppet
  std::vector<std::string> rooms;  // addresses linked together
};

struct Config {
  std::string path;  // the file it came from
  ServerConfig server;
  std::vector<SeedAccount> accounts;
  IrcConfig irc;
  XmppConfig xmpp;
  SipConfig sip;
  PsycConfig psyc;
  std::vector<BridgeConfig> bridges;
};

}  // namespace parley::config

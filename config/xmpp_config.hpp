#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace parley::config {

struct XmppTls {
  std::string cert;  // empty: the generated self-signed one in data_dir
  std::string key;
};

struct XmppLimits {
  std::size_t stanza_size = 256 * 1024;
  std::size_t depth = 32;
  std::size_t attributes = 64;
};

struct XmppConfig {
  bool enabled = false;
  struct C2s {
    std::vector<std::string> listen;  // "127.0.0.1:5222", "tls:127.0.0.1:5223" (XEP-0368)
    XmppTls tls;
    XmppLimits limits;
    std::uint32_t resume_timeout = 120;  // seconds a dropped XEP-0198 session waits for resumption
  } c2s;
  struct Muc {
    std::string domain;  // empty: "conference." + server.domain
  } muc;
  struct Component {
    std::string domain;
    std::string server;
    std::string secret;
  } component;
};

}  // namespace parley::config

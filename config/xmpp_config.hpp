#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config/listen.hpp"

namespace parley::config {

struct XmppTls {
  std::string cert;  // empty: the generated self-signed one in data_dir
  std::string key;
};

struct XmppLimits {
  std::size_t stanza_size = 256 * 1024;
  std::size_t depth = 32;
  std::size_t attributes = 64;
  // Largest stanza before SASL success (RFC 6120 §13.2 lets a server bound what an unknown
  // peer may make it hold): STARTTLS, SASL and their answers are small.
  std::size_t preauth_stanza_size = 16 * 1024;
};

// Input shaper per c2s session (ejabberd's shaper, Prosody's mod_limits): a token bucket
// of bytes and one of stanzas; over the rate, reading from the client pauses until the
// bucket refills (its stanzas are slowed down, never dropped). A rate of 0: that bucket off.
struct XmppRate {
  std::uint64_t bytes_per_second = 64 * 1024;
  std::uint64_t burst = 256 * 1024;  // bytes
  std::uint64_t stanzas_per_second = 10;
  std::uint64_t stanza_burst = 200;
};

struct XmppConfig {
  bool enabled = false;
  struct C2s {
    std::vector<ListenAddress> listen;  // "127.0.0.1:5222", "tls:127.0.0.1:5223" (XEP-0368)
    XmppTls tls;
    XmppLimits limits;
    std::uint32_t resume_timeout = 120;  // seconds a dropped XEP-0198 session waits for resumption
    XmppRate rate;
    // Stanzas of one session waiting for the core; beyond it, reading pauses. 0: unbounded.
    std::uint32_t core_queue = 64;
    // XEP-0198 stanzas a client may leave unacknowledged (count, bytes) before its stream
    // is closed (policy-violation) and they go to offline storage. 0: unbounded.
    std::size_t max_unacked = 5000;
    std::size_t max_unacked_bytes = 1024 * 1024;
    // Seconds from the first stream header until a resource is bound (STARTTLS, SASL,
    // restart, bind); afterwards only the XEP-0198 and idle rules apply.
    std::uint32_t auth_timeout = 60;
  } c2s;
  struct Muc {
    std::string domain;  // empty: "conference." + server.domain
  } muc;
  // XEP-0114: the IRC gateway (adapters/gateway) also served as an external component of
  // another XMPP server. Empty domain: off.
  struct Component {
    std::string domain;  // the component's domain, e.g. irc.example.org
    std::string server;  // "ip:port" of the server's component listener (Prosody: 5347)
    std::string secret;  // the shared secret of the handshake (§3)
    // Archive channel lines (Biboumi's default) for history on join and MAM on this
    // component's domain; retention and page bounds are irc.gateway_history_* as for
    // irc.gateway_domain.
    bool record_history = true;
  } component;
};

}  // namespace parley::config

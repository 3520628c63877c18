#pragma once
// Typed configuration (DESIGN.md, Configuration shape). Each section has its own struct
// and its own parser file (config/<section>_config.cpp); load() checks the whole file and
// reports every error with file, line and key path. An empty or absent protocol section
// means that protocol is off (enabled == false).
#include <cstdint>
#include <string>
#include <vector>

#include "config/bridge_room.hpp"
#include "config/auth_config.hpp"
#include "config/irc_config.hpp"
#include "config/listen.hpp"
#include "config/xmpp_config.hpp"

namespace parley::config {

// What one user or session may hold in the core, whatever its protocol (server.limits).
struct ServerLimits {
  std::size_t max_rooms = 100;              // rooms one session may be in at once
  std::size_t roster_size = 1000;           // contacts in one account's roster
  std::size_t offline_messages = 1000;      // messages stored for one account while away
  std::size_t offline_bytes = 1024 * 1024;  // ... and their size
  std::uint32_t offline_sender_share = 25;  // percent of both that one sender may fill
};

// Bounds every listener applies to its connections (IRC, XMPP c2s; SIP-TCP and PSYC
// listeners get the same), before and independently of the protocol.
struct ConnectionLimits {
  std::uint32_t per_address = 64;        // concurrent connections from one address (IPv6: one /64); 0: none
  std::uint32_t rate = 10;               // new connections per second per address, sustained; 0: none
  std::uint32_t burst = 64;              // new connections per address ahead of that rate
  std::uint32_t handshake_timeout = 15;  // seconds for the TLS handshake and the protocol's opening
  std::uint32_t close_timeout = 10;      // seconds a closing connection may take to flush its output
};

struct ServerConfig {
  std::string domain = "localhost";
  std::string data_dir = "./var";
  unsigned threads = 0;  // 0: one per core
  std::string log_level = "info";
  // Store writes accepted but not yet committed (the write-behind queue); beyond it the
  // core waits for the disk. Also what a kill -9 can lose at most (SIGTERM loses nothing).
  std::size_t store_queue = 4096;
  std::string log_format = "text";  // "text" (human) or "json" (one object per line, for log shippers)
  // Unix socket for `parleyd ctl` (daemon/control_socket); empty: none. The embedded
  // parley.yaml puts it in ./var, the package in /run/parley/control.
  std::string control_socket;
  unsigned control_clients = 8;  // control connections open at once; more are refused
  ServerLimits limits;
  ConnectionLimits connections;
};

struct SeedAccount {
  std::string user;
  std::string password;
};

// An external SIP presence server that local presence is published to and remote
// presentities are watched at (RFC 7247/8048 interworking; DESIGN.md, use 4).
// adapters/sip/federation.hpp has the behaviour; docs/PLUGINS.md the keys.
struct SipFederationPublish {
  std::string account;  // a local account whose presence is published
  std::string aor;      // as this SIP address of record; empty: sip:<account>@<domain>
};

struct SipFederation {
  std::string domain;  // the remote SIP domain, e.g. "sip.example.org"
  std::string proxy;   // where to send requests: "udp:sip.example.org:5060", "tls:192.0.2.1" (a name or IP)
  std::string user;      // credentials at the remote server (digest), optional
  std::string password;
  std::vector<SipFederationPublish> publish;  // local presence PUBLISHed there (RFC 3903)
  std::uint32_t expires = 600;                // Expires asked for in SUBSCRIBE and PUBLISH
  std::size_t max_subscriptions = 1000;       // remote presentities watched at once; beyond: not watched
  std::uint32_t backoff_max = 300;            // seconds: longest wait before a resubscribe / republish
};

struct SipConfig {
  bool enabled = false;
  std::vector<ListenAddress> listen;  // "udp:127.0.0.1:5060", "tcp:127.0.0.1:5060", "tls:..."
  std::string domain;               // empty: server.domain
  struct Tls {
    std::string cert, key;  // PEM files for tls: listeners; empty: the daemon's certificate
  } tls;
  std::vector<SipFederation> federation;
  // RFC 3261 §10.2.1/§10.3: Expires of a binding is clamped to max; below min is 423.
  struct Expires {
    std::uint32_t min = 60, max = 3600, default_ = 3600;
  } register_expires;
  std::size_t max_request = 8192;       // bytes of one SIP request (headers + body); larger: 413 / dropped
  std::size_t max_message = 4096;       // bytes of a MESSAGE body (RFC 3428 §8: pager mode is small): 413
  std::size_t max_bindings = 10;        // registered contacts per user (RFC 3261 §10.3 leaves it to policy)
  std::uint32_t nonce_lifetime = 300;   // seconds a digest nonce is accepted, then stale=true (RFC 7616 §3.3)
  std::uint32_t requests_per_second = 20;  // per source address, burst 2x; beyond: dropped (UDP) / 503
  std::size_t max_pending = 1024;       // requests waiting for the core; beyond: 503
  // Digest challenges offered in a 401, in this order ("MD5", "SHA-256"). MD5 only by
  // default: libre-based UAs (baresip 1.0, Debian 12) give up on a 401 that also offers
  // SHA-256 (RFC 8760), and many UAs (sipp among them) read only the first challenge.
  std::vector<std::string> digest_algorithms{"MD5"};
  // SIMPLE presence (adapters/sip/presence_agent): PUBLISH and SUBSCRIBE Expires bounds
  // (RFC 3903 §6 / RFC 6665 §4.2.1.1: below min is 423, above max is clamped).
  Expires event_expires{60, 3600, 3600};
  std::size_t max_subscriptions = 100;  // SUBSCRIBE dialogs per watching user; beyond: 403
  std::size_t max_publications = 10;    // PUBLISH entity tags per user; beyond: 403
  std::uint32_t notify_interval_ms = 200;  // per subscription: NOTIFYs at most this often; changes coalesce
  // SO_RCVBUF/SO_SNDBUF of each udp: listener (0: the kernel default, ~208 KiB): a NOTIFY
  // fan-out's 200 OKs arrive together and a small buffer drops them (each is a retransmission);
  // the kernel charges ~2-3 KiB per datagram, so 10,000 watchers need more than 8 MiB.
  std::size_t udp_buffer = 32u << 20;
};

// A remote Parley node that rooms are multicast to (one copy per server): adapters/psyc/
// peer_link.hpp. The node whose root uniform sorts first dials; both list each other.
struct PsycPeer {
  std::string host;  // "psyc.example.org" or an IP literal
  std::uint16_t port = 4404;
  std::string uniform;  // the peer's root uniform, "psyc://psyc.example.org"
  std::string secret;   // shared secret of the link
  // The dialing node connects with TLS to the peer's `tls:` psyc listener (the accepting
  // node then refuses this peer's link over plain TCP). verify and fingerprint as in
  // irc.networks[]: the chain and name check, and/or the certificate's SHA-256 pinned.
  bool tls = false;
  bool verify = true;
  std::string fingerprint;
};

// Parley's own bounds on PSYC packets (the PSYC 1.0 spec sets none).
struct PsycLimits {
  std::size_t max_name = 64;            // bytes in a variable or method name
  std::size_t max_value = 8 * 1024;     // bytes in one modifier value
  std::size_t max_content = 64 * 1024;  // bytes of a packet's content (entity modifiers, method, data)
  std::size_t max_modifiers = 64;       // modifiers in one packet (routing + entity)
};

struct PsycConfig {
  bool enabled = false;
  std::vector<ListenAddress> listen;  // "127.0.0.1:4404", "tls:127.0.0.1:4405"
  std::vector<PsycPeer> peers;
  bool guests = true;                 // _request_link without _password for a name with no account
  std::size_t sendq = 512 * 1024;     // bytes queued toward one client before it is closed
  std::uint32_t idle_timeout = 300;   // seconds of silence before a circuit is closed
  std::uint32_t rate = 10;            // packets per second one circuit may send, sustained; 0: no limit
  std::uint32_t burst = 20;           // packets ahead of that rate
  std::size_t peer_queue = 1000;      // messages queued per peer while its link is down
  std::size_t peer_members = 10000;   // remote persons a peer may place in one room, and in all
  std::uint32_t peer_backoff_max = 60;  // seconds: the longest wait between dials of a peer
  PsycLimits limits;
};

// The line plugin (adapters/line): a tiny text protocol, the smallest example of a plugin
// (docs/PLUGINS.md). Off unless the section is present; the default config leaves it out.
struct LineConfig {
  bool enabled = false;
  std::vector<ListenAddress> listen;  // "127.0.0.1:7777"; "tls:..." for TLS
  bool guests = true;               // GUEST <nick> admitted (else LOGIN only)
  std::size_t max_line = 512;       // bytes in one line, either way; longer input closes
  std::size_t sendq = 256 * 1024;   // bytes queued toward one client before it is closed
};

// The HTTP listener (adapters/http): XMPP over WebSocket (RFC 7395, /xmpp-websocket), IRC
// over WebSocket (IRCv3, /irc), /metrics and later BOSH. Every bound is per connection.
struct HttpLimits {
  std::size_t header_bytes = 8 * 1024;        // request line + headers of one request
  std::size_t body_bytes = 64 * 1024;         // body of one request
  std::uint32_t requests_per_connection = 100;  // keep-alive requests before the connection closes
  std::uint32_t idle_timeout = 30;            // seconds between requests on a kept-alive connection
  std::uint32_t read_timeout = 10;            // seconds from a request's first byte to its last (slowloris)
  std::size_t websocket_message = 256 * 1024;  // bytes of one WebSocket message (all its fragments)
  std::uint32_t websocket_fragments = 64;     // frames one WebSocket message may be split into
  std::size_t write_queue = 1024 * 1024;      // bytes queued toward one client before it is closed
};

// BOSH (XEP-0124/0206) at /http-bind (adapters/xmpp/bosh_session): one session is one c2s
// stream; its request bodies are bounded by HttpLimits::body_bytes.
struct BoshConfig {
  std::uint32_t sessions_per_address = 5;   // live sessions one client address may hold
  std::uint32_t max_sessions = 1000;        // live sessions in all
  std::uint32_t hold_max = 2;               // requests held at once per session (the client's hold, capped)
  std::uint32_t wait_max = 60;              // seconds a request may be held (the client's wait, capped)
  std::uint32_t inactivity = 60;            // seconds without any request before the session ends
  std::size_t queued_bytes = 256 * 1024;    // output waiting for the next request before the session ends
  std::string allow_origin;                 // Access-Control-Allow-Origin; empty: no CORS headers
};

// WebSocket upgrades (/xmpp-websocket, /irc).
struct WebSocketConfig {
  // Browser pages (Origin, RFC 6455 §10.2) that may connect: "https://chat.example";
  // empty: any. an Origin not listed gets 403; no Origin at all (not a browser) passes.
  std::vector<std::string> allowed_origins;
};

struct HttpConfig {
  bool enabled = false;
  std::vector<ListenAddress> listen;          // "127.0.0.1:5280", "tls:127.0.0.1:5281"
  std::vector<ListenAddress> metrics_listen;  // set: /metrics is served only there
  HttpLimits limits;
  BoshConfig bosh;
  WebSocketConfig websocket;
};

struct BridgeConfig {
  std::string name;
  std::string mode = "relay";  // relay | puppet
  std::vector<std::string> rooms;  // addresses linked together (config/bridge_room.hpp)
  std::vector<BridgeRoom> endpoints;  // rooms, parsed and checked by the loader
  // A relayed line is prefix + text; "{nick}" stands for the speaker's nick.
  std::string prefix = "<{nick}> ";
  // The relay bot's nick on IRC and in MUCs; empty: the bridge's name + "-bridge".
  std::string nick;
  // Puppet mode: at most this many speakers get a puppet per room; others are relayed by
  // the bot with the prefix.
  std::size_t max_puppets = 10;
};

struct Config {
  std::string path;  // the file it came from ("<embedded>" style names for load_string)
  ServerConfig server;
  std::vector<SeedAccount> accounts;
  AuthConfig auth;
  IrcConfig irc;
  XmppConfig xmpp;
  SipConfig sip;
  PsycConfig psyc;
  LineConfig line;
  HttpConfig http;
  std::vector<BridgeConfig> bridges;
};

// The SIP domain: sip.domain, else server.domain. Also the digest realm.
inline const std::string& sip_domain(const Config& c) { return c.sip.domain.empty() ? c.server.domain : c.sip.domain; }

}  // namespace parley::config

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

// An IRC network the gateway (and later bridges) may connect out to. A gateway address
// names it by `name` or by `host` (#chan%libera@gw or #chan%irc.libera.chat@gw).
struct IrcNetwork {
  std::string name;
  std::string host;
  std::uint16_t port = 6697;
  bool tls = true;
  bool verify = true;    // TLS certificate chain + host name check (off only by explicit choice)
  // SHA-256 of the server certificate (DER), hex (colons and case ignored, as `openssl x509
  // -fingerprint -sha256` prints it). Set: it must match - in addition to the chain check
  // with verify: true, instead of it with verify: false (a self-signed network). "": no pin.
  std::string fingerprint;
  std::string password;  // server password (PASS), empty: none
  std::string sasl_user, sasl_password;  // sasl: {user, password}; empty user: no SASL
  std::string encoding;  // fallback for lines that are not UTF-8: "" (latin1) | latin1 | reject
  // Outgoing throttle (token bucket): `burst` lines at once, then one per interval_ms.
  // throttle: off -> burst 0 (no throttle).
  std::size_t throttle_burst = 5;
  std::size_t throttle_interval_ms = 2000;
  // WEBIRC (https://ircv3.net/specs/extensions/webirc): `WEBIRC password gateway hostname
  // ip` before NICK/USER, with the XMPP user's address, so that the network sees (and can
  // ban) the user rather than the gateway. webirc: {password, gateway}; empty password:
  // not sent. No space, CR, LF or NUL in either (the loader refuses them).
  std::string webirc_password;
  std::string webirc_gateway = "parley";
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
  // Biboumi-style gateway addresses (#chan%network@gateway_domain) on Parley's own XMPP
  // server; empty in the file: "irc." + server.domain.
  std::string gateway_domain;
  // false: only networks[] may be reached through the gateway; true: any host (TLS 6697).
  bool open_networks = false;
  // With open_networks: a host that resolves to a loopback, private, link-local, multicast
  // or otherwise non-public address is refused (the gateway must not become a way into
  // the operator's network); true allows them (tests on loopback, a LAN-only deployment).
  bool open_networks_allow_private = false;
  // RFC 1413 identd for the gateway's IRC connections (irc.identd): answers a network's
  // ident query for a puppet's connection with that user's ident (the USER name), and
  // NO-USER for anything else. listen empty: off. Connections at once and seconds one may
  // stay open are bounded.
  std::vector<ListenAddress> identd_listen;
  std::size_t identd_max_connections = 32;
  std::size_t identd_timeout = 10;
  std::vector<IrcNetwork> networks;
  // Gateway bounds: IRC connections one XMPP user may hold (one per network), lines
  // queued toward one IRC connection while it is down or throttled (more: refused with an
  // error to the XMPP sender, never dropped silently).
  std::size_t gateway_max_links_per_user = 10;
  std::size_t gateway_queue = 200;
  // The gateway's channel archive (XEP-0045 history on join, XEP-0313 MAM): whether
  // Parley's own gateway_domain records channel lines (a component uses
  // xmpp.component.record_history), how many lines are kept per channel, how many at most
  // a join replays, and the largest MAM page.
  bool gateway_record_history = true;
  std::size_t gateway_history_keep = 1000;
  std::size_t gateway_history_join = 20;
  std::size_t gateway_mam_page_max = 100;
  // XEP-0050 ad-hoc commands on the gateway: bare JIDs allowed the admin commands (list
  // links, disconnect a user), command sessions one user may hold open (more: the oldest
  // is dropped; an idle one expires after 10 minutes), and lines of a persistent channel
  // (or private messages) kept for the user while no resource of theirs is in it, given
  // as history on the next join (more: the oldest go).
  std::vector<std::string> gateway_admins;
  std::size_t gateway_adhoc_sessions = 5;
  std::size_t gateway_persistent_backlog = 100;
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

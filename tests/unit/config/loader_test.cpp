#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "config/loader.hpp"

using namespace parley::config;

namespace {

std::string all_errors(const Result<Config>& r) { return format(r.errors()); }

// The repository root, from this file's path (CMake compiles with absolute paths).
std::string source_dir() { return PARLEY_SOURCE_DIR; }

// Listen addresses as written back ("tls:..."; "tcp:" left out).
std::vector<std::string> texts(const std::vector<ListenAddress>& list) {
  std::vector<std::string> out;
  for (const auto& a : list) out.push_back(a.str());
  return out;
}

bool has_error(const Result<Config>& r, const std::string& needle) {
  return all_errors(r).find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("the shipped config/parley.yaml loads cleanly with every protocol on loopback") {
  auto r = load_file(source_dir() + "/config/parley.yaml");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const Config& c = r.value();
  CHECK(c.server.domain == "localhost");
  CHECK(c.server.data_dir == "./var");
  CHECK(c.irc.enabled);
  CHECK(c.irc.guests);
  CHECK(texts(c.irc.listen) == std::vector<std::string>{"127.0.0.1:6667"});
  CHECK(c.xmpp.enabled);
  CHECK(texts(c.xmpp.c2s.listen) == std::vector<std::string>{"127.0.0.1:5222"});
  CHECK(c.xmpp.muc.domain == "conference.localhost");
  CHECK(c.sip.enabled);
  REQUIRE(c.sip.listen.size() == 2);
  CHECK(c.sip.listen[0].transport == Transport::udp);
  CHECK(c.sip.listen[1].transport == Transport::tcp);
  CHECK(c.sip.listen[1].endpoint() == "127.0.0.1:5060");
  CHECK(c.psyc.enabled);
  CHECK(texts(c.psyc.listen) == std::vector<std::string>{"127.0.0.1:4404"});
  CHECK_FALSE(c.line.enabled);  // the example plugin is off unless configured
  CHECK(c.http.enabled);        // browsers: WebSocket on loopback, plain and TLS
  CHECK(texts(c.http.listen) == std::vector<std::string>{"127.0.0.1:5280", "tls:127.0.0.1:5281"});
  CHECK(c.http.metrics_listen.empty());
}

TEST_CASE("every key in the shipped config/parley.yaml has a comment") {
  std::ifstream in(source_dir() + "/config/parley.yaml");
  REQUIRE(in);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto first = line.find_first_not_of(' ');
    if (first == std::string::npos || line[first] == '#') continue;
    auto colon = line.find(':');
    bool is_key = colon != std::string::npos && line.find_first_of(" \"[{", first) > colon;
    if (!is_key) continue;
    INFO("parley.yaml:" << n << ": " << line);
    CHECK(line.find('#') != std::string::npos);
  }
}

TEST_CASE("server.connections, xmpp pre-authentication bounds and their defaults") {
  auto d = load_string("", "t.yaml");
  REQUIRE(d.ok());
  CHECK(d.value().server.connections.per_address == 64);
  CHECK(d.value().server.connections.rate == 10);
  CHECK(d.value().server.connections.burst == 64);
  CHECK(d.value().server.connections.handshake_timeout == 15);
  CHECK(d.value().server.connections.close_timeout == 10);
  CHECK(d.value().xmpp.c2s.auth_timeout == 60);
  CHECK(d.value().xmpp.c2s.limits.preauth_stanza_size == 16384);
  auto r = load_string(
      "server:\n  connections: { per_address: 0, rate: 0, burst: 5, handshake_timeout: 2, close_timeout: 3 "
      "}\n"
      "xmpp:\n  c2s: { auth_timeout: 4, limits: { preauth_stanza_size: 2048 } }\n",
      "t.yaml");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const auto& c = r.value().server.connections;
  CHECK(c.per_address == 0);
  CHECK(c.rate == 0);
  CHECK(c.burst == 5);
  CHECK(c.handshake_timeout == 2);
  CHECK(c.close_timeout == 3);
  CHECK(r.value().xmpp.c2s.auth_timeout == 4);
  CHECK(r.value().xmpp.c2s.limits.preauth_stanza_size == 2048);
  auto bad = load_string("server:\n  connections: { handshake_timeout: 0, burst: 0, bogus: 1 }\n", "t.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "server.connections.handshake_timeout: expected an integer in 1..3600, got 0"));
  CHECK(has_error(bad, "server.connections.burst: expected an integer in 1..1000000, got 0"));
  CHECK(has_error(bad, "unknown key 'bogus'"));
}

TEST_CASE("server.domain must be a DNS name or an IP address and seed accounts are unique") {
  auto r = load_string("server: { domain: \"bad domain\" }\naccounts: [ { user: a, password: x }, { user: a, password: y } ]\n", "t");
  REQUIRE_FALSE(r.ok());
  CHECK(has_error(r, "server.domain: expected a DNS name or an IP address, got 'bad domain'"));
  CHECK(has_error(r, "accounts[1].user: duplicate seed account 'a'"));
  for (const char* good : {"localhost", "chat.example.org", "127.0.0.1", "::1", "a-b.c"}) {
    INFO(good);
    CHECK(load_string(std::string("server: { domain: \"") + good + "\" }\n", "t").ok());
  }
  for (const char* bad : {"-a.org", "a..org", "a.org-", "alice@example.org", "a/b"}) {
    INFO(bad);
    CHECK_FALSE(load_string(std::string("server: { domain: \"") + bad + "\" }\n", "t").ok());
  }
}

TEST_CASE("a syntax error points at its line") {
  auto r = load_string("server:\n  domain: x\nirc:\n  listen: [\"127.0.0.1:6667\"\n  guests: true\n", "bad.yaml");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors().size() == 1);
  CHECK(r.errors()[0].file == "bad.yaml");
  CHECK(r.errors()[0].line >= 4);
  CHECK(r.errors()[0].str().rfind("bad.yaml:", 0) == 0);
  CHECK(has_error(r, "YAML syntax error"));
}

TEST_CASE("an unknown key is named with the keys that were expected and its position") {
  auto r = load_string("irc:\n  listn: [\"127.0.0.1:6667\"]\n", "t.yaml");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors().size() == 1);
  const auto& d = r.errors()[0];
  CHECK(d.line == 2);
  CHECK(d.column == 3);
  CHECK(d.key == "irc.listn");
  CHECK(d.message.find("unknown key 'listn' in irc; expected one of: ") == 0);
  CHECK(d.message.find("listen, server_name") != std::string::npos);
  CHECK(d.str().rfind("t.yaml:2:3: irc.listn: unknown key 'listn'", 0) == 0);
}

TEST_CASE("unknown top-level and nested keys") {
  auto r = load_string("serverr: {}\nxmpp:\n  c2s:\n    tls: { crt: a }\n", "t.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(has_error(r, "t.yaml:1:1: serverr: unknown key 'serverr' in the top level; expected one of: server"));
  CHECK(has_error(r, "xmpp.c2s.tls.crt: unknown key 'crt' in xmpp.c2s.tls; expected one of: cert, key"));
}

TEST_CASE("type errors name the expected type") {
  auto r = load_string(
      "server:\n  threads: many\n  log_level: loud\nirc:\n  guests: maybe\n  listen: \"127.0.0.1:6667\"\n"
      "  motd: [a]\n",
      "t.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.errors().size() == 5);
  CHECK(has_error(r, "t.yaml:2:12: server.threads: expected an integer in 0..1024, got 'many'"));
  CHECK(has_error(r, "server.log_level: unknown value 'loud'; expected one of: trace, debug, info"));
  CHECK(has_error(r, "t.yaml:5:11: irc.guests: expected a boolean (true or false), got 'maybe'"));
  CHECK(has_error(r, "irc.listen: expected a list of strings, got a scalar"));
  CHECK(has_error(r, "irc.motd: expected a string, got a list"));
}

TEST_CASE("server.log_format is text or json") {
  auto d = load_string("server:\n  domain: x\n", "t.yaml");
  REQUIRE(d.ok());
  CHECK(d.value().server.log_format == "text");
  auto j = load_string("server:\n  log_format: json\n", "t.yaml");
  REQUIRE(j.ok());
  CHECK(j.value().server.log_format == "json");
  auto bad = load_string("server:\n  log_format: xml\n", "t.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "t.yaml:2:15: server.log_format: unknown value 'xml'; expected one of: text, json"));
}

TEST_CASE("server.control_socket: off when absent, a bounded path, bounded clients") {
  auto d = load_string("server:\n  domain: x\n", "t.yaml");
  REQUIRE(d.ok());
  CHECK(d.value().server.control_socket.empty());
  CHECK(d.value().server.control_clients == 8);
  auto s = load_string("server:\n  control_socket: /run/parley/control\n  control_clients: 2\n", "t.yaml");
  REQUIRE(s.ok());
  CHECK(s.value().server.control_socket == "/run/parley/control");
  CHECK(s.value().server.control_clients == 2);
  auto longp = load_string("server:\n  control_socket: /" + std::string(120, 'a') + "\n", "t.yaml");
  REQUIRE_FALSE(longp.ok());
  CHECK(has_error(longp, "server.control_socket: a unix socket path is at most 107 bytes"));
  auto none = load_string("server:\n  control_clients: 0\n", "t.yaml");
  REQUIRE_FALSE(none.ok());
  CHECK(has_error(none, "server.control_clients: expected an integer in 1..1024, got 0"));
}

TEST_CASE("integers out of range are errors") {
  auto r = load_string("irc:\n  networks:\n    - { name: n, host: h, port: 70000 }\n", "t.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(has_error(r, "irc.networks[0].port: expected an integer in 1..65535, got 70000"));
}

TEST_CASE("bad listen addresses are reported per entry") {
  auto r = load_string(
      "irc:\n  listen: [\"127.0.0.1:6667\", \"localhost:6667\", \"::1:6667\", \"127.0.0.1:0\"]\n"
      "sip:\n  listen: [\"127.0.0.1:5060\"]\n",
      "t.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.errors().size() == 4);
  CHECK(has_error(r, "irc.listen[1]: invalid listen address 'localhost:6667' (host is not an IP address)"));
  CHECK(has_error(r, "irc.listen[2]: invalid listen address '::1:6667' (IPv6 addresses must be bracketed)"));
  CHECK(has_error(r, "irc.listen[3]: invalid listen address '127.0.0.1:0' (port must be 1..65535)"));
  CHECK(has_error(r, "sip.listen[0]: invalid listen address '127.0.0.1:5060' (missing transport prefix)"));
}

TEST_CASE("an absent or empty protocol section disables it and a present one enables it") {
  auto r = load_string("server: { domain: example.org }\nirc:\nxmpp: {}\npsyc: { listen: [\"127.0.0.1:4404\"] }\n", "t");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK_FALSE(r->irc.enabled);
  CHECK_FALSE(r->xmpp.enabled);
  CHECK_FALSE(r->sip.enabled);
  CHECK(r->psyc.enabled);
  CHECK(r->xmpp.muc.domain == "conference.example.org");
  CHECK(r->sip.domain == "example.org");
}

TEST_CASE("the psyc section: limits, guests, peers, defaults and bounds") {
  auto d = load_string("psyc: { listen: [\"127.0.0.1:4404\"] }\n", "t");
  REQUIRE(d);
  CHECK(d->psyc.guests);
  CHECK(d->psyc.sendq == 512 * 1024);
  CHECK(d->psyc.idle_timeout == 300);
  CHECK(d->psyc.rate == 10);
  CHECK(d->psyc.burst == 20);
  CHECK(d->psyc.peer_queue == 1000);
  CHECK(d->psyc.peer_members == 10000);
  CHECK(d->psyc.peer_backoff_max == 60);
  CHECK(d->psyc.limits.max_name == 64);
  CHECK(d->psyc.limits.max_value == 8192);
  CHECK(d->psyc.limits.max_content == 65536);
  CHECK(d->psyc.limits.max_modifiers == 64);
  auto r = load_string(
      "psyc:\n  listen: [\"127.0.0.1:4404\"]\n  guests: false\n  idle_timeout: 60\n"
      "  peers: [ { host: b.example, port: 4405, uniform: \"psyc://b.example\", secret: s } ]\n"
      "  limits: { max_name: 32, max_value: 1024, max_content: 4096, max_modifiers: 16 }\n"
      "  peer_queue: 5\n  peer_members: 7\n  peer_backoff_max: 2\n",
      "t");
  REQUIRE(r);
  CHECK(r->psyc.peer_queue == 5);
  CHECK(r->psyc.peer_members == 7);
  CHECK(r->psyc.peer_backoff_max == 2);
  CHECK_FALSE(load_string("psyc: { listen: [\"127.0.0.1:4404\"], peer_members: 0 }\n", "t"));
  CHECK_FALSE(r->psyc.guests);
  CHECK(r->psyc.idle_timeout == 60);
  REQUIRE(r->psyc.peers.size() == 1);
  CHECK(r->psyc.peers[0].uniform == "psyc://b.example");
  CHECK(r->psyc.peers[0].secret == "s");
  CHECK(r->psyc.limits.max_name == 32);
  CHECK(r->psyc.limits.max_value == 1024);
  CHECK(r->psyc.limits.max_content == 4096);
  CHECK(r->psyc.limits.max_modifiers == 16);
  auto bad = load_string("psyc: { listen: [\"127.0.0.1:4404\"], limits: { max_modifiers: 1, maxname: 3 } }\n", "t");
  CHECK_FALSE(bad);
  CHECK(bad.errors().size() == 2);
}

TEST_CASE("psyc peers over TLS: tls, verify and a pinned fingerprint, checked as irc.networks[]") {
  const std::string fp(64, 'a');
  auto r = load_string(
      "psyc:\n  listen: [\"127.0.0.1:4404\"]\n  peers:\n"
      "    - { host: b, uniform: \"psyc://b\", secret: s, tls: true, verify: false, fingerprint: \"" +
          fp + "\" }\n    - { host: c, secret: s }\n",
      "t");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  REQUIRE(r->psyc.peers.size() == 2);
  CHECK(r->psyc.peers[0].tls);
  CHECK_FALSE(r->psyc.peers[0].verify);
  CHECK(r->psyc.peers[0].fingerprint == fp);
  CHECK_FALSE(r->psyc.peers[1].tls);  // defaults: plain TCP; with tls the chain is verified
  CHECK(r->psyc.peers[1].verify);
  CHECK(r->psyc.peers[1].fingerprint.empty());
  auto bad = load_string(
      "psyc:\n  peers:\n    - { host: b, secret: s, tls: true, fingerprint: \"12:34\" }\n"
      "    - { host: c, secret: s, fingerprint: \"" +
          fp + "\" }\n",
      "t");
  CHECK(has_error(bad, "psyc.peers[0].fingerprint: expected a SHA-256 fingerprint: 64 hex digits"));
  CHECK(has_error(bad, "psyc.peers[1].fingerprint: a certificate fingerprint needs tls: true"));
}

TEST_CASE("the line plugin's section is read and bounded") {
  auto r = load_string("line: { listen: [\"127.0.0.1:7777\"], guests: false, max_line: 1024 }\n", "t");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r->line.enabled);
  CHECK(texts(r->line.listen) == std::vector<std::string>{"127.0.0.1:7777"});
  CHECK_FALSE(r->line.guests);
  CHECK(r->line.max_line == 1024);
  CHECK(r->line.sendq == 256 * 1024);
  auto bad = load_string("line: { listen: [\"127.0.0.1:7777\"], max_line: 10 }\n", "t");
  CHECK_FALSE(bad.ok());
  auto clash = load_string("irc: { listen: [\"127.0.0.1:7000\"] }\nline: { listen: [\"127.0.0.1:7000\"] }\n", "t");
  CHECK_FALSE(clash.ok());
}

TEST_CASE("the http section: listen, metrics_listen, limits with defaults and ranges") {
  auto r = load_string(
      "http: { listen: [\"127.0.0.1:5280\", \"tls:127.0.0.1:5281\"], metrics_listen: [\"127.0.0.1:9280\"],\n"
      "        limits: { header_bytes: 4096, websocket_message: 65536 } }\n",
      "t");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r->http.enabled);
  CHECK(texts(r->http.listen) == std::vector<std::string>{"127.0.0.1:5280", "tls:127.0.0.1:5281"});
  CHECK(texts(r->http.metrics_listen) == std::vector<std::string>{"127.0.0.1:9280"});
  CHECK(r->http.limits.header_bytes == 4096);
  CHECK(r->http.limits.websocket_message == 65536);
  CHECK(r->http.limits.body_bytes == 64 * 1024);
  CHECK(r->http.limits.read_timeout == 10);
  CHECK(r->http.limits.idle_timeout == 30);
  CHECK(r->http.limits.requests_per_connection == 100);
  CHECK(r->http.limits.websocket_fragments == 64);
  CHECK(r->http.limits.write_queue == 1024 * 1024);
  CHECK_FALSE(load_string("http: { listen: [\"127.0.0.1:5280\"], limits: { header_bytes: 10 } }\n", "t").ok());
  CHECK_FALSE(load_string("http: { listen: [\"127.0.0.1:5280\"], limits: { read_timeout: 0 } }\n", "t").ok());
  CHECK_FALSE(load_string("http: { listen: [\"127.0.0.1:5280\"], limits: { bogus: 1 } }\n", "t").ok());
  // metrics_listen may not reuse another listener's address.
  CHECK_FALSE(load_string("http: { listen: [\"127.0.0.1:5280\"], metrics_listen: [\"127.0.0.1:5280\"] }\n", "t").ok());
  CHECK_FALSE(load_string("irc: { listen: [\"127.0.0.1:7000\"] }\nhttp: { listen: [\"127.0.0.1:7000\"] }\n", "t").ok());
}

TEST_CASE("http.bosh: defaults, values and ranges") {
  auto d = load_string("http: { listen: [\"127.0.0.1:5280\"] }\n", "t");
  REQUIRE(d.ok());
  CHECK(d->http.bosh.sessions_per_address == 5);
  CHECK(d->http.bosh.max_sessions == 1000);
  CHECK(d->http.bosh.hold_max == 2);
  CHECK(d->http.bosh.wait_max == 60);
  CHECK(d->http.bosh.inactivity == 60);
  CHECK(d->http.bosh.queued_bytes == 256 * 1024);
  CHECK(d->http.bosh.allow_origin.empty());
  auto r = load_string(
      "http: { listen: [\"127.0.0.1:5280\"], bosh: { sessions_per_address: 2, hold_max: 1, wait_max: 30,\n"
      "        inactivity: 10, queued_bytes: 65536, max_sessions: 50, allow_origin: \"*\" } }\n",
      "t");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r->http.bosh.sessions_per_address == 2);
  CHECK(r->http.bosh.hold_max == 1);
  CHECK(r->http.bosh.wait_max == 30);
  CHECK(r->http.bosh.inactivity == 10);
  CHECK(r->http.bosh.queued_bytes == 65536);
  CHECK(r->http.bosh.max_sessions == 50);
  CHECK(r->http.bosh.allow_origin == "*");
  CHECK_FALSE(load_string("http: { listen: [\"127.0.0.1:5280\"], bosh: { hold_max: 0 } }\n", "t").ok());
  CHECK_FALSE(load_string("http: { listen: [\"127.0.0.1:5280\"], bosh: { wait_max: 301 } }\n", "t").ok());
  CHECK_FALSE(load_string("http: { listen: [\"127.0.0.1:5280\"], bosh: { bogus: 1 } }\n", "t").ok());
}

TEST_CASE("enabled: false switches a section off") {
  auto r = load_string("irc: { enabled: false, listen: [\"127.0.0.1:6667\"] }\n", "t");
  REQUIRE(r.ok());
  CHECK_FALSE(r->irc.enabled);
  CHECK(r->irc.listen.size() == 1);
}

TEST_CASE("an empty file is a valid config with every protocol off") {
  auto r = load_string("", "t");
  REQUIRE(r.ok());
  CHECK(r->server.domain == "localhost");
  CHECK_FALSE(r->irc.enabled);
}

TEST_CASE("every error in the file is reported and not only the first") {
  auto r = load_string(
      "server: { domain: \"\" }\naccounts:\n  - { user: alice }\n  - { user: bob, password: x, admin: true }\n"
      "bridges:\n  - { name: b, mode: sideways, rooms: [one] }\n",
      "t.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(has_error(r, "server.domain: expected a non-empty string"));
  CHECK(has_error(r, "t.yaml:3:5: accounts[0].password: missing required key"));
  CHECK(has_error(r, "accounts[1].admin: unknown key 'admin'"));
  CHECK(has_error(r, "bridges[0].mode: unknown value 'sideways'; expected one of: relay, puppet"));
  CHECK(has_error(r, "bridges[0].rooms: expected a list of at least two room addresses"));
  CHECK(r.errors().size() == 5);
}

TEST_CASE("duplicate keys and clashing listeners") {
  auto r = load_string(
      "irc:\n  guests: true\n  guests: false\n  listen: [\"127.0.0.1:7000\"]\npsyc:\n  listen: [\"127.0.0.1:7000\"]\n", "t");
  REQUIRE_FALSE(r.ok());
  CHECK(has_error(r, "t:3:3: irc.guests: duplicate key 'guests'"));
  auto r2 = load_string("irc:\n  listen: [\"127.0.0.1:7000\"]\npsyc:\n  listen: [\"127.0.0.1:7000\"]\n", "t");
  REQUIRE_FALSE(r2.ok());
  CHECK(has_error(r2, "t:4:11: psyc.listen: address 127.0.0.1:7000 is also used by irc.listen"));
  // SIP over UDP and TCP may share a port.
  auto r3 = load_string("sip:\n  listen: [\"udp:127.0.0.1:5060\", \"tcp:127.0.0.1:5060\"]\n", "t");
  CHECK(r3.ok());
}

TEST_CASE("xmpp tls cert and key go together and a component needs a valid server") {
  auto r = load_string(
      "xmpp:\n  c2s: { tls: { cert: /x.pem } }\n  component: { domain: irc.example.org, server: nowhere, secret: s }\n",
      "t");
  REQUIRE_FALSE(r.ok());
  CHECK(has_error(r, "xmpp.c2s.tls.key: cert and key must be given together"));
  CHECK(has_error(r, "xmpp.component.server: invalid server address 'nowhere' (missing :PORT)"));
}

TEST_CASE("a missing file is one error naming it") {
  auto r = load_file("/nonexistent/parley.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.errors()[0].str() == "/nonexistent/parley.yaml: cannot open the config file");
}

TEST_CASE("irc.max_lines_per_message: default, value and range") {
  auto r = load_string("irc: { listen: [\"127.0.0.1:6667\"] }\n", "t");
  REQUIRE(r.ok());
  CHECK(r->irc.max_lines_per_message == 10);
  r = load_string("irc: { max_lines_per_message: 3 }\n", "t");
  REQUIRE(r.ok());
  CHECK(r->irc.max_lines_per_message == 3);
  r = load_string("irc: { max_lines_per_message: 0 }\n", "t");
  REQUIRE_FALSE(r.ok());
  CHECK(has_error(r, "irc.max_lines_per_message: expected an integer in 1..1000, got 0"));
}

TEST_CASE("the auth section: defaults, values and ranges") {
  auto d = load_string("", "t.yaml");
  REQUIRE(d.ok());
  CHECK(d.value().auth.workers == 1);
  CHECK(d.value().auth.max_failures_per_connection == 3);
  CHECK(d.value().auth.throttle.window == 60);
  CHECK(d.value().auth.throttle.address_failures == 10);
  CHECK(d.value().auth.throttle.account_failures == 20);
  auto r = load_string(
      "auth:\n  workers: 2\n  max_failures_per_connection: 5\n  throttle: { window: 30, address_failures: 0, "
      "account_failures: 7, account_delay_ms: 250, max_tracked: 500 }\n",
      "t.yaml");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r.value().auth.workers == 2);
  CHECK(r.value().auth.max_failures_per_connection == 5);
  CHECK(r.value().auth.throttle.window == 30);
  CHECK(r.value().auth.throttle.address_failures == 0);
  CHECK(r.value().auth.throttle.account_failures == 7);
  CHECK(r.value().auth.throttle.account_delay_ms == 250);
  CHECK(r.value().auth.throttle.max_tracked == 500);
  auto bad = load_string("auth:\n  workers: 0\n  throttle: { windw: 3 }\n", "t.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "auth.workers: expected an integer in 1..16, got 0"));
  CHECK(has_error(bad, "auth.throttle.windw: unknown key 'windw'"));
}

TEST_CASE("hashed IRC passwords must be well formed") {
  auto ok = load_string(
      "irc:\n  opers: [ { name: o, password: \"$pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" } ]\n",
      "t.yaml");
  INFO(all_errors(ok));
  CHECK(ok.ok());
  auto bad = load_string(
      "irc:\n  password: \"$pbkdf2-sha256$x$y$z\"\n  opers: [ { name: o, password: \"$pbkdf2-sha256$1$\" } ]\n",
      "t.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "irc.password: malformed password hash"));
  CHECK(has_error(bad, "irc.opers[0].password: malformed password hash"));
}

TEST_CASE("flood control and storage limits: defaults, values and ranges") {
  auto d = load_string("xmpp: { c2s: { listen: [\"127.0.0.1:5222\"] } }\n", "t.yaml");
  REQUIRE(d.ok());
  CHECK(d->server.limits.max_rooms == 100);
  CHECK(d->server.limits.offline_sender_share == 25);
  CHECK(d->server.store_queue == 4096);
  CHECK(d->xmpp.c2s.rate.bytes_per_second == 65536);
  CHECK(d->xmpp.c2s.max_unacked == 5000);

  auto r = load_string(
      "server:\n  store_queue: 16\n  limits: { max_rooms: 5, roster_size: 10, offline_messages: 20, "
      "offline_bytes: 4096,"
      " offline_sender_share: 50 }\n"
      "xmpp:\n  c2s:\n    rate: { bytes_per_second: 0, burst: 10, stanzas_per_second: 7, stanza_burst: 9 }\n"
      "    core_queue: 8\n    max_unacked: 30\n    max_unacked_bytes: 40000\n",
      "t.yaml");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const auto& l = r->server.limits;
  CHECK(r->server.store_queue == 16);
  CHECK((l.max_rooms == 5 && l.roster_size == 10 && l.offline_messages == 20 && l.offline_bytes == 4096 &&
         l.offline_sender_share == 50));
  const auto& c = r->xmpp.c2s;
  CHECK((c.rate.bytes_per_second == 0 && c.rate.burst == 10 && c.rate.stanzas_per_second == 7 &&
         c.rate.stanza_burst == 9));
  CHECK((c.core_queue == 8 && c.max_unacked == 30 && c.max_unacked_bytes == 40000));

  auto bad = load_string(
      "server:\n  store_queue: 0\n  limits: { offline_sender_share: 0, max_rooms: 0, bogus: 1 }\n", "t.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "server.limits.offline_sender_share: expected an integer in 1..100, got 0"));
  CHECK(has_error(bad, "server.limits.max_rooms: expected an integer in 1..1000000, got 0"));
  CHECK(has_error(bad, "server.limits.bogus: unknown key 'bogus'"));
  CHECK(has_error(bad, "server.store_queue: expected an integer in 1..1000000, got 0"));
}

TEST_CASE("irc gateway keys: networks with sasl, throttle, gateway_domain default") {
  auto r = load_string(
      "server:\n  domain: example.org\n"
      "irc:\n  open_networks: true\n  networks:\n"
      "    - { name: libera, host: irc.libera.chat, verify: false, password: pw,\n"
      "        sasl: { user: u, password: p }, encoding: reject, throttle: { burst: 3, interval_ms: 500 } }\n"
      "    - { name: local, host: 127.0.0.1, port: 6667, tls: false, throttle: off }\n",
      "t.yaml");
  REQUIRE(r.ok());
  const auto& irc = r.value().irc;
  CHECK(irc.gateway_domain == "irc.example.org");
  CHECK(irc.open_networks);
  REQUIRE(irc.networks.size() == 2);
  CHECK_FALSE(irc.networks[0].verify);
  CHECK(irc.networks[0].password == "pw");
  CHECK(irc.networks[0].sasl_user == "u");
  CHECK(irc.networks[0].sasl_password == "p");
  CHECK(irc.networks[0].encoding == "reject");
  CHECK(irc.networks[0].throttle_burst == 3);
  CHECK(irc.networks[0].throttle_interval_ms == 500);
  CHECK(irc.networks[1].verify);
  CHECK(irc.networks[1].throttle_burst == 0);
  auto bad = load_string("irc:\n  networks:\n    - { name: n, host: h, throttle: on, sasl: { user: u } }\n", "t.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "irc.networks[0].throttle: unknown value 'on'; expected one of: off"));
  CHECK(has_error(bad, "irc.networks[0].sasl.password"));
  auto d = load_string("irc:\n  gateway_domain: gw.example\n", "t.yaml");
  REQUIRE(d.ok());
  CHECK(d.value().irc.gateway_domain == "gw.example");
  CHECK_FALSE(d.value().irc.open_networks);
}

TEST_CASE("irc gateway ad-hoc keys: admins, sessions, persistent backlog") {
  auto d = load_string("irc: {}\n", "t.yaml");
  REQUIRE(d.ok());
  CHECK(d.value().irc.gateway_admins.empty());
  CHECK(d.value().irc.gateway_adhoc_sessions == 5);
  CHECK(d.value().irc.gateway_persistent_backlog == 100);
  auto r = load_string(
      "irc:\n  gateway_admins: [root@example.org]\n  gateway_adhoc_sessions: 2\n"
      "  gateway_persistent_backlog: 0\n",
      "t.yaml");
  REQUIRE(r.ok());
  CHECK(r.value().irc.gateway_admins == std::vector<std::string>{"root@example.org"});
  CHECK(r.value().irc.gateway_adhoc_sessions == 2);
  CHECK(r.value().irc.gateway_persistent_backlog == 0);
  auto bad = load_string("irc:\n  gateway_adhoc_sessions: 0\n", "t.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "irc.gateway_adhoc_sessions"));
}

TEST_CASE("the sip section's limits are read and bounded") {
  auto r = load_string(
      "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  register_expires: { min: 30, max: 600, default: 120 }\n"
      "  max_request: 4096\n  max_message: 1000\n  max_bindings: 3\n  nonce_lifetime: 60\n"
      "  requests_per_second: 7\n  max_pending: 100\n  tls: { cert: c.pem, key: k.pem }\n"
      "  federation: [ { domain: sip.example.org, proxy: \"udp:192.0.2.1:5060\", user: u, password: p } ]\n",
      "t");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r->sip.register_expires.min == 30);
  CHECK(r->sip.register_expires.max == 600);
  CHECK(r->sip.register_expires.default_ == 120);
  CHECK(r->sip.max_request == 4096);
  CHECK(r->sip.max_message == 1000);
  CHECK(r->sip.max_bindings == 3);
  CHECK(r->sip.nonce_lifetime == 60);
  CHECK(r->sip.requests_per_second == 7);
  CHECK(r->sip.max_pending == 100);
  CHECK(r->sip.tls.cert == "c.pem");
  REQUIRE(r->sip.federation.size() == 1);
  CHECK(r->sip.federation[0].user == "u");
  CHECK(r->sip.federation[0].password == "p");

  auto d = load_string("sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n", "t");
  REQUIRE(d.ok());
  CHECK(d->sip.register_expires.min == 60);
  CHECK(d->sip.register_expires.max == 3600);
  CHECK(d->sip.max_message == 4096);

  auto bad = load_string(
      "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  register_expires: { min: 700, max: 600, default: 650 }\n"
      "  max_request: 100\n  tls: { cert: c.pem }\n",
      "t");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "sip.register_expires.min: min must not exceed max"));
  CHECK(has_error(bad, "sip.max_request: expected an integer in 1024..65535, got 100"));
  CHECK(has_error(bad, "sip.tls.key: cert and key must be given together"));
}

TEST_CASE("xmpp.component: record_history defaults to true and reads a boolean") {
  auto r = load_string("xmpp:\n  component: { domain: irc.example.org, server: \"127.0.0.1:5347\", secret: s }\n", "t");
  REQUIRE(r.ok());
  CHECK(r->xmpp.component.record_history);
  CHECK(r->xmpp.component.server == "127.0.0.1:5347");
  auto r2 = load_string(
      "xmpp:\n  component: { domain: irc.example.org, server: \"127.0.0.1:5347\", secret: s, record_history: false }\n",
      "t");
  REQUIRE(r2.ok());
  CHECK_FALSE(r2->xmpp.component.record_history);
}

TEST_CASE("the sip section's presence limits are read and bounded") {
  auto r = load_string(
      "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  event_expires: { min: 10, max: 300, default: 200 }\n"
      "  max_subscriptions: 5\n  max_publications: 2\n  notify_interval_ms: 0\n  udp_buffer: 0\n",
      "t");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r->sip.event_expires.min == 10);
  CHECK(r->sip.event_expires.max == 300);
  CHECK(r->sip.event_expires.default_ == 200);
  CHECK(r->sip.max_subscriptions == 5);
  CHECK(r->sip.max_publications == 2);
  CHECK(r->sip.notify_interval_ms == 0);
  CHECK(r->sip.udp_buffer == 0);
  auto d = load_string("sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n", "t");
  REQUIRE(d.ok());
  CHECK(d->sip.event_expires.min == 60);
  CHECK(d->sip.max_subscriptions == 100);
  CHECK(d->sip.notify_interval_ms == 200);
  CHECK(d->sip.udp_buffer == 32u << 20);
  auto bad = load_string(
      "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  event_expires: { min: 100, max: 50, default: 60 }\n"
      "  max_subscriptions: 0\n  udp_buffer: 1000000000\n",
      "t");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "sip.event_expires.min: min must not exceed max"));
  CHECK(has_error(bad, "sip.max_subscriptions: expected an integer in 1..100000, got 0"));
  CHECK(has_error(bad, "sip.udp_buffer: expected an integer in 0..268435456, got 1000000000"));
}

TEST_CASE("http.websocket.allowed_origins: default any, a list of origins, bare hosts refused") {
  auto d = load_string("http: { listen: [\"127.0.0.1:5280\"] }\n", "t");
  REQUIRE(d.ok());
  CHECK(d->http.websocket.allowed_origins.empty());
  auto r = load_string(
      "http: { listen: [\"127.0.0.1:5280\"],\n"
      "        websocket: { allowed_origins: [\"https://chat.example\", \"http://localhost:8080\"] } }\n",
      "t");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r->http.websocket.allowed_origins ==
        std::vector<std::string>{"https://chat.example", "http://localhost:8080"});
  CHECK_FALSE(
      load_string("http: { listen: [\"127.0.0.1:5280\"], websocket: { allowed_origins: [chat.example] } }\n",
                  "t")
          .ok());
  CHECK_FALSE(load_string("http: { listen: [\"127.0.0.1:5280\"], websocket: { allowed_origins: [\"https://a, "
                          "https://b\"] } }\n",
                          "t")
                  .ok());
  CHECK_FALSE(load_string("http: { listen: [\"127.0.0.1:5280\"], websocket: { bogus: 1 } }\n", "t").ok());
}

TEST_CASE("irc.gateway_record_history and the archive bounds: defaults, values, ranges") {
  auto r = load_string("irc: {}\n", "t");
  REQUIRE(r.ok());
  CHECK(r->irc.gateway_record_history);
  CHECK(r->irc.gateway_history_keep == 1000);
  CHECK(r->irc.gateway_history_join == 20);
  CHECK(r->irc.gateway_mam_page_max == 100);
  auto r2 = load_string(
      "irc: { gateway_record_history: false, gateway_history_keep: 50, gateway_history_join: 0, "
      "gateway_mam_page_max: 10 }\n",
      "t");
  REQUIRE(r2.ok());
  CHECK_FALSE(r2->irc.gateway_record_history);
  CHECK(r2->irc.gateway_history_keep == 50);
  CHECK(r2->irc.gateway_history_join == 0);
  CHECK(r2->irc.gateway_mam_page_max == 10);
  CHECK_FALSE(load_string("irc: { gateway_history_keep: 0 }\n", "t").ok());
  CHECK_FALSE(load_string("irc: { gateway_mam_page_max: 5000 }\n", "t").ok());
}

// ---- bridges[] (config/bridges_config.cpp, config/bridge_room.cpp) ----

namespace {
const char* kBridgeBase =
    "irc:\n  networks:\n    - { name: libera, host: irc.libera.chat }\n"
    "xmpp:\n  muc: { domain: conference.localhost }\n"
    "  component: { domain: irc.example.org, server: \"127.0.0.1:5347\", secret: s }\n";
}

TEST_CASE("bridges: rooms are parsed into typed endpoints") {
  auto r = load_string(std::string(kBridgeBase) +
                           "bridges:\n  - name: dev\n    mode: puppet\n    prefix: \"[{nick}] \"\n    nick: devbot\n"
                           "    max_puppets: 3\n"
                           "    rooms: [\"irc://Libera/#Parley\", \"xmpp:dev@muc.example.org\", \"parley:#dev\",\n"
                           "            \"xmpp:ops@conference.localhost\", \"irc://irc.libera.chat/%23other\"]\n",
                       "t");
  REQUIRE(r.ok());
  REQUIRE(r->bridges.size() == 1);
  const auto& b = r->bridges[0];
  CHECK(b.mode == "puppet");
  CHECK(b.prefix == "[{nick}] ");
  CHECK(b.nick == "devbot");
  CHECK(b.max_puppets == 3);
  REQUIRE(b.endpoints.size() == 5);
  using K = parley::config::BridgeRoom::Kind;
  CHECK(b.endpoints[0].kind == K::irc);
  CHECK(b.endpoints[0].network == "Libera");
  CHECK(b.endpoints[0].channel == "#parley");
  CHECK(b.endpoints[1].kind == K::muc);
  CHECK(b.endpoints[1].jid == "dev@muc.example.org");
  CHECK(b.endpoints[2].kind == K::local);
  CHECK(b.endpoints[2].room == "dev");
  CHECK(b.endpoints[3].kind == K::local);  // Parley's own MUC domain: a local room
  CHECK(b.endpoints[3].room == "ops");
  CHECK(b.endpoints[4].channel == "#other");
  // defaults
  auto d = load_string(std::string(kBridgeBase) + "bridges:\n  - { name: d, rooms: [\"parley:#a\", \"parley:#b\"] }\n",
                       "t");
  REQUIRE(d.ok());
  CHECK(d->bridges[0].mode == "relay");
  CHECK(d->bridges[0].prefix == "<{nick}> ");
  CHECK(d->bridges[0].max_puppets == 10);
}

TEST_CASE("bridges: bad rooms are precise loader errors") {
  auto r = load_string(std::string(kBridgeBase) +
                           "bridges:\n"
                           "  - { name: a, rooms: [\"irc://oftc/#x\", \"parley:#x\"] }\n"
                           "  - { name: b, rooms: [\"irc://libera/nohash\", \"gopher://x\"] }\n"
                           "  - { name: c, rooms: [\"xmpp:not a jid@\", \"xmpp:room@muc.example.org/res\"] }\n"
                           "  - { name: d, rooms: [\"parley:#Dev\", \"parley:dev\"] }\n"
                           "  - { name: e, rooms: [\"parley:#9bad\", \"parley:#ok\"] }\n"
                           "  - { name: a, rooms: [\"parley:#p\", \"parley:#q\"], prefix: \"a\\r\\nQUIT\", nick: \"9x\" }\n"
                           "  - { name: \"bad name\", rooms: [\"parley:#only\"] }\n",
                       "t");
  REQUIRE_FALSE(r.ok());
  CHECK(has_error(r, "bridges[0].rooms: rooms[0] 'irc://oftc/#x': unknown IRC network 'oftc'; expected a name or "
                     "host of irc.networks (libera)"));
  CHECK(has_error(r, "bridges[1].rooms: rooms[0] 'irc://libera/nohash': 'nohash' is not an IRC channel name"));
  CHECK(has_error(r, "bridges[1].rooms: rooms[1] 'gopher://x': unknown room address"));
  CHECK(has_error(r, "bridges[2].rooms: rooms[0] 'xmpp:not a jid@': expected xmpp:room@muc.domain"));
  CHECK(has_error(r, "bridges[2].rooms: rooms[1] 'xmpp:room@muc.example.org/res': expected xmpp:room@muc.domain"));
  CHECK(has_error(r, "bridges[3].rooms: rooms[1] 'parley:dev': the same room is listed twice"));
  CHECK(has_error(r, "bridges[4].rooms: rooms[0] 'parley:#9bad': '9bad' is not a valid local room name"));
  CHECK(has_error(r, "bridges[5].name: another bridge has the name 'a'"));
  CHECK(has_error(r, "bridges[5].prefix: contains a control character"));
  CHECK(has_error(r, "bridges[5].nick: '9x' is not a valid IRC nick"));
  CHECK(has_error(r, "bridges[6].name: expected at most 32 letters"));
  CHECK(has_error(r, "bridges[6].rooms: expected a list of at least two room addresses"));
}

TEST_CASE("bridges: a remote MUC needs the XEP-0114 component") {
  auto r = load_string("bridges:\n  - { name: a, rooms: [\"xmpp:dev@muc.example.org\", \"parley:#dev\"] }\n", "t");
  REQUIRE_FALSE(r.ok());
  CHECK(has_error(r, "bridges[0].rooms: rooms[0] 'xmpp:dev@muc.example.org': a remote MUC is joined through the "
                     "XEP-0114 component: set xmpp.component"));
  std::string many = "bridges:\n  - name: m\n    rooms: [";
  for (int i = 0; i < 17; ++i) many += std::string(i ? ", " : "") + "\"parley:#r" + std::to_string(i) + "\"";
  auto m = load_string(many + "]\n", "t");
  REQUIRE_FALSE(m.ok());
  CHECK(has_error(m, "bridges[0].rooms: at most 16 rooms per bridge"));
}

TEST_CASE("irc networks: certificate fingerprint pinning") {
  const std::string fp = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
  auto r = load_string("irc:\n  networks:\n    - { name: n, host: h, verify: false, fingerprint: \"" + fp + "\" }\n", "t");
  REQUIRE(r.ok());
  CHECK(r->irc.networks[0].fingerprint == fp);
  CHECK_FALSE(r->irc.networks[0].verify);
  auto bad = load_string(
      "irc:\n  networks:\n    - { name: n, host: h, fingerprint: \"12:34\" }\n"
      "    - { name: m, host: h, tls: false, fingerprint: \"" + fp + "\" }\n", "t");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "irc.networks[0].fingerprint: expected a SHA-256 fingerprint: 64 hex digits"));
  CHECK(has_error(bad, "irc.networks[1].fingerprint: a certificate fingerprint needs tls: true"));
}

TEST_CASE("sip.federation entries: publish list, expires, bounds and backoff are read and checked") {
  auto r = load_string(
      "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n"
      "  federation:\n"
      "    - domain: remote.test\n      proxy: \"tcp:127.0.0.1:5090\"\n      user: parley\n      password: pw\n"
      "      publish: [ { account: alice }, { account: bob, aor: \"sip:robert@remote.test\" } ]\n"
      "      expires: 30\n      max_subscriptions: 7\n      backoff_max: 20\n",
      "t");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  REQUIRE(r->sip.federation.size() == 1);
  const auto& f = r->sip.federation[0];
  CHECK(f.domain == "remote.test");
  CHECK(f.proxy == "tcp:127.0.0.1:5090");
  REQUIRE(f.publish.size() == 2);
  CHECK(f.publish[0].account == "alice");
  CHECK(f.publish[0].aor.empty());
  CHECK(f.publish[1].aor == "sip:robert@remote.test");
  CHECK(f.expires == 30);
  CHECK(f.max_subscriptions == 7);
  CHECK(f.backoff_max == 20);

  auto d = load_string("sip:\n  federation: [ { domain: r.test, proxy: \"udp:127.0.0.1:5090\" } ]\n", "t");
  REQUIRE(d.ok());
  CHECK(d->sip.federation[0].expires == 600);
  CHECK(d->sip.federation[0].max_subscriptions == 1000);
  CHECK(d->sip.federation[0].backoff_max == 300);
  CHECK(d->sip.federation[0].publish.empty());

  auto bad = load_string(
      "sip:\n  federation: [ { domain: r.test, proxy: \"udp:127.0.0.1:5090\", expires: 5, backoff_max: 0,\n"
      "                  max_subscriptions: 0, publish: [ { aor: \"mailto:x@y\" } ] } ]\n",
      "t");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "expires"));
  CHECK(has_error(bad, "backoff_max"));
  CHECK(has_error(bad, "max_subscriptions"));
  CHECK(has_error(bad, "account"));
  CHECK(has_error(bad, "must be a sip: URI"));
}

TEST_CASE("sip.federation proxy: a host name or an IP literal, the port optional") {
  auto r = load_string(
      "sip:\n  listen: [\"udp:127.0.0.1:5060\", \"tls:127.0.0.1:5061\"]\n  federation:\n"
      "    - { domain: a.test, proxy: \"udp:sip.example.org:5060\" }\n"
      "    - { domain: b.test, proxy: \"tcp:proxy.example.org\" }\n"
      "    - { domain: c.test, proxy: \"tls:localhost\" }\n"
      "    - { domain: d.test, proxy: \"udp:[::1]:5070\" }\n"
      "    - { domain: e.test, proxy: \"tcp:192.0.2.1\" }\n",
      "t");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r->sip.federation[1].proxy == "tcp:proxy.example.org");  // kept as written

  auto bad = load_string(
      "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  federation:\n"
      "    - { domain: a.test, proxy: \"udp:bad_host.example.org\" }\n"
      "    - { domain: b.test, proxy: \"sip.example.org:5060\" }\n"
      "    - { domain: c.test, proxy: \"udp:::1:5060\" }\n"
      "    - { domain: d.test, proxy: \"udp:example.org:70000\" }\n"
      "    - { domain: e.test, proxy: \"tls:proxy.example.org\" }\n",
      "t");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad,
                  "sip.federation[0].proxy: invalid proxy address 'udp:bad_host.example.org' (host is "
                  "neither an IP address nor a host name)"));
  CHECK(has_error(bad,
                  "sip.federation[1].proxy: invalid proxy address 'sip.example.org:5060' (missing "
                  "transport prefix)"));
  CHECK(has_error(bad,
                  "sip.federation[2].proxy: invalid proxy address 'udp:::1:5060' (IPv6 addresses must be "
                  "bracketed)"));
  CHECK(
      has_error(bad, "sip.federation[3].proxy: invalid proxy address 'udp:example.org:70000' (port must be"));
  CHECK(has_error(bad, "sip.federation[4].proxy: a tls: proxy needs a tls: address in sip.listen"));
}

TEST_CASE("xmpp.component.server may be a host name") {
  auto r = load_string(
      "xmpp:\n  component: { domain: irc.example.org, server: \"localhost:5347\", secret: s }\n", "t");
  REQUIRE(r.ok());
  CHECK(r->xmpp.component.server == "localhost:5347");
  auto bad = load_string(
      "xmpp:\n  component: { domain: irc.example.org, server: \"bad_host:5347\", secret: s }\n", "t");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "xmpp.component.server: invalid server address 'bad_host:5347'"));
}

TEST_CASE("irc networks: webirc, open_networks_allow_private, identd") {
  auto r = load_string(
      "irc:\n  open_networks: true\n  open_networks_allow_private: true\n"
      "  identd: { listen: [\"127.0.0.1:1113\"], max_connections: 4, timeout: 3 }\n"
      "  networks:\n    - { name: n, host: h, webirc: { password: pw, gateway: gw } }\n"
      "    - { name: m, host: h, webirc: { password: pw } }\n    - { name: o, host: h }\n",
      "t");
  REQUIRE(r.ok());
  CHECK(r->irc.open_networks_allow_private);
  REQUIRE(r->irc.identd_listen.size() == 1);
  CHECK(r->irc.identd_listen[0].port == 1113);
  CHECK(r->irc.identd_max_connections == 4);
  CHECK(r->irc.identd_timeout == 3);
  CHECK(r->irc.networks[0].webirc_password == "pw");
  CHECK(r->irc.networks[0].webirc_gateway == "gw");
  CHECK(r->irc.networks[1].webirc_gateway == "parley");
  CHECK(r->irc.networks[2].webirc_password.empty());
  auto d = load_string("irc:\n  networks: []\n", "t");
  REQUIRE(d.ok());
  CHECK_FALSE(d->irc.open_networks_allow_private);
  CHECK(d->irc.identd_listen.empty());
  auto bad = load_string(
      "irc:\n  identd: { listen: [\"tls:127.0.0.1:1113\"] }\n  networks:\n"
      "    - { name: n, host: h, webirc: { password: \"p w\" } }\n"
      "    - { name: m, host: h, webirc: { gateway: gw } }\n"
      "    - { name: o, host: h, webirc: { password: \":pw\", gateway: \"g\\r\\nQUIT\" } }\n",
      "t");
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad, "irc.identd.listen: identd is plain TCP"));
  CHECK(has_error(bad, "irc.networks[0].webirc.password: expected at most 100 characters with no space"));
  CHECK(has_error(bad, "irc.networks[1].webirc.password: missing required key"));
  CHECK(has_error(bad, "irc.networks[2].webirc.password: expected at most 100 characters"));
  CHECK(has_error(bad, "irc.networks[2].webirc.gateway: expected at most 100 characters"));
}

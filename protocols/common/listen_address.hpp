#pragma once
// Listen addresses, the one parser for them: the config loader checks every listen string
// with it and keeps the typed value; listeners (protocols::Listener, adapters' ListenerSet)
// take only typed values, so nothing parses an address twice.
//   stream: "127.0.0.1:6667", "tls:127.0.0.1:6697", "[::1]:6667" ("tcp:" is accepted too)
//   sip:    "udp:127.0.0.1:5060", "tcp:127.0.0.1:5060", "tls:127.0.0.1:5061"
// Hosts are IP literals (no name lookup at bind time); IPv6 literals are bracketed as in
// URIs (RFC 3986 §3.2.2).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::protocols {

enum class Transport : std::uint8_t { tcp, tls, udp };

std::string_view to_string(Transport t);

// stream: plain TCP by default, "tls:" for implicit TLS (IRC, XMPP c2s, PSYC).
// sip:    "udp:" / "tcp:" / "tls:" prefix required (RFC 3261 §18 transports).
enum class ListenStyle : std::uint8_t { stream, sip };

struct ListenAddress {
  Transport transport = Transport::tcp;
  std::string host;        // IP literal without brackets: "127.0.0.1", "::1"
  std::uint16_t port = 0;  // parse_listen() gives 1..65535; 0 (built in code) picks a free port
  bool ipv6 = false;

  bool tls() const { return transport == Transport::tls; }
  // "127.0.0.1:6667", "[::1]:6667" (no transport prefix), for log lines.
  std::string endpoint() const;
  // As written in the config: "tls:127.0.0.1:6697" ("tcp:" is left out for stream listeners).
  std::string str() const;
  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

// Parses one listen address. On failure returns nullopt and sets *why (if given) to a
// message that says what was expected.
std::optional<ListenAddress> parse_listen(std::string_view text, ListenStyle style = ListenStyle::stream,
                                          std::string* why = nullptr);

// A server to connect to: "HOST:PORT" with HOST an IP literal ("[::1]" bracketed) or a DNS
// name (RFC 1123 §2.1 labels: letters, digits, '-', at most 253 bytes), resolved when
// connecting, not here (xmpp.component.server: "localhost:5347", "xmpp.lan:5347").
struct ServerAddress {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};
std::optional<ServerAddress> parse_server_address(std::string_view text, std::string* why = nullptr);

// A SIP proxy to send requests to (sip.federation[].proxy): "TRANSPORT:HOST[:PORT]" with
// TRANSPORT udp, tcp or tls, HOST an IP literal ("[::1]" bracketed) or a DNS name (the
// same RFC 1123 labels as above, at most 253 bytes), PORT 1..65535, default 5060, 5061 for
// tls (RFC 3261 §19.1.2). A name is resolved by the sender, not here (RFC 3263 §4.2's
// A/AAAA step only: no NAPTR/SRV).
struct ProxyAddress {
  Transport transport = Transport::udp;
  std::string host;  // without brackets, as written (a name keeps its case: DNS ignores it)
  std::uint16_t port = 0;
  bool ipv6 = false;  // an IPv6 literal
  bool name = false;  // a DNS name, not an IP literal
  // "udp:sip.example.org:5060", "tls:[::1]:5061": the port always written.
  std::string str() const;
};
std::optional<ProxyAddress> parse_proxy_address(std::string_view text, std::string* why = nullptr);

}  // namespace parley::protocols

#pragma once
// Stream error conditions (RFC 6120 §4.9.3) and the namespaces XMPP streams use.
#include <cstdint>
#include <string_view>

namespace parley::protocols::xmpp {

namespace ns {
inline constexpr std::string_view client = "jabber:client";
inline constexpr std::string_view stream = "http://etherx.jabber.org/streams";
inline constexpr std::string_view streams = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view tls = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
inline constexpr std::string_view bind = "urn:ietf:params:xml:ns:xmpp-bind";
inline constexpr std::string_view session = "urn:ietf:params:xml:ns:xmpp-session";
inline constexpr std::string_view roster = "jabber:iq:roster";
inline constexpr std::string_view xml = "http://www.w3.org/XML/1998/namespace";
}  // namespace ns

enum class StreamError : std::uint8_t {
  none,
  bad_format,
  bad_namespace_prefix,
  conflict,
  connection_timeout,
  host_gone,
  host_unknown,
  improper_addressing,
  internal_server_error,
  invalid_from,
  invalid_namespace,
  invalid_xml,
  not_authorized,
  not_well_formed,
  policy_violation,
  remote_connection_failed,
  reset,
  resource_constraint,
  restricted_xml,
  see_other_host,
  system_shutdown,
  undefined_condition,
  unsupported_encoding,
  unsupported_feature,
  unsupported_stanza_type,
  unsupported_version,
};

// The element name of the condition, e.g. "not-well-formed".
std::string_view to_string(StreamError e);

}  // namespace parley::protocols::xmpp

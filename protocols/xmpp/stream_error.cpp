#include "protocols/xmpp/stream_error.hpp"

namespace parley::protocols::xmpp {

std::string_view to_string(StreamError e) {
  switch (e) {
    case StreamError::none: return "";
    case StreamError::bad_format: return "bad-format";
    case StreamError::bad_namespace_prefix: return "bad-namespace-prefix";
    case StreamError::conflict: return "conflict";
    case StreamError::connection_timeout: return "connection-timeout";
    case StreamError::host_gone: return "host-gone";
    case StreamError::host_unknown: return "host-unknown";
    case StreamError::improper_addressing: return "improper-addressing";
    case StreamError::internal_server_error: return "internal-server-error";
    case StreamError::invalid_from: return "invalid-from";
    case StreamError::invalid_namespace: return "invalid-namespace";
    case StreamError::invalid_xml: return "invalid-xml";
    case StreamError::not_authorized: return "not-authorized";
    case StreamError::not_well_formed: return "not-well-formed";
    case StreamError::policy_violation: return "policy-violation";
    case StreamError::remote_connection_failed: return "remote-connection-failed";
    case StreamError::reset: return "reset";
    case StreamError::resource_constraint: return "resource-constraint";
    case StreamError::restricted_xml: return "restricted-xml";
    case StreamError::see_other_host: return "see-other-host";
    case StreamError::system_shutdown: return "system-shutdown";
    case StreamError::undefined_condition: return "undefined-condition";
    case StreamError::unsupported_encoding: return "unsupported-encoding";
    case StreamError::unsupported_feature: return "unsupported-feature";
    case StreamError::unsupported_stanza_type: return "unsupported-stanza-type";
    case StreamError::unsupported_version: return "unsupported-version";
  }
  return "undefined-condition";
}

}  // namespace parley::protocols::xmpp

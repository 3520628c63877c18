#pragma once
// The opening of a c2s stream as plain values (RFC 6120 §4.2, §4.3.2, §4.7): checking the
// client's stream header and the stream features the server answers with. No socket:
// C2sConnection::on_header and send_header_and_features call these.
#include <optional>
#include <string_view>

#include "adapters/xmpp/c2s_state.hpp"
#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/stream_error.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

// RFC 6120 §4.7.5: version is "major.minor", two non-negative integers (leading zeros are
// ignored). Parley speaks 1.0: a higher minor version is accepted (the answer says 1.0),
// a higher major version gets <unsupported-version/>, and so does anything that is not
// "major.minor". No version attribute at all ("") means a pre-1.0 peer (RFC 3920 era, no
// SASL or TLS negotiation), which Parley does not serve: refused as well, as it always was.
bool supported_version(std::string_view v);

// The namespaces the header declares (xmlns, xmlns:prefix), in scope for the stream's stanzas.
px::StreamNamespaces header_namespaces(const px::StreamHeader& h);

struct HeaderRefusal {
  px::StreamError error;
  std::string_view text;  // static
};
// Why the header is refused, in the order it is checked, or nullopt when it opens a c2s
// stream to `domain`: the element is not <stream> in the streams namespace or the default
// namespace is not jabber:client (§4.9.3.10 invalid-namespace), `to` is not this server
// (§4.9.3.6 host-unknown), the version is unsupported (§4.9.3.25 unsupported-version).
// `scope`: header_namespaces(h).
std::optional<HeaderRefusal> check_stream_header(const px::StreamHeader& h, const px::StreamNamespaces& scope,
                                                 std::string_view domain);

// The children of <stream:features/> for the state features_state() gave (§4.3.2):
// starttls: <starttls><required/></starttls> (§5.3.1); sasl: the mechanisms (§6.3.3);
// bind: bind, optional session (RFC 3921 compatibility), XEP-0198 sm, roster versioning.
void write_features(px::XmlWriter& w, C2sState st);

}  // namespace parley::adapters::xmpp

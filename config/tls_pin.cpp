#include "config/sections.hpp"
#include "protocols/common/connector.hpp"

namespace parley::config {

// The same check for every outbound TLS link that can pin a certificate (irc.networks[],
// psyc.peers[]): one format, one message.
void check_fingerprint(Reader& r, const std::string& fingerprint, bool tls) {
  if (fingerprint.empty()) return;
  if (protocols::normalize_fingerprint(fingerprint).empty())
    r.error("fingerprint", "expected a SHA-256 fingerprint: 64 hex digits (colons allowed)");
  if (!tls) r.error("fingerprint", "a certificate fingerprint needs tls: true");
}

}  // namespace parley::config

#pragma once
// One parser per config section, each in its own file (config/<section>_config.cpp), so the
// owner of a protocol extends its section without touching the others. Each reads the
// section's keys from `r` (already positioned at the section) and leaves `enabled` alone:
// the loader sets that from the section's presence.
#include "config/config.hpp"
#include "config/yaml_reader.hpp"

namespace parley::config {

void parse_server(Reader& r, ServerConfig& out);
void parse_auth(Reader& r, AuthConfig& out);
void parse_accounts(Reader& root, std::vector<SeedAccount>& out);  // root-level list "accounts"
void parse_irc(Reader& r, IrcConfig& out);
void parse_xmpp(Reader& r, XmppConfig& out);
void parse_sip(Reader& r, SipConfig& out);
void parse_psyc(Reader& r, PsycConfig& out);
void parse_line(Reader& r, LineConfig& out);
void parse_http(Reader& r, HttpConfig& out);
// Root-level list "bridges"; reads irc.networks, xmpp.muc and xmpp.component from c (parsed
// before it) to check each room address.
void parse_bridges(Reader& root, const Config& c, std::vector<BridgeConfig>& out);

// `fingerprint` (a pinned certificate's SHA-256, config/tls_pin.cpp) is hex and needs `tls`.
void check_fingerprint(Reader& r, const std::string& fingerprint, bool tls);

}  // namespace parley::config

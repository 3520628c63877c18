#pragma once
// Stanza::parse as it was before session 23 (pugixml flags and namespaces_ok), as a free
// function over a caller-owned document and buffer; the reference for the differential
// tests and bench/bench_xmpp_inbound. Not used by parleyd.
#include <memory>
#include <pugixml.hpp>
#include <vector>

#include "protocols/xmpp/stanza.hpp"

namespace parley::protocols::xmpp::ref {

// Parses buffer in place; nullptr where Stanza::parse returned nullopt.
std::unique_ptr<pugi::xml_document> parse_stanza(std::vector<char>& buffer, const StreamNamespaces& stream);

}  // namespace parley::protocols::xmpp::ref

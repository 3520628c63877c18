#pragma once
// JID preparation as it was before the ASCII fast paths (session 23), kept as the reference
// for the differential tests and bench/bench_xmpp_inbound. Not used by parleyd.
#include <optional>
#include <string>
#include <string_view>

#include "protocols/xmpp/jid.hpp"

namespace parley::protocols::xmpp::ref {

std::optional<Jid> parse_jid(std::string_view text);
std::optional<std::string> prep_localpart(std::string_view s);
std::optional<std::string> prep_domain(std::string_view s);
std::optional<std::string> prep_resource(std::string_view s);

}  // namespace parley::protocols::xmpp::ref

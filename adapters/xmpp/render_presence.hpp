#pragma once
// Core presence, subscription and roster events -> stanzas (RFC 6121 §2-§4). Pure: the
// stanza depends only on the event, the domains and the JIDs passed in.
#include <string>
#include <string_view>

#include "adapters/xmpp/context.hpp"
#include "core/services/session_sink.hpp"

namespace parley::adapters::xmpp {

// A contact's presence tuple as <presence/> to `to` (RFC 6121 §4.7).
std::string render_presence(const Domains& d, const core::PresenceUpdate& p, std::string_view to);
// A subscription request or answer as <presence type='subscribe|subscribed|...'/> to the
// user's bare JID `to` (RFC 6121 §3).
std::string render_subscription(const Domains& d, const core::SubscriptionEvent& s, std::string_view to);
// One roster <item/> (RFC 6121 §2.1.2), or its removal.
std::string render_roster_item(const Domains& d, const core::RosterItem& item, bool removed);
// A roster push (RFC 6121 §2.1.6) with the iq id `id`.
std::string render_roster_push(const Domains& d, const core::RosterItem& item, bool removed,
                               std::string_view to, std::string_view id);

}  // namespace parley::adapters::xmpp

#pragma once
// Core room events -> MUC stanzas (XEP-0045): occupant presence with its status codes,
// subject changes, configuration-change notices and invitations. Pure: the stanza depends
// only on the event, the domains and the JIDs (and iq/message ids) passed in.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/xmpp/context.hpp"
#include "core/services/session_sink.hpp"

namespace parley::adapters::xmpp {

// Presence item for occupant m of room (XEP-0045 §7.2.3), with status codes.
std::string render_occupant(const Domains& d, const std::string& room, const core::Member& m,
                            const std::string& to, bool unavailable, const std::vector<int>& codes,
                            const std::string& new_nick = {}, const std::string& actor = {},
                            const std::string& reason = {});

// m joined (XEP-0045 §7.2.3): to the joiner itself (`self`) with 100 (non-anonymous room)
// and 110, and 201 when the join created the room (§10.1.1).
std::string render_room_join(const Domains& d, const core::Room& room, const core::Member& m,
                             const std::string& to, bool self);
// m left (§7.14), was kicked (§8.2: 307) or banned (§9.1: 301, affiliation outcast); a
// part/quit message rides as <status/>.
std::string render_room_leave(const Domains& d, const core::Room& room, const core::Member& m,
                              const core::LeaveReason& r, const std::string& to, bool self);
// A nick change (§7.6): unavailable with 303 and the new nick, then available as the new nick.
std::pair<std::string, std::string> render_room_nick(const Domains& d, const core::Room& room,
                                                     const core::Member& before, const std::string& new_nick,
                                                     const std::string& to, bool self);
// The subject (§8.1), from its setter's occupant JID or from the room.
std::string render_room_topic(const Domains& d, const core::Room& room, const core::Topic& t,
                              std::string_view to, std::string_view id);
// Status 104: the room configuration changed (§10.2.1).
std::string render_room_config_changed(const Domains& d, const core::Room& room, std::string_view to,
                                       std::string_view id);
// A mediated invitation (§7.8.2).
std::string render_room_invite(const Domains& d, const std::string& room, const core::Address& from,
                               std::string_view to);

}  // namespace parley::adapters::xmpp

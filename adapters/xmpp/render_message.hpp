#pragma once
// Core messages -> <message/> stanzas (RFC 6121 §5, XEP-0045 §7.4/§7.5 for rooms). Pure:
// the stanza depends only on the message, the domains and the JIDs passed in.
#include <cstddef>
#include <string>
#include <string_view>

#include "adapters/xmpp/context.hpp"
#include "core/model/message.hpp"

namespace parley::adapters::xmpp {

inline constexpr std::string_view kMucUser = "http://jabber.org/protocol/muc#user";

// Whether m gets a <delay/> (XEP-0203): it was stored (offline storage, room history) for
// more than a moment before it went out.
bool delayed(const core::Message& m);

// Appends m rendered for `to` to out. `by_user`: the bare JID of the recipient, which
// stamps the stanza-id of a direct message (XEP-0359 §4; a room stamps its own). `delay`:
// add <delay/> with m's timestamp. Returns the offset in out where the value of the 'to'
// attribute starts, so a rendering with an empty `to` splits into the prefix and suffix
// shared by every occupant of a room fan-out (Context::room_render).
std::size_t render_message(const Domains& d, const core::Message& m, std::string_view to,
                           std::string_view by_user, bool delay, std::string& out);

}  // namespace parley::adapters::xmpp

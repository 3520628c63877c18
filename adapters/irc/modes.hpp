#pragma once
// IRC channel mode letters <-> the core's neutral RoomChange. The only place that knows
// the letters (ISUPPORT CHANMODES=b,k,l,imnst and PREFIX=(ohv)@%+).
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/room.hpp"
#include "core/model/room_change.hpp"

namespace parley::adapters::irc {

// One letter with its sign and argument (already checked by the MODE command) as a
// RoomChange item; nullopt for a letter that is not a channel mode. o/h/v name the member by
// its neutral nick; b takes a mask (see parse_ban_mask).
std::optional<core::RoomChangeItem> item_of_letter(bool plus, char letter, std::string_view arg);

// "nick!user@host" as a neutral mask; missing parts are "*" ("troll*" -> troll*!*@*).
core::BanMask parse_ban_mask(std::string_view mask);
// How IRC shows a ban by address (an XMPP outcast): "*!<user id>@*", which MODE -b lifts.
std::string outcast_mask(std::string_view address_id);
std::string render_ban_mask(const core::BanMask& m);

// Prefix letters and symbols of a member (Biboumi's table, DESIGN.md): @ operator
// (moderator with admin affiliation or above), % moderator, + voice or a member's
// participant; multi-prefix adds + to a voiced moderator.
char prefix_for(core::Role role, core::Affiliation aff, bool voice);
std::string prefixes_for(core::Role role, core::Affiliation aff, bool voice);

// An applied change as a MODE line's mode string and arguments. A member item becomes the
// letters by which its prefixes changed (-o+v...); `irc_nick` names members for IRC.
struct RenderedModes {
  std::string modes;
  std::vector<std::string> args;
};
RenderedModes render_modes(const core::RoomChange& c,
                           const std::function<std::string(const std::string&)>& irc_nick);

}  // namespace parley::adapters::irc

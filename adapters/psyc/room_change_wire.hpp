#pragma once
// A core RoomChange as it crosses a peer link (peer_link.hpp): the elements of the
// `_list_change` of a `_notice_context_change`, one per item, "<sign><word>[ <argument>]":
//
//   +moderated -invite-only +no-external +secret +topic-locked   (RoomFlag, core's names)
//   +key <key>   -key   +limit <n>   -limit   +ban <nick!user@host>   -ban <nick!user@host>
//   +operator <uniform>   -moderator <uniform>   +voice <uniform>     (a member's status)
//
// What crosses is what happened on the node where it was decided, as requests the other
// node applies without checking rights again (core RoomService::change_as): member items
// become status grants and revocations of the person (named by uniform, as nicks differ
// between nodes), derived from before/after; a member item that is only the moderated
// flag's side effect (participant <-> visitor) has no status delta and does not cross,
// each node computes it from its own members. Outcast items (bans by local address) stay
// local. Pure.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/room_change.hpp"

namespace parley::adapters::psyc {

// The elements for an applied change; `uniform_of(nick)` names a member (empty: skipped).
std::vector<std::string> change_items(const core::RoomChange& applied,
                                      const std::function<std::string(std::string_view nick)>& uniform_of);

// The request for received elements; `nick_of(uniform)` is the person's nick in the room
// here (empty: that item is skipped). Unknown words are skipped (a newer peer); a
// malformed element is an error (its text), and nothing is applied.
std::optional<std::string> parse_change_items(const std::vector<std::string_view>& items,
                                              const std::function<std::string(std::string_view uni)>& nick_of,
                                              core::RoomChange& out);

}  // namespace parley::adapters::psyc

#pragma once
// The IRC nick of every room member, as one IRC server shows it (member_nicks.hpp says
// why members of other protocols need derived nicks). An IRC client's member shows its own
// nick; any other member the neutral nick when that is a valid IRC nick nobody else in the
// room (or an IRC user elsewhere) shows, else one derived from it ("Jane Doe" ->
// "Jane_Doe", "Jane_Doe1"...). Chosen on first sight and kept while the member stays in
// the room; dropped by sweep() once it left, or once no IRC client is in the room to see
// it. Core strand, like the IrcServer that owns it.
#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "adapters/irc/member_nicks.hpp"
#include "config/irc_config.hpp"
#include "core/model/room.hpp"

namespace parley::core {
class RoomService;
}

namespace parley::adapters::irc {

// What the nick mapping asks the server about its IRC clients.
class IrcNickOwners {
 public:
  virtual ~IrcNickOwners() = default;
  // s is a registered IRC client's session: its member shows the client's own nick.
  virtual bool is_irc(core::SessionId s) const = 0;
  // An IRC client of another user than `user` is registered as `nick` (case-insensitive):
  // a member may not show it, or PRIVMSG to the nick would reach the wrong one.
  virtual bool irc_nick_of_other(std::string_view nick, const core::Address& user) const = 0;
};

class RoomNicks {
 public:
  // cfg: the server's live configuration (irc.nick_length).
  RoomNicks(const IrcNickOwners& owners, const core::RoomService& rooms, const config::IrcConfig& cfg)
      : owners_(owners), rooms_(rooms), cfg_(cfg) {}

  // The IRC nick of a member of `room`.
  std::string irc_nick(const core::Room& room, const core::Member& m);
  // A neutral nick named by a core event (kicker, topic setter, mode setter, inviter).
  std::string irc_nick_of(const core::Room& room, std::string_view neutral);
  // The member of `room` that IRC sees as `nick` (case-insensitive), or nullptr.
  const core::Member* member_by_irc_nick(const core::Room& room, std::string_view nick);
  // A member of another protocol changed its nick (the room has the new one): the IRC
  // nicks before and after, the same for every IRC member told.
  std::pair<std::string, std::string> irc_renick(const core::Room& room, const core::Member& before);
  // Another member than `self` (and not of `self_user`, if given) of `only`, or of any
  // room of `self`, shows `nick`.
  bool shown_in_rooms(core::SessionId self, const core::Address* self_user, std::string_view nick,
                      const core::Room* only = nullptr);
  // Someone left `room`: the derived nicks of those gone are dropped at the next sweep().
  void member_left(const std::string& room) { sweep_.insert(room); }
  // Drops the derived nicks of members gone from the rooms left since the last sweep
  // (IrcServer::flush, so a batch of events sees one mapping).
  void sweep() {
    if (!sweep_.empty()) sweep_rooms();  // inline: IrcServer::flush calls it every batch
  }
  std::size_t size() const { return nicks_.size(); }

 private:
  std::string choose(const core::Room& room, const core::Member& m);
  void sweep_rooms();

  const IrcNickOwners& owners_;
  const core::RoomService& rooms_;
  const config::IrcConfig& cfg_;
  MemberNicks nicks_;
  std::set<std::string> sweep_;  // rooms whose derived nicks may name departed members
};

}  // namespace parley::adapters::irc

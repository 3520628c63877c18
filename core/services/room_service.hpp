#pragma once
// Rooms with IRC channel semantics shared by every protocol. Nicks compare
// case-insensitively in ASCII (ISUPPORT CASEMAPPING=ascii).
#include <map>
#include <string>
#include <vector>

#include "core/model/error.hpp"
#include "core/model/room.hpp"
#include "core/services/session_sink.hpp"

namespace parley::core {

class Core;

struct JoinRequest {
  std::string room;  // local room name, without '#'
  std::string nick;
  std::string key;   // the room key, if the room has one
  std::size_t history = 0;  // history messages wanted on join (XEP-0045 §7.2.15)
};

class RoomService {
 public:
  explicit RoomService(Core& core, std::size_t history_limit = 100)
      : core_(core), history_limit_(history_limit) {}

  // Loads persistent rooms from the store.
  Status load();

  // Joins; the first member creates the room and becomes its owner/moderator.
  // Errors: forbidden (banned), not_authorized (wrong key), service_unavailable (limit
  // reached, unless invited), registration_required (invite-only without invitation),
  // conflict (nick taken by another user),
  // resource_constraint (the session is in CoreOptions::max_rooms rooms already).
  // Everyone in the room gets on_room_join; the joiner gets it with self=true, after the
  // others' presences, then the requested history as room messages, then the topic.
  Result<const Room*> join(SessionId s, const JoinRequest& r);
  Status leave(SessionId s, const std::string& room, const std::string& text);
  // Leaves every room (quit/shutdown), used by Sessions::close.
  void leave_all(SessionId s, LeaveReason reason);
  Status change_nick(SessionId s, const std::string& room, const std::string& nick);
  // Renames the session in all its rooms (IRC NICK). conflict if taken in any of them.
  Status change_nick_everywhere(SessionId s, const std::string& nick);
  Status set_topic(SessionId s, const std::string& room, const std::string& text);
  // Changes decided on another node that shares the room (PSYC peer links), which checked
  // the actor's rights there; applied as given, members told as usual. A member removed
  // (a kick there: `reason` names the kicker), a topic set (set_at: when it was set there;
  // the epoch: now), and a room change (flag, key, limit, ban and status items, as
  // apply_change without its rights checks; `by` names the actor there).
  Status remove_as(SessionId s, const std::string& room, const LeaveReason& reason);
  Status set_topic_as(const std::string& room, const std::string& text, const std::string& set_by,
                      Timestamp set_at = {});
  Status change_as(const std::string& room, const RoomChange& change, const std::string& by);
  // A room message of member `s` that another node checked (its sender is that node's own
  // member): say() without the moderated room's voice check.
  Status say_as(SessionId s, const std::string& room, Message m);
  // Sends m (body, kind, rich...) to the room from session s; fills from/to/nick/origin.
  // forbidden when moderated and the sender is a visitor, not_acceptable (no_external) when
  // not a member.
  Status say(SessionId s, const std::string& room, Message m);
  // A private message to one occupant by nick (XEP-0045 §7.5, IRC has no equivalent).
  // The recipient's sink gets it with to = the room, kind = direct, nick = sender's nick.
  Status say_private(SessionId s, const std::string& room, const std::string& nick, Message m);
  // chanops_are_peers: IRC semantics, any channel operator (affiliation admin or above) may
  // kick anyone; otherwise XEP-0045's rank rule (nobody of higher affiliation) applies.
  Status kick(SessionId s, const std::string& room, const std::string& nick, const std::string& reason,
              bool chanops_are_peers = false);
  // Applies a RoomChange (flags, key, limit, bans, member status) in order; what is allowed
  // takes effect. forbidden if the actor is not a moderator. Operators (affiliation admin or
  // above) are peers; granting or revoking operator/moderator status needs one, voice a
  // moderator. Members get one on_room_change with what was applied (by = actor's nick),
  // status requests replaced by the member items they caused. An invalid item (empty key,
  // zero limit, unknown nick): the first such error is returned when nothing was applied.
  Status apply_change(SessionId s, const std::string& room, const RoomChange& change);
  // XEP-0045 role and affiliation changes; members get on_room_change with member items.
  Status set_role(SessionId s, const std::string& room, const std::string& nick, Role role);
  Status set_affiliation(SessionId s, const std::string& room, const Address& user, Affiliation a);
  Status invite(SessionId s, const std::string& room, const Address& invitee);
  Status set_persistent(SessionId s, const std::string& room, bool persistent);
  // Every change to a persistent room (topic, modes, affiliations, persistence) returns the
  // store's error when it could not be saved (internal_server_error, e.g. disk full); the
  // change itself stays in effect until restart. A message whose history could not be
  // written is still delivered: that failure is logged.

  // Drops what rooms keep about `user` beyond its visits: long-lived affiliations and
  // pending invitations (persistent rooms are saved). Sessions::close calls it when a
  // guest's session ends: a guest's identity is its nick, and whoever takes the nick next
  // must not inherit the departed guest's channel status.
  void forget_user(const Address& user);

  const Room* find(const std::string& room) const;
  std::vector<const Room*> list() const;
  std::vector<std::string> rooms_of(SessionId s) const;
  std::size_t history_limit() const { return history_limit_; }

 private:
  // Long-lived affiliations name accounts; `parleyd account remove` (another process) may
  // delete an account while this one runs, and `account add` make a new one of the same
  // name: a different person, told apart by the account's creation time, recorded when an
  // account is granted an affiliation. check_account forgets a user's affiliations when
  // its account is gone or was re-created; it runs on join, on grants and before saving.
  void check_account(const Address& user);
  void note_grant(const Address& user);
  Status save(Room& room);
  Status say_in(SessionId s, const std::string& room, Message m, bool voice_checked);
  // apply_change's body: `actor` null applies the change as given (change_as).
  Status apply_change_in(Room& room, const Member* actor, const std::string& by, const RoomChange& change);

  Core& core_;
  std::size_t history_limit_;
  std::map<Address, Timestamp> account_created_;
  std::map<std::string, Room> rooms_;
  std::map<SessionId, std::vector<std::string>> by_session_;
  bool history_failing_ = false;  // the last history write failed (logged once per run)
  void note_history(const std::string& room, const Status& st);
};

}  // namespace parley::core

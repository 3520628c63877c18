#pragma once
// A recording SessionSink: a fake adapter session for core tests and benchmarks. Every
// event is appended to a vector in arrival order; `count_only` keeps just the counters
// (for benchmarks, so recording does not dominate the measurement).
#include <string>
#include <vector>

#include "core/services/session_sink.hpp"

namespace parley::test {

using namespace parley::core;

class FakeSink : public SessionSink {
 public:
  struct Join {
    std::string room;
    Member member;
    bool self;
    std::size_t members;  // room size at the time
  };
  struct Leave {
    std::string room;
    Member member;
    LeaveReason reason;
    bool self;
  };
  struct Nick {
    std::string room;
    std::string before;
    std::string after;
    bool self;
  };
  struct Change {
    std::string room;
    RoomChange change;
    std::string by;
  };
  struct Invite {
    std::string room;
    Address from;
    std::string nick;
  };
  struct RosterPush {
    RosterItem item;
    bool removed;
  };

  explicit FakeSink(bool count_only = false) : count_only_(count_only) {}

  void on_message(const MessagePtr& m) override {
    ++message_count;
    if (!count_only_) messages.push_back(m);
  }
  void on_presence(const PresenceUpdate& p) override {
    ++presence_count;
    if (!count_only_) presences.push_back(p);
  }
  void on_subscription(const SubscriptionEvent& s) override { subscriptions.push_back(s); }
  void on_roster_push(const RosterItem& item, bool removed) override { roster_pushes.push_back({item, removed}); }
  void on_room_join(const Room& room, const Member& m, bool self) override {
    if (!count_only_) joins.push_back({room.name, m, self, room.members.size()});
  }
  void on_room_leave(const Room& room, const Member& m, const LeaveReason& r, bool self) override {
    if (!count_only_) leaves.push_back({room.name, m, r, self});
  }
  void on_room_nick(const Room& room, const Member& before, const std::string& n, bool self) override {
    nicks.push_back({room.name, before.nick, n, self});
  }
  void on_room_topic(const Room& room, const Topic& t) override { topics.push_back(t); }
  void on_room_change(const Room& room, const RoomChange& c, const std::string& by) override {
    changes.push_back({room.name, c, by});
    for (const auto& it : c.items)
      if (it.kind == RoomChangeItem::Kind::member)
        if (const Member* m = room.find_nick(it.nick)) member_updates.push_back(*m);
  }
  void on_room_invite(const std::string& room, const Address& from, const std::string& nick) override {
    invites.push_back({room, from, nick});
  }
  void on_error(const std::string& ref, const Error& e) override { errors.push_back({ref, e}); }
  void on_terminate(const std::string& reason) override { terminations.push_back(reason); }

  void clear() {
    messages.clear();
    presences.clear();
    subscriptions.clear();
    roster_pushes.clear();
    joins.clear();
    leaves.clear();
    nicks.clear();
    topics.clear();
    changes.clear();
    member_updates.clear();
    invites.clear();
    errors.clear();
    terminations.clear();
    message_count = presence_count = 0;
  }

  // The last subscription action received, or nullptr.
  const SubscriptionEvent* last_subscription() const {
    return subscriptions.empty() ? nullptr : &subscriptions.back();
  }

  std::vector<MessagePtr> messages;
  std::vector<PresenceUpdate> presences;
  std::vector<SubscriptionEvent> subscriptions;
  std::vector<RosterPush> roster_pushes;
  std::vector<Join> joins;
  std::vector<Leave> leaves;
  std::vector<Nick> nicks;
  std::vector<Topic> topics;
  std::vector<Change> changes;
  std::vector<Member> member_updates;
  std::vector<Invite> invites;
  std::vector<std::pair<std::string, Error>> errors;
  std::vector<std::string> terminations;
  std::size_t message_count = 0;
  std::size_t presence_count = 0;

 private:
  bool count_only_;
};

}  // namespace parley::test

#include "adapters/bridge/local_endpoint.hpp"

#include <spdlog/spdlog.h>

#include "adapters/common/post_guarded.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/common/net.hpp"

namespace parley::adapters::bridge {

namespace {
constexpr std::size_t kMaxNickAttempts = 8;
}

// One member of the local room: a guest core session whose sink is this object.
class LocalMember : public core::SessionSink {
 public:
  LocalMember(LocalEndpoint& ep, std::string user, std::string nick, bool listens)
      : ep_(ep), user_(std::move(user)), want_(std::move(nick)), listens_(listens) {}
  ~LocalMember() override {
    if (timer_) timer_->cancel();
    close();
  }

  void open_and_join() {
    if (ep_.stopped()) return;
    auto& core = ep_.runtime().core;
    if (session_ == 0) {
      core::SessionOpen o;
      o.user = core::Address::user(user_);
      o.protocol = core::Protocol::local;
      o.guest = true;
      o.host = "bridge";
      o.sink = this;
      auto r = core.sessions().open(std::move(o));
      if (!r) {
        spdlog::warn("bridge: {}: no session for {}: {}", ep_.bridge_name(), user_, r.error().text);
        return retry_later();
      }
      session_ = *r;
    }
    std::string nick = want_;
    for (std::size_t i = 0; i < kMaxNickAttempts; ++i) {
      auto j = core.rooms().join(session_, core::JoinRequest{ep_.room(), nick, {}, 0});
      if (j) {
        nick_ = nick;
        joined_ = true;
        spdlog::info("bridge: {} joined local room {} as {}", ep_.bridge_name(), ep_.room(), nick_);
        return;
      }
      if (j.error().condition != core::Condition::conflict) {
        spdlog::warn("bridge: {} cannot join local room {}: {}", ep_.bridge_name(), ep_.room(),
                     j.error().text);
        return retry_later();
      }
      nick += '_';
    }
    retry_later();
  }

  void close() {
    if (session_ == 0) return;
    ep_.runtime().core.sessions().close(std::exchange(session_, 0), "bridge stopped");
    joined_ = false;
  }

  void say(const core::Message& text) {
    if (!joined_) return;  // a rejoin is pending; the core keeps no queue for a non-member
    core::Message m = text;
    m.origin.bridge = ep_.bridge_name();
    auto st = ep_.runtime().core.rooms().say(session_, ep_.room(), std::move(m));
    if (!st) spdlog::debug("bridge: {}: {} refused: {}", ep_.bridge_name(), ep_.room(), st.error().text);
  }

  // ---- core::SessionSink ----
  void on_message(const core::MessagePtr& m) override {
    if (!listens_ || !m->to.is_room() || m->to.id() != ep_.room()) return;
    if (m->kind != core::MessageKind::room && m->kind != core::MessageKind::action) return;
    // A bridge's line (this one's or another's) is never relayed again.
    if (!m->origin.bridge.empty() || m->origin.session == session_) return;
    ep_.heard(m);
  }
  void on_presence(const core::PresenceUpdate&) override {}
  void on_room_join(const core::Room&, const core::Member&, bool) override {}
  void on_room_leave(const core::Room& room, const core::Member&, const core::LeaveReason& r,
                     bool self) override {
    if (!self || room.name != ep_.room() || ep_.stopped()) return;
    joined_ = false;
    spdlog::warn("bridge: {} left local room {} ({}); rejoining", ep_.bridge_name(), ep_.room(), r.text);
    retry_later();
  }
  void on_terminate(const std::string& reason) override {
    session_ = 0;  // the core closed it
    joined_ = false;
    if (ep_.stopped()) return;
    spdlog::warn("bridge: {}: local session ended ({}); reopening", ep_.bridge_name(), reason);
    retry_later();
  }

 private:
  // Later, never from inside a core call: the core may be iterating its members.
  // The handler checks `alive_` before touching this: cancel() in the destructor cannot
  // recall a wait that already expired and whose handler is queued behind the task that
  // destroys the member (LocalEndpoint::stop at shutdown), which would then run on freed
  // memory and open a core session with a dangling sink.
  void retry_later() {
    if (ep_.stopped()) return;
    if (!timer_) timer_ = std::make_unique<protocols::StrandTimer>(ep_.runtime().core_strand);
    timer_->expires_after(ep_.rejoin_delay());
    timer_->async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
      if (ec || alive.expired() || joined_) return;
      open_and_join();
    });
  }

  LocalEndpoint& ep_;
  std::string user_, want_, nick_;
  bool listens_;
  core::SessionId session_ = 0;
  bool joined_ = false;
  std::unique_ptr<protocols::StrandTimer> timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // the retry timer's handler checks it (weak)
};

namespace {
// A guest user name for a bridge session (core/model/address is_valid_local_name).
std::string guest_user(std::string_view lead, std::string_view bridge) {
  std::string u = std::string(lead) + protocols::ascii_fold(bridge);
  if (u.size() > core::kMaxLocalName) u.resize(core::kMaxLocalName);
  return u;
}
}  // namespace

LocalEndpoint::LocalEndpoint(Bridge& bridge, Runtime& rt, std::string room,
                             std::chrono::milliseconds rejoin_delay)
    : bridge_(bridge), rt_(rt), room_(std::move(room)), rejoin_delay_(rejoin_delay) {}

LocalEndpoint::~LocalEndpoint() = default;

void LocalEndpoint::start() {
  bot_ = std::make_unique<LocalMember>(*this, guest_user("bridge.", bridge_.config().name),
                                       bridge_.bot_nick(), true);
  bot_->open_and_join();
}

void LocalEndpoint::stop() {
  stopped_ = true;
  puppets_.clear();
  bot_.reset();
}

void LocalEndpoint::heard(const core::MessagePtr& m) {
  if (stopped_) return;
  // Posted: this runs inside the core's delivery to the room, and saying it in another local
  // room (or opening a puppet's session) from here would re-enter the core.
  post_guarded(rt_.core_strand, "bridge: relay",
               [this, alive = std::weak_ptr<int>(alive_),
                h = Heard{m->nick, m->body, m->kind == core::MessageKind::action}] {
                 if (!alive.expired() && !stopped_) bridge_.heard(this, h);
               });
}

LocalMember* LocalEndpoint::member_for(const std::string& speaker) {
  const std::string key = protocols::ascii_fold(speaker);
  for (auto& [k, p] : puppets_)
    if (k == key) return p.get();
  if (puppets_.size() >= bridge_.config().max_puppets) return nullptr;
  auto p = std::make_unique<LocalMember>(
      *this, guest_user("bp" + std::to_string(puppets_.size()) + ".", bridge_.config().name), speaker, false);
  p->open_and_join();
  puppets_.emplace_back(key, std::move(p));
  return puppets_.back().second.get();
}

void LocalEndpoint::say(const Heard& h) {
  if (stopped_ || !bot_) return;
  LocalMember* speaker = bot_.get();
  std::string fmt = bridge_.config().prefix;
  Heard line = h;
  if (bridge_.puppets())
    if (LocalMember* p = member_for(clean_nick(h.nick))) {
      speaker = p;
      fmt.clear();
      line.nick.clear();
      if (h.action) {
        // The puppet's own action: no nick in the text.
        line.action = false;
        core::Message m;
        m.kind = core::MessageKind::action;
        for (const auto& l : relay_lines("", line, bridge_.options().max_lines))
          m.body += (m.body.empty() ? "" : "\n") + l;
        if (!m.body.empty()) speaker->say(m);
        return;
      }
    }
  core::Message m;
  m.kind = line.action ? core::MessageKind::action : core::MessageKind::room;
  for (const auto& l : relay_lines(fmt, line, bridge_.options().max_lines))
    m.body += (m.body.empty() ? "" : "\n") + l;
  if (!m.body.empty()) speaker->say(m);
}

}  // namespace parley::adapters::bridge

#include "adapters/bridge/muc_endpoint.hpp"

#include <spdlog/spdlog.h>

#include <deque>

#include "adapters/gateway/render.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/xmpp/stanza.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::bridge {

namespace px = protocols::xmpp;

namespace {
constexpr std::string_view kMuc = "http://jabber.org/protocol/muc";
constexpr std::string_view kMucUser = "http://jabber.org/protocol/muc#user";
constexpr std::size_t kMaxNickAttempts = 8;
}  // namespace

// One occupant of the room served through the component: the bot or a puppet.
class MucOccupant : public BridgeIdentities::Speaker {
 public:
  MucOccupant(MucEndpoint& ep, BridgeIdentities& ids, std::string resource, std::string nick)
      : ep_(ep), ids_(ids), resource_(std::move(resource)), want_(std::move(nick)), nick_(want_) {
    ids_.add(this);
  }
  ~MucOccupant() override {
    ids_.remove(this);
    if (timer_) timer_->cancel();
  }
  std::string_view place() const override { return ep_.place(); }
  std::string_view speaker_nick() const override { return nick_; }
  const std::string& resource() const { return resource_; }
  std::string jid() const { return ep_.domain() + "/" + resource_; }

  void join() {
    if (!ep_.attached() || stopped_) return;
    std::string out;
    px::XmlWriter w(out);
    w.open("presence").attr("from", jid()).attr("to", ep_.room() + "/" + nick_);
    w.open("x").attr("xmlns", kMuc).open("history").attr("maxstanzas", "0").close().close();
    w.finish();
    ep_.send(out);
  }

  void leave() {
    stopped_ = true;
    if (timer_) timer_->cancel();
    if (!ep_.attached()) return;
    std::string out;
    px::XmlWriter w(out);
    w.open("presence").attr("from", jid()).attr("to", ep_.room() + "/" + nick_).attr("type", "unavailable");
    w.finish();
    ep_.send(out);
  }

  void detached() { joined_ = false; }

  // A body for the room: sent now when joined, else queued (bounded) until the join.
  void say(std::string body) {
    if (!joined_) {
      if (queue_.size() < ep_.queue()) queue_.push_back(std::move(body));
      return;
    }
    send_body(body);
  }

  // Presence from the room to this occupant.
  void on_presence(px::Stanza& s, std::string_view from_nick) {
    const std::string_view type = s.attr("type");
    if (type == "error") {
      auto err = s.child("error");
      const bool conflict =
          err && px::child(err, "conflict", "urn:ietf:params:xml:ns:xmpp-stanzas", s.stream());
      if (conflict && attempts_ < kMaxNickAttempts) {
        ++attempts_;
        nick_ += '_';
        return join();
      }
      spdlog::warn("bridge: {} cannot join {} as {}; retrying later", ep_.bridge_name(), ep_.room(), nick_);
      return rejoin_later();
    }
    if (from_nick != nick_) return;  // another occupant's presence (only the bot sees them)
    bool self = false;
    if (auto x = s.child("x", kMucUser))
      for (auto st : x.children("status"))
        if (px::attr(st, "code") == "110") self = true;
    if (!self) return;
    if (type == "unavailable") {
      joined_ = false;
      spdlog::warn("bridge: {} left {} (kicked or the room went away); rejoining", ep_.bridge_name(),
                   ep_.room());
      return rejoin_later();
    }
    if (!joined_) spdlog::info("bridge: {} joined {} as {}", ep_.bridge_name(), ep_.room(), nick_);
    joined_ = true;
    attempts_ = 0;
    // A send may close the stream (detached(): joined_ false): the rest waits for the next.
    while (joined_ && !queue_.empty()) {
      const std::string body = std::move(queue_.front());
      queue_.pop_front();
      send_body(body);
    }
  }

 private:
  void send_body(std::string_view body) {
    std::string out;
    px::XmlWriter w(out);
    w.open("message").attr("from", jid()).attr("to", ep_.room()).attr("type", "groupchat");
    w.element("body", body);
    w.open("bridged").attr("xmlns", kBridgedNs).attr("name", ep_.bridge_name()).close();
    w.finish();
    ep_.send(out);
  }

  void rejoin_later() {
    if (stopped_) return;
    if (!timer_) timer_ = std::make_unique<protocols::StrandTimer>(ep_.strand());
    timer_->expires_after(ep_.rejoin_delay());
    // As LocalMember's: an expired wait's handler may be queued behind the occupant's end.
    timer_->async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
      if (ec || alive.expired() || joined_) return;
      join();
    });
  }

  MucEndpoint& ep_;
  BridgeIdentities& ids_;
  std::string resource_;
  std::string want_, nick_;
  std::deque<std::string> queue_;
  std::unique_ptr<protocols::StrandTimer> timer_;
  std::size_t attempts_ = 0;
  bool joined_ = false;
  bool stopped_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // the rejoin timer's handler checks it (weak)
};

MucEndpoint::MucEndpoint(Bridge& bridge, BridgeIdentities& ids, const protocols::Strand& strand,
                         std::shared_ptr<xmpp::Component> component, std::string room_jid,
                         std::chrono::milliseconds rejoin_delay)
    : bridge_(bridge),
      ids_(ids),
      strand_(strand),
      component_(std::move(component)),
      room_(std::move(room_jid)),
      place_("muc " + room_),
      rejoin_delay_(rejoin_delay) {}

MucEndpoint::~MucEndpoint() {
  if (started_) component_->remove_client(this);
}

void MucEndpoint::start() {
  started_ = true;
  component_->add_client(this);
  bot_ = std::make_unique<MucOccupant>(*this, ids_, "bridge." + bridge_.config().name, bridge_.bot_nick());
  bot_->join();  // nothing while detached: on_component_attached joins
}

void MucEndpoint::stop() {
  stopped_ = true;
  for (auto& [_, p] : puppets_) p->leave();
  if (bot_) bot_->leave();
}

void MucEndpoint::on_component_attached(bool attached) {
  for (auto* o : {bot_.get()})
    if (o) attached ? o->join() : o->detached();
  for (auto& [_, p] : puppets_) attached ? p->join() : p->detached();
}

MucOccupant* MucEndpoint::occupant_for(const std::string& speaker) {
  const std::string key = protocols::ascii_fold(speaker);
  for (auto& [k, p] : puppets_)
    if (k == key) return p.get();
  if (puppets_.size() >= bridge_.config().max_puppets) return nullptr;
  auto p = std::make_unique<MucOccupant>(
      *this, ids_, "bridge." + bridge_.config().name + "." + std::to_string(puppets_.size()), speaker);
  p->join();
  puppets_.emplace_back(key, std::move(p));
  return puppets_.back().second.get();
}

void MucEndpoint::say(const Heard& h) {
  if (stopped_ || !bot_) return;
  if (bridge_.puppets())
    if (MucOccupant* p = occupant_for(clean_nick(h.nick))) {
      std::string body;
      for (const auto& l : relay_lines("", Heard{{}, h.text, false}, bridge_.options().max_lines))
        body += (body.empty() ? "" : "\n") + (h.action ? "/me " + l : l);
      if (!body.empty()) p->say(std::move(body));
      return;
    }
  std::string body;
  for (const auto& l : relay_lines(bridge_.config().prefix, h, bridge_.options().max_lines))
    body += (body.empty() ? "" : "\n") + (h.action ? "/me " + l : l);
  if (!body.empty()) bot_->say(std::move(body));
}

bool MucEndpoint::on_component_stanza(px::Stanza& s, const px::Jid& to) {
  if (!to.local.empty() || !started_) return false;
  MucOccupant* o = nullptr;
  if (bot_ && to.resource == bot_->resource()) o = bot_.get();
  for (auto& [_, p] : puppets_)
    if (to.resource == p->resource()) o = p.get();
  if (!o) return false;
  auto from = px::parse_jid(s.attr("from"));
  // Only the room speaks to its occupants; anything else addressed here is dropped.
  if (!from || from->bare_str() != room_) return true;
  if (s.name() == "presence") {
    o->on_presence(s, from->resource);
    return true;
  }
  if (s.name() == "message" && o == bot_.get() && s.attr("type") == "groupchat")
    on_groupchat(s, from->resource);
  return true;
}

void MucEndpoint::on_groupchat(px::Stanza& s, std::string_view nick) {
  if (stopped_ || nick.empty()) return;  // a message from the room itself (no occupant)
  const std::string_view ns = s.ns();
  auto body = s.child("body", ns);
  if (!body || s.child("subject", ns)) return;
  // History (XEP-0203 delay) is never relayed: it was said before the bot was there.
  if (s.child("delay", "urn:xmpp:delay")) return;
  if (s.child("bridged", kBridgedNs) || ids_.is_ours(place_, nick)) return;
  std::string text = body.text().get();
  bool action = false;
  if (text.rfind("/me ", 0) == 0) {
    action = true;
    text.erase(0, 4);
  }
  bridge_.heard(this, Heard{std::string(nick), std::move(text), action});
}

}  // namespace parley::adapters::bridge

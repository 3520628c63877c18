#include "adapters/psyc/psyc_circuit.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>

#include "adapters/common/auth.hpp"
#include "adapters/common/post_guarded.hpp"
#include "adapters/psyc/errors.hpp"
#include "adapters/psyc/peer_link.hpp"
#include "adapters/psyc/presence_map.hpp"
#include "core/core.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/common/token_bucket.hpp"
#include "protocols/psyc/list.hpp"
#include "protocols/psyc/method.hpp"
#include "protocols/psyc/parser.hpp"
#include "protocols/psyc/render.hpp"
#include "protocols/psyc/uniform.hpp"

namespace parley::adapters::psyc {

namespace asio = boost::asio;
namespace pp = protocols::psyc;

namespace {

pp::Limits limits_of(const config::PsycLimits& l) {
  return pp::Limits{l.max_name, l.max_value, l.max_content, l.max_modifiers};
}

class Circuit final : public protocols::Connection, public core::SessionSink {
 public:
  Circuit(protocols::Socket s, std::shared_ptr<asio::ssl::context> tls, Limits limits, Runtime& rt,
          const config::Config& cfg, PeerHub* hub)
      : Connection(std::move(s), std::move(tls), limits),
        rt_(rt),
        hub_(hub),
        cfg_(cfg),
        domain_(cfg.server.domain),
        root_(pp::root_uniform(cfg.server.domain)),
        parser_(limits_of(cfg.psyc.limits)),
        bucket_(cfg.psyc.rate, cfg.psyc.burst),
        last_input_(std::chrono::steady_clock::now()) {}

  bool idle_since(std::chrono::steady_clock::time_point now) const {
    return now - last_input_ > std::chrono::seconds(cfg_.psyc.idle_timeout);
  }
  bool ending() const { return ending_; }
  void idle_close() {
    send_error("_error_circuit_idle", "No packet for too long.");
    end("idle timeout");
  }

 protected:
  void on_open() override { send(pp::kEmptyPacket); }

  std::size_t on_data(std::string_view data) override {
    last_input_ = std::chrono::steady_clock::now();
    std::size_t used = 0;
    while (used < data.size() && !closed() && !ending_ && !auth_pending_) {
      // psyc.rate/burst: over the budget, the rest waits unread (TCP pushes back).
      // An authenticated peer link carries many users: no per-client rate.
      if (bucket_.enabled() && !(peer_ && hub_->linked(*peer_, *this))) {
        auto wait = bucket_.wait(last_input_);
        if (wait > std::chrono::steady_clock::duration::zero()) {
          pause_for(wait);
          break;
        }
      }
      auto st = parser_.parse(data.substr(used));
      if (st == pp::Status::need_more) break;
      if (st == pp::Status::error) {
        send_error("_error_syntax", "Malformed packet: " + parser_.error() + ".");
        end("malformed packet: " + parser_.error());
        return data.size();
      }
      used += parser_.consumed();
      if (bucket_.enabled()) bucket_.take(1, last_input_);
      handle(parser_.packet());
    }
    if (auth_pending_) hold_input(true);  // the verdict releases it (and feeds the rest)
    return used;
  }

  void on_read_overflow() override {
    send_error("_error_syntax", "Packet too large.");
    end("packet too large");
  }

  void on_close(std::string_view reason) override {
    if (resume_) resume_->cancel();
    if (peer_) hub_->closed(*peer_, *this);
    // Posted, never inline: a close can happen inside a SessionSink call (a send() that
    // fails while the core iterates a room's members), and closing the session there
    // would change the room under the core's feet. Until the post runs, the circuit stays
    // alive (captured) and sink calls only queue into a closed connection (no-ops).
    if (!session_) return;
    post_guarded(rt_.core_strand, "psyc: close",
                 [self = shared_from_this(), &core = rt_.core, id = session_, r = std::string(reason)] {
                   core.sessions().close(id, r);
                 });
    session_ = 0;
  }

  // ---- core side (SessionSink), core strand ----
  void on_message(const core::MessagePtr& m) override {
    auto& p = start();
    std::string from = sender_uniform(*m);
    if (m->to.is_room()) {
      std::string place = pp::place_uniform(domain_, m->to.id());
      p.routing.push_back({':', "_context", place, pp::ValueForm::text});
      p.routing.push_back({':', "_source_relay", from, pp::ValueForm::text});
      p.entity.push_back({':', "_nick", m->nick, pp::ValueForm::text});
      finish(m->kind == core::MessageKind::action ? "_message_action" : "_message_public", m->body);
      return;
    }
    p.routing.push_back({':', "_source", from, pp::ValueForm::text});
    p.routing.push_back({':', "_target", uni_, pp::ValueForm::text});
    std::string nick = m->from.is_user() ? m->from.id() : std::string{};
    p.entity.push_back({':', "_nick", m->nick.empty() ? nick : m->nick, pp::ValueForm::text});
    if (m->kind == core::MessageKind::action)
      p.entity.push_back({':', "_action", "action", pp::ValueForm::text});
    finish(m->kind == core::MessageKind::notice ? "_notice_private" : "_message_private", m->body);
  }

  void on_presence(const core::PresenceUpdate& u) override {
    auto& p = start();
    std::string from = pp::person_uniform(domain_, u.from.id());
    int degree = degree_of(u.aggregate);
    std::string deg(1, static_cast<char>('0' + degree));
    p.routing.push_back({':', "_source", from, pp::ValueForm::text});
    p.entity.push_back({':', "_nick", u.from.id(), pp::ValueForm::text});
    p.entity.push_back({'=', "_degree_availability", deg, pp::ValueForm::text});
    if (!u.aggregate.note.empty())
      p.entity.push_back({'=', "_description_presence", u.aggregate.note, pp::ValueForm::text});
    finish(presence_method(degree), std::nullopt);
  }

  void on_room_join(const core::Room& room, const core::Member& m, bool self) override {
    auto& p = start();
    std::string place = pp::place_uniform(domain_, room.name);
    if (self) {
      // The entering client learns who is there: the member list is context state.
      std::vector<std::string> unis;
      std::vector<std::string_view> u, n;
      unis.reserve(room.members.size());
      for (const auto& [sid, mem] : room.members) unis.push_back(pp::person_uniform(domain_, mem.user.id()));
      for (const auto& s : unis) u.push_back(s);
      for (const auto& [sid, mem] : room.members) n.push_back(mem.nick);
      std::string members, nicks;
      pp::render_list(u, members);
      pp::render_list(n, nicks);
      p.routing.push_back({':', "_source", place, pp::ValueForm::text});
      p.routing.push_back({':', "_target", uni_, pp::ValueForm::text});
      p.entity.push_back({':', "_nick", m.nick, pp::ValueForm::text});
      p.entity.push_back({'=', "_list_members", members, pp::ValueForm::text});
      p.entity.push_back({'=', "_list_members_nicks", nicks, pp::ValueForm::text});
      if (!room.topic.text.empty()) p.entity.push_back({'=', "_topic", room.topic.text, pp::ValueForm::text});
      finish("_echo_context_enter", std::nullopt);
      return;
    }
    std::string who = pp::person_uniform(domain_, m.user.id());
    p.routing.push_back({':', "_context", place, pp::ValueForm::text});
    p.routing.push_back({':', "_source_relay", who, pp::ValueForm::text});
    p.entity.push_back({':', "_nick", m.nick, pp::ValueForm::text});
    finish("_notice_context_enter", std::nullopt);
  }

  void on_room_leave(const core::Room& room, const core::Member& m, const core::LeaveReason& r,
                     bool self) override {
    auto& p = start();
    std::string place = pp::place_uniform(domain_, room.name);
    std::string who = pp::person_uniform(domain_, m.user.id());
    if (self) {
      p.routing.push_back({':', "_source", place, pp::ValueForm::text});
      p.routing.push_back({':', "_target", uni_, pp::ValueForm::text});
    } else {
      p.routing.push_back({':', "_context", place, pp::ValueForm::text});
      p.routing.push_back({':', "_source_relay", who, pp::ValueForm::text});
    }
    p.entity.push_back({':', "_nick", m.nick, pp::ValueForm::text});
    if (!r.text.empty()) p.entity.push_back({':', "_reason", r.text, pp::ValueForm::text});
    const bool kicked = r.kind == core::LeaveReason::Kind::kick || r.kind == core::LeaveReason::Kind::ban;
    finish(self ? (kicked ? "_echo_context_leave_kick" : "_echo_context_leave")
                : (kicked ? "_notice_context_leave_kick" : "_notice_context_leave"),
           std::nullopt);
  }

  // Something this client sent could not be delivered after the fact (a peer node's
  // queue full while its link is down: peer_link.hpp).
  void on_error(const std::string& ref_id, const core::Error& e) override {
    auto& p = start();
    p.routing.push_back({':', "_source", root_, pp::ValueForm::text});
    if (!uni_.empty()) p.routing.push_back({':', "_target", uni_, pp::ValueForm::text});
    p.entity.push_back({':', "_tag_relay", ref_id, pp::ValueForm::text});
    finish(error_method(e.condition), e.text);
  }

  void on_terminate(const std::string& reason) override {
    session_ = 0;  // the core already closed it
    auto& p = start();
    p.routing.push_back({':', "_source", root_, pp::ValueForm::text});
    p.entity.push_back({':', "_reason", reason, pp::ValueForm::text});
    finish("_notice_unlink", reason);
    end(reason);
  }

 private:
  using Handler = void (Circuit::*)(const pp::Packet&, std::string_view target);

  // The routing variable as this packet sees it: its own modifier, else circuit state.
  std::string_view routing(const pp::Packet& p, std::string_view name) const {
    if (const auto* m = p.find_routing(name)) return m->value;
    auto it = state_.find(name);
    return it == state_.end() ? std::string_view{} : std::string_view(it->second);
  }

  void handle(const pp::Packet& p) {
    if (!greeted_) {
      // Spec:Circuit: the circuit opens with an empty packet from each side.
      if (!p.routing.empty() || p.content) {
        send_error("_error_circuit_initialization", "A circuit starts with the empty packet.");
        return end("no circuit greeting");
      }
      greeted_ = true;
      return;
    }
    // A Parley node linking (peer_link.hpp): from here on the circuit is that peer's link.
    if (!peer_ && !session_ && hub_ && p.method == "_request_link")
      if (Peer* peer = hub_->find(routing(p, "_source"))) peer_ = peer;
    if (peer_) {
      if (!hub_->packet(*peer_, *this, p)) end("peer link refused");
      return;
    }
    for (const auto& m : p.routing) {
      if (m.op != '=') continue;
      if (m.value.empty()) {
        state_.erase(std::string(m.name));
      } else if (state_.size() >= cfg_.psyc.limits.max_modifiers && !state_.count(std::string(m.name))) {
        send_error("_error_limit_state", "Too many routing state variables.");
        return end("too much routing state");
      } else {
        state_[std::string(m.name)] = std::string(m.value);
      }
    }
    if (p.method.empty()) return;  // state only, or a keepalive
    std::string_view target = routing(p, "_target");
    if (!session_ && p.method != "_request_link") {
      return send_error("_error_necessary_link", "Link to your UNI first (_request_link).");
    }
    static const std::map<std::string_view, Handler> table = {
        {"_request_link", &Circuit::link},
        {"_request_context_enter", &Circuit::enter},
        {"_request_enter", &Circuit::enter},
        {"_request_context_leave", &Circuit::leave},
        {"_request_leave", &Circuit::leave},
        {"_message", &Circuit::message},
        {"_message_public", &Circuit::message},
        {"_message_action", &Circuit::message},
        {"_message_private", &Circuit::message},
        {"_notice_presence", &Circuit::presence},
        {"_request_friendship", &Circuit::friendship},
        {"_request_friendship_remove", &Circuit::unfriend},
        {"_notice_friendship_removed", &Circuit::unfriend},
    };
    bool handled = pp::dispatch_by_family(p.method, [&](std::string_view m) {
      auto it = table.find(m);
      if (it == table.end()) return false;
      current_method_ = p.method;
      (this->*(it->second))(p, target);
      current_method_ = {};  // a view into the packet: not kept past the handler
      return true;
    });
    if (!handled) {
      auto& q = start();
      q.routing.push_back({':', "_source", root_, pp::ValueForm::text});
      q.entity.push_back({':', "_method", p.method, pp::ValueForm::text});
      finish("_error_unsupported_method", "Method not supported.");
    }
  }

  // The target as a uniform of this server: kind '~' or '@', or an error sent back.
  bool local_target(std::string_view target, char kind, pp::Uniform& u) {
    if (target.empty()) {
      send_error("_error_invalid_uniform", "No _target.");
      return false;
    }
    if (const char* why = pp::parse_uniform(target, u)) {
      send_error("_error_invalid_uniform", std::string("Bad _target: ") + why + ".", target);
      return false;
    }
    if (protocols::ascii_fold(u.host) != protocols::ascii_fold(domain_)) {
      send_error("_error_unknown_host", "This server is " + root_ + ".", target);
      return false;
    }
    if (u.kind != kind || !u.channel.empty()) {
      send_error(
          "_error_invalid_uniform",
          kind == '@' ? "Expected a place (psyc://host/@name)." : "Expected a person (psyc://host/~name).",
          target);
      return false;
    }
    return true;
  }

  void link(const pp::Packet& p, std::string_view target) {
    if (session_) return send_error("_error_already_linked", "This circuit is linked already.");
    pp::Uniform u;
    if (!local_target(target, '~', u)) return;
    std::string user = protocols::ascii_fold(u.name);
    if (!core::is_valid_local_name(user))
      return send_error("_error_invalid_nick", "Not a valid name.", target);
    const auto* pw = p.find_entity("_password");
    if (!pw) {
      if (rt_.core.directory().exists(user) || !cfg_.psyc.guests) return send_query_password(target);
      return open_session(user, u.name, true, target);
    }
    auth_pending_ = true;
    auto self = std::static_pointer_cast<Circuit>(shared_from_this());
    std::string uni(target), nick(u.name);
    // PBKDF2 runs on the auth pool; the verdict comes back on the core strand (ours).
    check_account_password(rt_, peer_host(), user, std::string(pw->value), rt_.core_strand,
                           [self, user, nick, uni](AuthResult r) {
                             self->auth_pending_ = false;
                             if (self->closed()) return;
                             if (r == AuthResult::ok) {
                               self->open_session(user, nick, false, uni);
                             } else if (++self->failures_ >= max_auth_failures(self->rt_)) {
                               self->send_error("_error_invalid_password", "Too many failed links.", uni);
                               return self->end("too many failed links");
                             } else {
                               self->send_error(
                                   "_error_invalid_password",
                                   r == AuthResult::throttled ? "Try again later." : "Wrong password.", uni);
                             }
                             self->hold_input(false);
                           });
  }

  void open_session(const std::string& user, std::string_view nick, bool guest, std::string_view uni) {
    // A guest takes a name no account and no one online has (the IRC adapter's rule).
    if (guest && rt_.core.sessions().user_online(core::Address::user(user)))
      return send_error("_error_nickname_in_use", "That name is in use.", uni);
    core::SessionOpen o;
    o.user = core::Address::user(user);
    o.protocol = core::Protocol::psyc;
    o.guest = guest;
    o.host = peer_host();
    o.sink = this;
    auto r = rt_.core.sessions().open(std::move(o));
    if (!r) return send_error(error_method(r.error().condition), r.error().text, uni);
    session_ = *r;
    clear_deadline();  // linked: the handshake deadline is over
    nick_ = std::string(nick);
    uni_ = pp::person_uniform(domain_, user);
    auto& p = start();
    p.routing.push_back({':', "_source", uni_, pp::ValueForm::text});
    p.entity.push_back({':', "_nick", nick_, pp::ValueForm::text});
    finish("_notice_link", "You are linked to " + uni_ + ".");
    core::Tuple t = tuple_of_degree(7);
    t.updated = core::Clock::now();
    rt_.core.presence().publish(session_, t);
    if (!guest) (void)rt_.core.router().flush_offline(session_);
  }

  void enter(const pp::Packet&, std::string_view target) {
    pp::Uniform u;
    if (!local_target(target, '@', u)) return;
    std::string room = protocols::ascii_fold(u.name);
    if (!core::is_valid_local_name(room))
      return send_error("_error_invalid_uniform", "Not a valid place.", target);
    auto r = rt_.core.rooms().join(session_, core::JoinRequest{room, nick_, {}, 0});
    if (!r) send_error(error_method(r.error().condition), r.error().text, target);
  }

  void leave(const pp::Packet& p, std::string_view target) {
    pp::Uniform u;
    if (!local_target(target, '@', u)) return;
    std::string room = protocols::ascii_fold(u.name);
    auto st = rt_.core.rooms().leave(session_, room, std::string(p.get("_reason")));
    if (!st) send_error(error_method(st.error().condition), st.error().text, target);
  }

  void message(const pp::Packet& p, std::string_view target) {
    pp::Uniform u;
    if (target.empty() || pp::parse_uniform(target, u) || u.kind == 0)
      return send_error("_error_invalid_uniform", "No valid _target for the message.", target);
    if (!p.has_data || p.data.empty()) return send_error("_error_invalid", "Empty message.", target);
    core::Message m;
    m.body = std::string(p.data);
    m.origin.protocol = core::Protocol::psyc;
    m.origin.session = session_;
    m.from = core::Address::user(protocols::ascii_fold(nick_));
    if (const auto* info = rt_.core.sessions().find(session_)) m.from = info->user;
    const bool action = current_method_.substr(0, 15) == "_message_action";
    if (u.kind == '@') {
      if (!local_target(target, '@', u)) return;
      m.kind = action ? core::MessageKind::action : core::MessageKind::room;
      auto st = rt_.core.rooms().say(session_, protocols::ascii_fold(u.name), std::move(m));
      if (!st) send_error(error_method(st.error().condition), st.error().text, target);
      return;
    }
    if (!local_target(target, '~', u)) return;
    m.kind = action ? core::MessageKind::action : core::MessageKind::direct;
    m.to = core::Address::user(protocols::ascii_fold(u.name));
    auto st = rt_.core.router().send(std::move(m));
    if (!st) send_error(error_method(st.error().condition), st.error().text, target);
  }

  // Friendship (psyced's model) on the core's subscriptions, which need an account (guests
  // have no roster): _request_friendship to a person is a subscription to them and an
  // authorisation of theirs (a pre-approval when they have not asked yet), so two
  // requests crossing make a friendship both ways; _request_friendship_remove (or
  // _notice_friendship_removed) ends both directions.
  bool friend_target(std::string_view target, core::Address& me, core::Address& them) {
    pp::Uniform u;
    if (!local_target(target, '~', u)) return false;
    me = core::Address::user(protocols::ascii_fold(nick_));
    if (const auto* info = rt_.core.sessions().find(session_)) me = info->user;
    them = core::Address::user(protocols::ascii_fold(u.name));
    return true;
  }

  void friendship(const pp::Packet&, std::string_view target) {
    core::Address me, them;
    if (!friend_target(target, me, them)) return;
    auto st = rt_.core.presence().subscribe(me, them);
    if (st) st = rt_.core.presence().authorize(me, them, true);
    if (!st) send_error(error_method(st.error().condition), st.error().text, target);
  }

  void unfriend(const pp::Packet&, std::string_view target) {
    core::Address me, them;
    if (!friend_target(target, me, them)) return;
    auto st = rt_.core.presence().unsubscribe(me, them);
    auto st2 = rt_.core.presence().authorize(me, them, false);
    if (!st && !st2) send_error(error_method(st.error().condition), st.error().text, target);
  }

  void on_subscription(const core::SubscriptionEvent& e) override {
    auto& p = start();
    const std::string from = pp::person_uniform(domain_, e.from.id());  // the packet holds views
    p.routing.push_back({':', "_source", from, pp::ValueForm::text});
    p.routing.push_back({':', "_target", uni_, pp::ValueForm::text});
    p.entity.push_back({':', "_nick", e.from.id(), pp::ValueForm::text});
    using A = core::SubscriptionAction;
    switch (e.action) {
      case A::subscribe:
        return finish("_request_friendship", std::nullopt);
      case A::subscribed:
        return finish("_notice_friendship_established", std::nullopt);
      case A::unsubscribe:
      case A::unsubscribed:
        return finish("_notice_friendship_removed", std::nullopt);
    }
  }

  void presence(const pp::Packet& p, std::string_view) {
    int degree = degree_of_method(p.method);
    if (const auto* d = p.find_entity("_degree_availability")) {
      auto parsed = parse_degree(d->value);
      if (!parsed) return send_error("_error_invalid", "Bad _degree_availability.");
      degree = *parsed;
    }
    core::Tuple t = tuple_of_degree(degree);
    if (const auto* info = rt_.core.sessions().find(session_)) t.id = info->resource;
    t.note = std::string(p.get("_description_presence"));
    t.updated = core::Clock::now();
    rt_.core.presence().publish(session_, t);
  }

  std::string sender_uniform(const core::Message& m) const {
    if (m.from.is_user()) return pp::person_uniform(domain_, m.from.id());
    return root_;
  }

  // ---- output: one scratch packet, rendered into the send queue ----
  pp::Packet& start() {
    scratch_.clear();
    return scratch_;
  }
  void finish(std::string_view method, std::optional<std::string_view> data) {
    scratch_.method = method;
    scratch_.has_data = data.has_value();
    if (data) scratch_.data = *data;
    scratch_.content = true;
    out_.clear();
    pp::render(scratch_, out_);
    send(out_);
  }
  void send_query_password(std::string_view uni) {
    auto& p = start();
    p.routing.push_back({':', "_source", root_, pp::ValueForm::text});
    p.entity.push_back({':', "_uniform", uni, pp::ValueForm::text});
    finish("_query_password", "This name has an account: give its _password.");
  }
  void send_error(std::string_view method, std::string_view text, std::string_view about = {}) {
    auto& p = start();
    p.routing.push_back({':', "_source", root_, pp::ValueForm::text});
    if (!uni_.empty()) p.routing.push_back({':', "_target", uni_, pp::ValueForm::text});
    if (!about.empty()) p.entity.push_back({':', "_uniform", about, pp::ValueForm::text});
    if (!current_method_.empty())
      p.entity.push_back({':', "_method_relay", current_method_, pp::ValueForm::text});
    finish(method, text);
  }

  void pause_for(std::chrono::steady_clock::duration wait) {
    hold_input(true);
    if (!resume_) resume_ = std::make_unique<asio::steady_timer>(executor());
    resume_->expires_after(wait + std::chrono::milliseconds(1));
    resume_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      auto& c = static_cast<Circuit&>(*self);
      if (!ec && !c.closed()) c.hold_input(false);  // feeds what waited
    });
  }

  // Stops reading what follows (on_data's loop) and closes once the output is sent.
  void end(std::string_view reason) {
    ending_ = true;
    close_after_flush(reason);
  }

  Runtime& rt_;
  PeerHub* hub_;          // null: no psyc.peers
  Peer* peer_ = nullptr;  // set when a configured peer node links over this circuit
  const config::Config& cfg_;
  std::string domain_, root_;
  pp::Parser parser_;
  protocols::TokenBucket bucket_;
  std::unique_ptr<asio::steady_timer> resume_;
  pp::Packet scratch_;
  std::string out_;
  std::map<std::string, std::string, std::less<>> state_;  // '=' routing state of the circuit
  std::chrono::steady_clock::time_point last_input_;
  core::SessionId session_ = 0;
  std::string nick_, uni_;
  std::string_view current_method_;  // while a handler runs: the packet's method
  bool greeted_ = false;
  bool ending_ = false;
  bool auth_pending_ = false;
  unsigned failures_ = 0;
};

}  // namespace

std::shared_ptr<protocols::Connection> make_circuit(protocols::Socket s,
                                                    std::shared_ptr<asio::ssl::context> tls,
                                                    protocols::Connection::Limits limits, Runtime& rt,
                                                    const config::Config& cfg, PeerHub* hub) {
  return std::make_shared<Circuit>(std::move(s), std::move(tls), limits, rt, cfg, hub);
}

void check_idle(protocols::Connection& c, std::chrono::steady_clock::time_point now) {
  auto& circuit = static_cast<Circuit&>(c);
  if (!circuit.closed() && !circuit.ending() && circuit.idle_since(now)) circuit.idle_close();
}

}  // namespace parley::adapters::psyc

#include "adapters/psyc/peer_link.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <deque>
#include <map>
#include <set>
#include <unordered_set>

#include "adapters/common/post_guarded.hpp"
#include "adapters/psyc/room_change_wire.hpp"
#include "core/core.hpp"
#include "core/plugin/hooks.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/common/reconnector.hpp"
#include "protocols/psyc/link_proof.hpp"
#include "protocols/psyc/list.hpp"
#include "protocols/psyc/method.hpp"
#include "protocols/psyc/parser.hpp"
#include "protocols/psyc/render.hpp"
#include "protocols/psyc/uniform.hpp"

namespace parley::adapters::psyc {

namespace pp = protocols::psyc;
using Clock = std::chrono::steady_clock;

struct Proxy;

struct Peer {
  config::PsycPeer cfg;
  std::string uniform;  // the peer's root uniform, as configured (or psyc://host)
  std::string host;     // its host, folded: the only host it may speak for
  std::string label;    // first label of host: suffix of mirror user names
  bool dialer = false;  // this node dials (its root uniform sorts first)
  std::shared_ptr<protocols::Reconnector> rec;

  // The authenticated link, and a handshake under way (never replaces `live` unless it succeeds).
  std::weak_ptr<protocols::Connection> live;
  std::weak_ptr<protocols::Connection> pending;
  enum class Stage : std::uint8_t {
    idle,
    wait_request,
    wait_query,
    wait_proof,
    wait_notice
  } stage = Stage::idle;
  std::string nonce;  // ours, for the pending handshake

  std::deque<std::string> queue;                          // rendered messages while the link is down
  std::map<std::string, std::unique_ptr<Proxy>> proxies;  // by remote person uniform
  std::map<std::string, std::set<std::string>> rooms;     // room -> remote uniforms (the mirror)
  std::set<std::string> synced;                           // rooms named in the resync under way
  // Remote persons kicked here whose kick the peer has not yet answered (room -> uniforms):
  // the kick waits in `queue` while the link is down, or is on its way while it is up, and
  // a member list or enter the peer sent before it applied the kick (its resync, or a
  // packet crossing the kick on the wire) does not bring them back. The peer's leave of
  // the person ends it (apply_leave), as does the end of a resync with nothing queued.
  std::map<std::string, std::set<std::string>> kicked;
  core::MessagePtr last_msg;  // one copy per message per peer
  std::string last_event;     // one copy per join/part per peer
  std::uint64_t sent = 0, received = 0;
  Clock::time_point last_sent{};
  bool limit_reported = false;
};

// A remote person as the local core sees it: a guest session that only this hub drives.
struct Proxy final : core::SessionSink {
  PeerHub::Impl* hub = nullptr;
  Peer* peer = nullptr;
  std::string uni, nick;
  core::SessionId id = 0;
  std::set<std::string> rooms;

  void on_message(const core::MessagePtr& m) override;
  void on_presence(const core::PresenceUpdate&) override {}
  void on_room_join(const core::Room& room, const core::Member& m, bool self) override;
  void on_room_leave(const core::Room& room, const core::Member& m, const core::LeaveReason& r,
                     bool self) override;
  void on_room_nick(const core::Room& room, const core::Member& before, const std::string& new_nick,
                    bool self) override;
  void on_room_topic(const core::Room& room, const core::Topic& t) override;
  void on_room_change(const core::Room& room, const core::RoomChange& c, const std::string& by) override;
  void on_terminate(const std::string& reason) override;
};

namespace {

// An outbound link (this node dialed), on the core strand like every PSYC circuit.
class PeerConnection final : public protocols::Connection {
 public:
  PeerConnection(protocols::ConnectedStream s, Limits limits, PeerHub::Impl& hub, Peer& peer, pp::Limits pl)
      : Connection(std::move(s.socket), std::move(s.tls), std::move(s.pending), limits),
        hub_(hub),
        peer_(peer),
        parser_(pl) {}

 protected:
  void on_open() override;
  std::size_t on_data(std::string_view data) override;
  void on_close(std::string_view reason) override;
  void on_read_overflow() override { close("peer packet too large"); }

 private:
  PeerHub::Impl& hub_;
  Peer& peer_;
  pp::Parser parser_;
};

// Packets are built from string_views; Built keeps the strings they point at alive.
struct Built {
  pp::Packet p;
  std::deque<std::string> keep;
  std::string_view k(std::string s) { return keep.emplace_back(std::move(s)); }
  void add(bool routing, char op, std::string_view name, std::string value) {
    auto v = k(std::move(value));
    (routing ? p.routing : p.entity).push_back({op, name, v, pp::ValueForm::text});
  }
  std::string render(std::string_view method, std::optional<std::string> data = std::nullopt) {
    p.content = true;
    p.method = method;
    if (data) {
      p.has_data = true;
      p.data = k(std::move(*data));
    }
    std::string out;
    pp::render(p, out);
    return out;
  }
};

}  // namespace

struct PeerHub::Impl {
  Runtime& rt;
  const config::Config& cfg;
  std::string domain, root;
  std::vector<std::unique_ptr<Peer>> peers;
  std::unordered_set<core::SessionId> proxy_ids;
  bool applying = false;
  core::HookHandle join_hook;  // a peer packet is being applied: nothing it causes is sent on
  bool stopped = false;

  Impl(Runtime& r, const config::Config& c)
      : rt(r), cfg(c), domain(c.server.domain), root(pp::root_uniform(c.server.domain)) {}

  pp::Limits limits() const {
    const auto& l = cfg.psyc.limits;
    return pp::Limits{l.max_name, l.max_value, l.max_content, l.max_modifiers};
  }

  // ---- link ----

  std::shared_ptr<protocols::Connection> link_of(Peer& p) { return p.live.lock(); }
  bool up(Peer& p) {
    auto c = p.live.lock();
    return c && !c->closed();
  }

  void write(Peer& p, protocols::Connection& c, std::string_view bytes) {
    c.send(bytes);
    ++p.sent;
    p.last_sent = Clock::now();
    spdlog::debug("psyc peer {}: packet {} sent ({} bytes)", p.uniform, p.sent, bytes.size());
  }
  bool send(Peer& p, std::string_view bytes) {
    auto c = p.live.lock();
    if (!c || c->closed()) return false;
    write(p, *c, bytes);
    return true;
  }

  // A room-state change (a kick, a mode change) for a peer whose link is down: queued with
  // the messages, replayed after the resync (answer_sync). False: psyc.peer_queue is full.
  bool send_or_queue(Peer& p, std::string bytes, std::string_view what) {
    if (send(p, bytes)) return true;
    if (p.queue.size() < cfg.psyc.peer_queue) {
      p.queue.push_back(std::move(bytes));
      spdlog::info("psyc peer {}: link down, {} queued for the relink", p.uniform, what);
      return true;
    }
    spdlog::warn("psyc peer {}: link down and {} messages queued; {} lost", p.uniform, p.queue.size(), what);
    return false;
  }

  void dial(Peer& p) {
    // psyc.peers[].tls: the peer's tls: listener, its certificate checked as irc.networks[]
    // does (protocols/common/connector: chain and name, and/or the pinned SHA-256).
    protocols::ConnectOptions o;
    o.tls = p.cfg.tls;
    o.verify = p.cfg.verify;
    o.fingerprint = p.cfg.fingerprint;
    protocols::BackoffPolicy b;
    b.min = std::chrono::milliseconds(1000);
    b.max = std::chrono::seconds(cfg.psyc.peer_backoff_max);
    p.rec = protocols::Reconnector::make(
        rt.core_strand, p.cfg.host, p.cfg.port, o, b,
        {.on_connected =
             [this, &p](protocols::ConnectedStream s) {
               protocols::Connection::Limits l;
               l.max_read_buffer = pp::max_packet_size(limits());
               l.max_write_queue = cfg.psyc.sendq;
               auto c = std::make_shared<PeerConnection>(std::move(s), l, *this, p, limits());
               p.pending = c;
               p.stage = Peer::Stage::wait_query;
               c->start();
             },
         .on_failed =
             [&p](const protocols::ConnectError& e, std::optional<std::chrono::milliseconds> retry) {
               using K = protocols::ConnectError::Kind;
               if (e.kind == K::pin_mismatch || e.kind == K::tls_verify)  // not a network hiccup
                 spdlog::warn("psyc peer {}: certificate refused ({}: {}); not linked, retry in {} ms",
                              p.uniform, protocols::to_string(e.kind), e.reason, retry ? retry->count() : -1);
               else
                 spdlog::info("psyc peer {}: connect failed ({}); retry in {} ms", p.uniform, e.reason,
                              retry ? retry->count() : -1);
             }});
    p.rec->start();
  }

  void opened(Peer& p, protocols::Connection& c) {  // dialer: greeting and the first request
    p.nonce = pp::make_nonce();
    c.send(pp::kEmptyPacket);
    Built b;
    b.add(true, ':', "_source", root);
    b.add(true, ':', "_target", p.uniform);
    b.add(false, ':', "_nonce_link", p.nonce);
    c.send(b.render("_request_link"));
  }

  void refuse(Peer& p, protocols::Connection& c, std::string_view why) {
    spdlog::warn("psyc peer {}: link refused: {}", p.uniform, why);
    Built b;
    b.add(true, ':', "_source", root);
    c.send(b.render("_error_invalid_proof", std::string(why)));
  }

  void link_up(Peer& p, protocols::Connection& c) {
    auto old = p.live.lock();
    p.live = c.weak_from_this();
    p.pending.reset();
    p.stage = Peer::Stage::idle;
    if (old && old.get() != &c) old->close("replaced by a new link");
    c.clear_deadline();
    spdlog::info("psyc peer {}: link up ({}){}", p.uniform, p.dialer ? "dialed" : "accepted",
                 c.is_tls() ? " over TLS" : "");
    // Resynchronise: ask for the peer's context state (Spec:Packet state operator '?').
    Built b;
    b.p.state_sync = "?\n";
    b.p.content = true;
    std::string out;
    pp::render(b.p, out);
    write(p, c, out);
  }

  // The handshake (peer_link.hpp); false closes the connection.
  bool handshake(Peer& p, protocols::Connection& c, const pp::Packet& pk) {
    if (p.cfg.secret.empty()) {
      refuse(p, c, "no secret configured for this peer");
      return false;
    }
    if (p.dialer) {
      if (p.stage == Peer::Stage::wait_query && pk.method == "_query_link_proof") {
        auto expect = pp::link_proof(p.cfg.secret, "acceptor", p.uniform, root, p.nonce);
        if (!pp::proof_matches(expect, pk.get("_proof_link"))) {
          spdlog::warn("psyc peer {}: its link proof is wrong (another secret?); closing", p.uniform);
          return false;
        }
        std::string their(pk.get("_nonce_link"));
        if (their.size() < 32 || their.size() > 256) return false;
        Built b;
        b.add(true, ':', "_source", root);
        b.add(true, ':', "_target", p.uniform);
        b.add(false, ':', "_proof_link", pp::link_proof(p.cfg.secret, "dialer", root, p.uniform, their));
        c.send(b.render("_request_link"));
        p.stage = Peer::Stage::wait_notice;
        return true;
      }
      if (p.stage == Peer::Stage::wait_notice && pk.method == "_notice_link") {
        link_up(p, c);
        return true;
      }
      if (pk.method.substr(0, 6) == "_error") {
        spdlog::warn("psyc peer {}: refused our link: {} {}", p.uniform, pk.method, pk.data);
        return false;
      }
      return pk.method.empty();
    }
    // Acceptor. A peer configured with tls links over TLS only: a plain circuit claiming
    // to be it is refused before any proof (no downgrade of the link's privacy).
    if (p.cfg.tls && !c.is_tls()) {
      refuse(p, c, "this peer links over TLS only");
      return false;
    }
    if (pk.method != "_request_link") {
      if (pk.method.empty()) return true;
      refuse(p, c, "link first");
      return false;
    }
    if (const auto* proof = pk.find_entity("_proof_link")) {
      if (p.stage != Peer::Stage::wait_proof) return false;
      auto expect = pp::link_proof(p.cfg.secret, "dialer", p.uniform, root, p.nonce);
      if (!pp::proof_matches(expect, proof->value)) {
        refuse(p, c, "wrong link proof");
        return false;
      }
      Built b;
      b.add(true, ':', "_source", root);
      b.add(true, ':', "_target", p.uniform);
      c.send(b.render("_notice_link", "Linked."));
      link_up(p, c);
      return true;
    }
    std::string their(pk.get("_nonce_link"));
    if (their.size() < 32 || their.size() > 256) {
      refuse(p, c, "no usable _nonce_link");
      return false;
    }
    p.nonce = pp::make_nonce();
    p.stage = Peer::Stage::wait_proof;
    Built b;
    b.add(true, ':', "_source", root);
    b.add(true, ':', "_target", p.uniform);
    b.add(false, ':', "_nonce_link", p.nonce);
    b.add(false, ':', "_proof_link", pp::link_proof(p.cfg.secret, "acceptor", root, p.uniform, their));
    c.send(b.render("_query_link_proof"));
    return true;
  }

  bool packet(Peer& p, protocols::Connection& c, const pp::Packet& pk) {
    if (stopped) return false;
    auto live = p.live.lock();
    if (live.get() != &c) {
      auto pend = p.pending.lock();
      if (pend.get() != &c) {
        if (p.dialer) return false;  // a stale connection
        // Acceptor: a new handshake replaces a pending one, never the live link.
        if (pend) pend->close("replaced by a new handshake");
        p.pending = c.weak_from_this();
        p.stage = Peer::Stage::wait_request;
      }
      return handshake(p, c, pk);
    }
    ++p.received;
    if (pk.state_sync.find('?') != std::string_view::npos) answer_sync(p);
    if (pk.method.empty()) return true;  // keepalive, or a resync request only
    applying = true;
    bool ok = true;
    pp::dispatch_by_family(pk.method, [&](std::string_view m) {
      if (m == "_notice_context_enter") return ok = apply_enter(p, pk), true;
      if (m == "_notice_context_leave") return ok = apply_leave(p, pk), true;
      if (m == "_notice_context_nick") return apply_nick(p, pk), true;
      if (m == "_notice_context_topic") return apply_topic(p, pk, false), true;
      if (m == "_notice_context_change") return ok = apply_change(p, pk), true;
      if (m == "_status_context_members") return ok = apply_members(p, pk), true;
      if (m == "_status_context_synchronised") return apply_synchronised(p), true;
      if (m == "_message") return apply_message(p, pk), true;
      if (m == "_error") {
        spdlog::warn("psyc peer {}: {} {}", p.uniform, pk.method, pk.data);
        return true;
      }
      return false;
    });
    applying = false;
    // One fan-out is over: the next local event is new even if it looks like the last one
    // (last_event only folds the copies the core hands each mirror session of one event).
    for (auto& q : peers) q->last_event.clear();
    return ok;
  }

  void closed(Peer& p, protocols::Connection& c) {
    if (p.pending.lock().get() == &c) p.pending.reset();
    bool was_live = p.live.lock().get() == &c;
    if (was_live) {
      p.live.reset();
      spdlog::info("psyc peer {}: link down, {} packets sent, {} received", p.uniform, p.sent, p.received);
    }
    if (p.dialer && p.rec && !stopped && (was_live || p.live.expired())) p.rec->connection_lost();
  }

  // ---- the mirror of remote members (applying == true) ----

  // A `_time_*` value: unix seconds, digits only, before the year 10000.
  static std::optional<std::int64_t> unix_seconds(std::string_view v) {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || n < 0 || n > 253'402'300'799)
      return {};
    return n;
  }

  std::string room_of(Peer& p, const pp::Packet& pk) {
    pp::Uniform u;
    auto ctx = pk.get("_context");
    if (pp::parse_uniform(ctx, u) || u.kind != '@' || !u.channel.empty()) return {};
    std::string room = protocols::ascii_fold(u.name);
    return core::is_valid_local_name(room) ? room : std::string{};
  }

  // A remote person's uniform, only on the peer's own host.
  bool own_person(Peer& p, std::string_view uni, pp::Uniform& u) {
    return !pp::parse_uniform(uni, u) && u.kind == '~' && u.channel.empty() &&
           protocols::ascii_fold(u.host) == p.host;
  }

  void limit_error(Peer& p, std::string_view what) {
    spdlog::warn("psyc peer {}: {} (psyc.peer_members = {})", p.uniform, what, cfg.psyc.peer_members);
    if (p.limit_reported) return;
    p.limit_reported = true;
    Built b;
    b.add(true, ':', "_source", root);
    send(p, b.render("_error_limit_members", std::string(what)));
  }

  Proxy* ensure_member(Peer& p, const std::string& room, std::string_view uni, std::string_view nick) {
    pp::Uniform u;
    if (!own_person(p, uni, u)) {
      spdlog::warn("psyc peer {}: ignored a member not of its host: {}", p.uniform, uni);
      return nullptr;
    }
    auto& members = p.rooms[room];
    std::string key(uni);
    if (members.count(key)) return p.proxies[key].get();
    if (members.size() >= cfg.psyc.peer_members) {
      limit_error(p, "too many members in one context");
      return nullptr;
    }
    auto it = p.proxies.find(key);
    if (it == p.proxies.end()) {
      if (p.proxies.size() >= cfg.psyc.peer_members) {
        limit_error(p, "too many remote persons");
        return nullptr;
      }
      std::string user = protocols::ascii_fold(u.name) + "." + p.label;
      if (user.size() > core::kMaxLocalName) user.resize(core::kMaxLocalName);
      if (!core::is_valid_local_name(user)) {
        spdlog::warn("psyc peer {}: no local name for {}", p.uniform, uni);
        return nullptr;
      }
      auto proxy = std::make_unique<Proxy>();
      proxy->hub = this;
      proxy->peer = &p;
      proxy->uni = key;
      core::SessionOpen o;
      o.user = core::Address::user(user);
      o.protocol = core::Protocol::psyc;
      o.guest = true;
      o.host = p.cfg.host;
      o.sink = proxy.get();
      auto r = rt.core.sessions().open(std::move(o));
      if (!r) {
        spdlog::warn("psyc peer {}: no session for {}: {}", p.uniform, uni, r.error().text);
        return nullptr;
      }
      proxy->id = *r;
      proxy_ids.insert(*r);
      it = p.proxies.emplace(key, std::move(proxy)).first;
    }
    Proxy& px = *it->second;
    std::string n = nick.empty() ? std::string(u.name) : std::string(nick);
    auto j = rt.core.rooms().join(px.id, core::JoinRequest{room, n, {}, 0});
    if (!j && j.error().condition == core::Condition::conflict)  // a local member has the nick
      j = rt.core.rooms().join(px.id, core::JoinRequest{room, n + "_" + p.label, {}, 0});
    if (!j) {
      spdlog::warn("psyc peer {}: {} cannot enter {}: {}", p.uniform, uni, room, j.error().text);
      if (px.rooms.empty()) drop_proxy(p, key);
      return nullptr;
    }
    px.nick = n;
    px.rooms.insert(room);
    members.insert(key);
    return &px;
  }

  void drop_proxy(Peer& p, const std::string& uni) {
    auto it = p.proxies.find(uni);
    if (it == p.proxies.end()) return;
    if (it->second->id) {
      proxy_ids.erase(it->second->id);
      rt.core.sessions().close(it->second->id, "left");
    }
    p.proxies.erase(it);
  }

  void drop_member(Peer& p, const std::string& room, const std::string& uni, const std::string& reason,
                   const std::string& kicker = {}) {
    auto r = p.rooms.find(room);
    if (r == p.rooms.end() || !r->second.erase(uni)) return;
    if (r->second.empty()) p.rooms.erase(r);
    auto it = p.proxies.find(uni);
    if (it == p.proxies.end()) return;
    auto& px = *it->second;
    px.rooms.erase(room);
    if (px.id) {
      if (kicker.empty())
        (void)rt.core.rooms().leave(px.id, room, reason);
      else  // kicked on its own node: members here see the kick, not a part
        (void)rt.core.rooms().remove_as(px.id, room, {core::LeaveReason::Kind::kick, kicker, reason});
    }
    if (px.rooms.empty()) drop_proxy(p, uni);
  }

  // Rooms with no local member are not mirrored: nobody here would see them, and no
  // mirror session would be there to observe the room (peer_link.hpp).
  bool has_locals(const std::string& room) const {
    if (const core::Room* r = rt.core.rooms().find(room))
      for (const auto& [sid, mem] : r->members)
        if (!proxy_ids.count(sid)) return true;
    return false;
  }

  bool apply_enter(Peer& p, const pp::Packet& pk) {
    std::string room = room_of(p, pk);
    if (room.empty() || !has_locals(room)) return true;
    std::vector<std::string_view> unis;
    if (pp::parse_list(pk.get("_list_members"), unis, 1) || unis.size() != 1) return false;
    bool first = !p.rooms.count(room);
    if (kicked_here(p, room, unis[0])) return true;
    if (ensure_member(p, room, unis[0], pk.get("_nick")) && first) send_room_state(p, room);
    return true;
  }

  bool apply_leave(Peer& p, const pp::Packet& pk) {
    std::string room = room_of(p, pk);
    if (room.empty()) return true;
    std::vector<std::string_view> unis;
    if (pp::parse_list(pk.get("_list_members"), unis, 1) || unis.size() != 1) return false;
    std::string kicker(pk.get("_nick_kicker")), reason(pk.get("_reason"));
    pp::Uniform u;
    if (!kicker.empty() && !pp::parse_uniform(unis[0], u) && u.kind == '~' &&
        protocols::ascii_fold(u.host) == protocols::ascii_fold(domain)) {
      // A member of ours, kicked on the peer's node: only in a room the peer shares with us.
      // Once the member is out, the peer is told so: until then it ignores what we said of
      // them before the kick reached us (`kicked`), which may have crossed it on the wire.
      if (p.rooms.count(room)) {
        if (kick_local(room, unis[0], kicker, reason)) send(p, leave_notice(room, unis[0], &kicker, reason));
      } else if (!local_member(room, unis[0])) {
        // Not shared any more: our last member left and that leave crossed the kick. The
        // member is out; the answer still lets the peer stop ignoring them in this room
        // (else a later join of theirs would stay unseen there until the link resyncs).
        send(p, leave_notice(room, unis[0], &kicker, reason));
      }
      return true;
    }
    // A kick there answers ours (or went out before it: then the answer follows); a plain
    // part may have been sent before the kick arrived, with an enter after it.
    if (auto k = p.kicked.find(room);
        !kicker.empty() && k != p.kicked.end() && k->second.erase(std::string(unis[0])) && k->second.empty())
      p.kicked.erase(k);
    drop_member(p, room, std::string(unis[0]), reason, kicker);
    return true;
  }

  // `_notice_context_leave` of one person from a room of ours; a kick when `kicker` is set
  // ("*" for the node itself).
  std::string leave_notice(const std::string& room, std::string_view uni, const std::string* kicker,
                           const std::string& reason) const {
    Built b;
    b.add(true, ':', "_context", pp::place_uniform(domain, room));
    std::string list;
    pp::render_list({std::string(uni)}, list);
    b.add(false, '-', "_list_members", std::move(list));
    if (!reason.empty()) b.add(false, ':', "_reason", reason);
    if (kicker) b.add(false, ':', "_nick_kicker", kicker->empty() ? std::string("*") : *kicker);
    return b.render("_notice_context_leave");
  }

  // A moderator on a peer's node kicked one of our members there (its mirror session): the
  // peer checked the kicker's rights, this node applies the kick to the member itself, so
  // every node shows it. The kick of a member is context state of the member's node.
  // True when the member is not in the room afterwards.
  bool kick_local(const std::string& room, std::string_view uni, const std::string& kicker,
                  const std::string& reason) {
    const core::SessionId target = local_member(room, uni);
    if (!target) return true;
    if (!rt.core.rooms().remove_as(target, room, {core::LeaveReason::Kind::kick, kicker, reason}))
      return false;
    // Our last member gone: stop mirroring the room (observe_member did not see this leave:
    // it was caused by a peer packet).
    if (!has_locals(room))
      post_guarded(rt.core_strand, "psyc: drop mirror", [this, room] { drop_room(room); });
    return true;
  }

  // The session of our member `uni` in `room`, or 0.
  core::SessionId local_member(const std::string& room, std::string_view uni) const {
    if (const core::Room* r = rt.core.rooms().find(room))
      for (const auto& [sid, m] : r->members)
        if (!proxy_ids.count(sid) && pp::person_uniform(domain, m.user.id()) == uni) return sid;
    return 0;
  }

  void apply_nick(Peer& p, const pp::Packet& pk) {
    std::string room = room_of(p, pk);
    auto it = p.proxies.find(std::string(pk.get("_source_relay")));
    std::string nick(pk.get("_nick_new"));
    if (room.empty() || it == p.proxies.end() || !it->second->rooms.count(room) || nick.empty()) return;
    Proxy& px = *it->second;
    auto st = rt.core.rooms().change_nick(px.id, room, nick);
    if (!st && st.error().condition == core::Condition::conflict)  // a local member has the nick
      st = rt.core.rooms().change_nick(px.id, room, nick + "_" + p.label);
    if (!st) {
      spdlog::debug("psyc peer {}: nick change in {} refused: {}", p.uniform, room, st.error().text);
      return;
    }
    px.nick = nick;
  }

  // `resync`: from the room's state after a link came up. The newer topic wins on both
  // nodes (`_time_topic`, unix seconds, when it was set where it was set; a tie goes to the
  // greater text), so a topic set while the link was down reaches the other node and two
  // set while apart converge. A peer that sends no time: applied only when this node has none.
  void apply_topic(Peer& p, const pp::Packet& pk, bool resync) {
    std::string room = room_of(p, pk);
    const auto* t = pk.find_entity("_topic");
    if (room.empty() || !t || !p.rooms.count(room)) return;
    const core::Room* r = rt.core.rooms().find(room);
    if (!r || r->topic.text == t->value) return;
    std::optional<std::int64_t> when = unix_seconds(pk.get("_time_topic"));
    if (resync && !r->topic.text.empty()) {
      const std::int64_t ours = core::to_unix_ms(r->topic.set_at) / 1000;
      if (!when || *when < ours || (*when == ours && t->value < std::string_view(r->topic.text))) return;
    }
    core::Timestamp at = when ? core::from_unix_ms(*when * 1000) : core::Timestamp{};
    auto st = rt.core.rooms().set_topic_as(room, std::string(t->value), std::string(pk.get("_nick")), at);
    if (!st) spdlog::debug("psyc peer {}: topic of {} not kept: {}", p.uniform, room, st.error().text);
  }

  bool apply_members(Peer& p, const pp::Packet& pk) {
    std::string room = room_of(p, pk);
    if (room.empty()) return true;
    const auto* list = pk.find_entity("_list_members");
    const auto* nicks = pk.find_entity("_list_members_nicks");
    if (!list) return true;
    std::vector<std::string_view> unis, ns;
    const char* why = pp::parse_list(list->value, unis, cfg.psyc.peer_members + 1);
    if (!why && nicks) why = pp::parse_list(nicks->value, ns, cfg.psyc.peer_members + 1);
    if (!why && nicks && ns.size() != unis.size()) why = "nicks do not match members";
    if (why) {
      spdlog::warn("psyc peer {}: bad member list: {}", p.uniform, why);
      return false;
    }
    p.synced.insert(room);
    if (!has_locals(room)) return true;
    const bool first = !p.rooms.count(room);
    bool fresh = first;
    if (list->op == '=' || fresh) {  // replace: drop who is no longer there
      std::set<std::string> want(unis.begin(), unis.end());
      if (auto r = p.rooms.find(room); r != p.rooms.end()) {
        std::vector<std::string> gone;
        for (const auto& u : r->second)
          if (!want.count(u)) gone.push_back(u);
        for (const auto& u : gone) drop_member(p, room, u, "gone");
      }
    }
    for (std::size_t i = 0; i < unis.size(); ++i)
      if (!kicked_here(p, room, unis[i]))
        ensure_member(p, room, unis[i], i < ns.size() ? ns[i] : std::string_view{});
    if (list->op == '=') apply_topic(p, pk, true);
    // The peer announced a room we had no mirror of: it does not know our members either.
    if (first && list->op == '=') send_room_state(p, room);
    return true;
  }

  // A person this node kicked whose kick the peer has not answered yet (`Peer::kicked`).
  bool kicked_here(Peer& p, const std::string& room, std::string_view uni) const {
    auto it = p.kicked.find(room);
    return it != p.kicked.end() && it->second.count(std::string(uni));
  }

  void apply_synchronised(Peer& p) {
    // The peer's state is in; the kicks queued meanwhile went out before it (answer_sync
    // ran on the peer's '?', which precedes its state on the link): it has applied them.
    if (p.queue.empty()) p.kicked.clear();
    std::vector<std::string> stale;
    for (const auto& [room, members] : p.rooms)
      if (!p.synced.count(room)) stale.push_back(room);
    for (const auto& room : stale) {
      auto members = p.rooms[room];
      for (const auto& u : members) drop_member(p, room, u, "gone");
    }
    p.synced.clear();
  }

  // A room change decided on the peer's node (room_change_wire.hpp): applied as given, as
  // kicks and topics are; members here see it as made by `_nick`.
  bool apply_change(Peer& p, const pp::Packet& pk) {
    std::string room = room_of(p, pk);
    if (room.empty() || !p.rooms.count(room)) return true;
    std::vector<std::string_view> items;
    core::RoomChange c;
    const char* why = pp::parse_list(pk.get("_list_change"), items, cfg.psyc.limits.max_value);
    std::optional<std::string> bad;
    if (!why)
      bad = parse_change_items(
          items, [&](std::string_view uni) { return member_nick(room, uni); }, c);
    if (why || bad) {
      spdlog::warn("psyc peer {}: bad room change: {}", p.uniform, why ? std::string(why) : *bad);
      return false;
    }
    if (c.empty()) return true;
    auto st = rt.core.rooms().change_as(room, c, std::string(pk.get("_nick")));
    if (!st) spdlog::debug("psyc peer {}: change of {} not applied: {}", p.uniform, room, st.error().text);
    return true;
  }

  void apply_message(Peer& p, const pp::Packet& pk) {
    std::string room = room_of(p, pk);
    auto it = p.proxies.find(std::string(pk.get("_source_relay")));
    if (room.empty() || it == p.proxies.end() || !it->second->rooms.count(room) || !pk.has_data) return;
    core::Message m;
    m.body = std::string(pk.data);
    m.kind =
        pk.method.substr(0, 15) == "_message_action" ? core::MessageKind::action : core::MessageKind::room;
    m.origin.protocol = core::Protocol::psyc;
    m.origin.session = it->second->id;
    if (const auto* info = rt.core.sessions().find(it->second->id)) m.from = info->user;
    // Its own node checked the sender's voice (this node's view of a remote person's
    // status may lag): say_as.
    auto st = rt.core.rooms().say_as(it->second->id, room, std::move(m));
    if (!st) spdlog::debug("psyc peer {}: message to {} refused: {}", p.uniform, room, st.error().text);
  }

  // ---- our state, sent to a peer ----

  // The local members of `room` as context state: one packet, or '=' then '+' packets when
  // the lists would not fit psyc.limits.max_value.
  void send_room_state(Peer& p, const std::string& room) {
    const core::Room* r = rt.core.rooms().find(room);
    if (!r) return;
    std::string place = pp::place_uniform(domain, room);
    std::vector<std::string> unis, nicks;
    for (const auto& [sid, m] : r->members) {
      if (proxy_ids.count(sid)) continue;
      unis.push_back(pp::person_uniform(domain, m.user.id()));
      nicks.push_back(m.nick);
    }
    if (unis.empty()) return;
    const std::size_t budget = cfg.psyc.limits.max_value / 2;
    std::size_t i = 0;
    bool first = true;
    while (i < unis.size()) {
      std::vector<std::string_view> u, n;
      std::size_t bytes = 0;
      while (i < unis.size() && (u.empty() || bytes + unis[i].size() + nicks[i].size() + 16 < budget)) {
        bytes += unis[i].size() + nicks[i].size() + 16;
        u.push_back(unis[i]);
        n.push_back(nicks[i]);
        ++i;
      }
      std::string lu, ln;
      pp::render_list(u, lu);
      pp::render_list(n, ln);
      Built b;
      b.add(true, ':', "_context", place);
      b.add(false, first ? '=' : '+', "_list_members", std::move(lu));
      b.add(false, first ? '=' : '+', "_list_members_nicks", std::move(ln));
      if (first && !r->topic.text.empty()) {
        b.add(false, '=', "_topic", r->topic.text);
        b.add(false, '=', "_time_topic", std::to_string(core::to_unix_ms(r->topic.set_at) / 1000));
        b.add(false, ':', "_nick", r->topic.set_by);
      }
      send(p, b.render("_status_context_members"));
      first = false;
    }
  }

  void answer_sync(Peer& p) {
    for (const core::Room* r : rt.core.rooms().list()) send_room_state(p, r->name);
    Built b;
    b.add(true, ':', "_source", root);
    send(p, b.render("_status_context_synchronised"));
    // What local members said while the link was down, after the state that makes it land.
    while (!p.queue.empty() && send(p, p.queue.front())) p.queue.pop_front();
  }

  // ---- local events, observed through the mirror sessions ----

  bool local(core::SessionId s) const { return !applying && !proxy_ids.count(s); }

  void observe_message(Peer& p, const core::MessagePtr& m) {
    if (!m->to.is_room() || !local(m->origin.session) || p.last_msg == m) return;
    p.last_msg = m;
    Built b;
    b.add(true, ':', "_context", pp::place_uniform(domain, m->to.id()));
    b.add(true, ':', "_source_relay", pp::person_uniform(domain, m->from.id()));
    b.add(false, ':', "_nick", m->nick);
    auto bytes =
        b.render(m->kind == core::MessageKind::action ? "_message_action" : "_message_public", m->body);
    if (send(p, bytes)) return;
    if (p.queue.size() < cfg.psyc.peer_queue) {
      p.queue.push_back(std::move(bytes));
      return;
    }
    // Never dropped silently: the sender is told (posted: we are inside the core's fan-out).
    spdlog::warn("psyc peer {}: link down and {} messages queued; refusing one", p.uniform, p.queue.size());
    post_guarded(rt.core_strand, "psyc: peer queue full",
                 [&core = rt.core, s = m->origin.session, id = m->id, peer = p.uniform] {
                   if (const auto* info = core.sessions().find(s); info && info->sink)
                     info->sink->on_error(
                         id, core::make_error(core::Condition::resource_constraint,
                                              "The link to " + peer + " is down and its queue is full."));
                 });
  }

  void observe_member(Peer& p, const core::Room& room, const core::Member& m, bool enter,
                      const core::LeaveReason* r) {
    if (!local(m.session)) return;
    std::string key = (enter ? "+" : "-") + room.name + "|" + std::to_string(m.session);
    if (p.last_event == key) return;
    p.last_event = key;
    Built b;
    b.add(true, ':', "_context", pp::place_uniform(domain, room.name));
    // A _list variable holds a list (Spec:Packet), even of one element.
    std::string uni = pp::person_uniform(domain, m.user.id()), list;
    pp::render_list({uni}, list);
    b.add(false, enter ? '+' : '-', "_list_members", std::move(list));
    b.add(false, ':', "_nick", m.nick);
    if (r && !r->text.empty()) b.add(false, ':', "_reason", r->text);
    if (r && is_kick(*r)) b.add(false, ':', "_nick_kicker", r->by.empty() ? std::string("*") : r->by);
    send(p, b.render(enter ? "_notice_context_enter" : "_notice_context_leave"));  // down: the resync tells
    if (!enter) {
      // The last local member gone: this node stops mirroring the room (posted: the core
      // is walking the room right now).
      for (const auto& [sid, mem] : room.members)
        if (sid != m.session && !proxy_ids.count(sid)) return;
      post_guarded(rt.core_strand, "psyc: drop mirror", [this, name = room.name] { drop_room(name); });
    }
  }

  static bool is_kick(const core::LeaveReason& r) {
    return r.kind == core::LeaveReason::Kind::kick || r.kind == core::LeaveReason::Kind::ban;
  }

  // A remote person's mirror session was kicked here by a local moderator: its own node is
  // told (it removes the person there, everyone sees the kick), and the mirror forgets it
  // (posted: the core is walking the room).
  void observe_kicked_proxy(Peer& p, Proxy& px, const std::string& room_name, const core::LeaveReason& r) {
    if (applying || stopped) return;
    // Until the peer answers with the person's leave, what it says of them is from before
    // the kick (`kicked`); down, the kick is queued and the resync will not bring them back.
    auto bytes = leave_notice(room_name, px.uni, &r.by, r.text);
    if (up(p)) {
      send(p, bytes);
      p.kicked[room_name].insert(px.uni);
    } else if (send_or_queue(p, std::move(bytes), "a kick")) {
      p.kicked[room_name].insert(px.uni);
    }
    post_guarded(rt.core_strand, "psyc: kicked mirror", [this, &p, uni = px.uni, name = room_name] {
      if (stopped) return;
      auto rm = p.rooms.find(name);
      if (rm == p.rooms.end() || !rm->second.erase(uni)) return;
      if (rm->second.empty()) p.rooms.erase(rm);
      auto it = p.proxies.find(uni);
      if (it == p.proxies.end()) return;
      it->second->rooms.erase(name);
      if (it->second->rooms.empty()) drop_proxy(p, uni);
    });
  }

  void observe_nick(Peer& p, const core::Room& room, const core::Member& before, const std::string& nick) {
    if (!local(before.session)) return;
    std::string key = "n" + room.name + "|" + std::to_string(before.session) + "|" + nick;
    if (p.last_event == key) return;
    p.last_event = key;
    Built b;
    b.add(true, ':', "_context", pp::place_uniform(domain, room.name));
    b.add(true, ':', "_source_relay", pp::person_uniform(domain, before.user.id()));
    b.add(false, ':', "_nick", before.nick);
    b.add(false, ':', "_nick_new", nick);
    send(p, b.render("_notice_context_nick"));  // down: the resync carries the nicks
  }

  void observe_topic(Peer& p, const core::Room& room, const core::Topic& t) {
    if (applying) return;  // a topic from a peer is not sent on
    std::string key =
        "t" + room.name + "|" + std::to_string(t.set_at.time_since_epoch().count()) + "|" + t.text;
    if (p.last_event == key) return;
    p.last_event = key;
    Built b;
    b.add(true, ':', "_context", pp::place_uniform(domain, room.name));
    b.add(false, '=', "_topic", t.text);
    b.add(false, '=', "_time_topic", std::to_string(core::to_unix_ms(t.set_at) / 1000));
    b.add(false, ':', "_nick", t.set_by);
    send(p, b.render("_notice_context_topic"));  // down: the resync carries the topic
  }

  // A change to the room's settings or a member's status made here (not one a peer sent:
  // those are applied with `applying`): one `_notice_context_change` per peer, queued while
  // the link is down (room_change_wire.hpp says what crosses). Split to fit max_value.
  void observe_change(Peer& p, const core::Room& room, const core::RoomChange& c, const std::string& by) {
    if (applying) return;
    auto items = change_items(c, [&](std::string_view nick) { return member_uniform(room, nick); });
    if (items.empty()) return;
    std::string key = "c" + room.name + "|" + by;
    for (const auto& i : items) key += "|" + i;
    if (p.last_event == key) return;
    p.last_event = key;
    const std::size_t budget = cfg.psyc.limits.max_value / 2;
    std::size_t i = 0;
    while (i < items.size()) {
      std::vector<std::string_view> part;
      std::size_t bytes = 0;
      while (i < items.size() && (part.empty() || bytes + items[i].size() + 16 < budget)) {
        bytes += items[i].size() + 16;
        part.push_back(items[i++]);
      }
      std::string list;
      pp::render_list(part, list);
      Built b;
      b.add(true, ':', "_context", pp::place_uniform(domain, room.name));
      b.add(false, ':', "_nick", by);
      b.add(false, ':', "_list_change", std::move(list));
      send_or_queue(p, b.render("_notice_context_change"), "a room change");
    }
  }

  // The uniform of the member `nick` of `room`: a remote person's own, or one of ours.
  std::string member_uniform(const core::Room& room, std::string_view nick) const {
    const core::Member* m = room.find_nick(nick);
    if (!m) return {};
    if (!proxy_ids.count(m->session)) return pp::person_uniform(domain, m->user.id());
    for (const auto& p : peers)
      for (const auto& [uni, px] : p->proxies)
        if (px->id == m->session) return uni;
    return {};
  }

  // The nick here of the person `uni` in `room`: one of ours, or a remote person's mirror.
  std::string member_nick(const std::string& room, std::string_view uni) const {
    const core::Room* r = rt.core.rooms().find(room);
    if (!r) return {};
    pp::Uniform u;
    if (pp::parse_uniform(uni, u) || u.kind != '~') return {};
    if (protocols::ascii_fold(u.host) == protocols::ascii_fold(domain)) {
      for (const auto& [sid, m] : r->members)
        if (!proxy_ids.count(sid) && pp::person_uniform(domain, m.user.id()) == uni) return m.nick;
      return {};
    }
    for (const auto& p : peers)
      if (auto it = p->proxies.find(std::string(uni)); it != p->proxies.end()) {
        auto m = r->members.find(it->second->id);
        return m == r->members.end() ? std::string() : m->second.nick;
      }
    return {};
  }

  // room/join hook (posted): a local member entered `room`; a peer with no mirror session
  // there would not see it, so it gets the room's state.
  void announce(const std::string& room) {
    if (stopped) return;
    for (auto& p : peers)
      if (up(*p) && !p->rooms.count(room)) send_room_state(*p, room);
  }

  void drop_room(const std::string& name) {
    if (stopped) return;
    if (const core::Room* r = rt.core.rooms().find(name))
      for (const auto& [sid, mem] : r->members)
        if (!proxy_ids.count(sid)) return;  // someone came back meanwhile
    applying = true;
    for (auto& p : peers) {
      auto it = p->rooms.find(name);
      if (it == p->rooms.end()) continue;
      auto members = it->second;
      for (const auto& u : members) drop_member(*p, name, u, "no local members");
    }
    applying = false;
  }
};

void Proxy::on_message(const core::MessagePtr& m) { hub->observe_message(*peer, m); }
void Proxy::on_room_join(const core::Room& room, const core::Member& m, bool self) {
  if (!self) hub->observe_member(*peer, room, m, true, nullptr);
}
void Proxy::on_room_leave(const core::Room& room, const core::Member& m, const core::LeaveReason& r,
                          bool self) {
  if (!self)
    hub->observe_member(*peer, room, m, false, &r);
  else if (PeerHub::Impl::is_kick(r))
    hub->observe_kicked_proxy(*peer, *this, room.name, r);
}
// A KILL (`parleyd ctl kick`, or any end the core makes) of a mirror session is a kick from
// every room it is in: the person's own node removes them there, and a later join mirrors
// them afresh. Left as a proxy with no session it would silently drop everything they say
// here while both nodes still list them.
void Proxy::on_terminate(const std::string& reason) {
  const std::set<std::string> in = rooms;  // the posted clean-ups edit `rooms`
  for (const auto& name : in)
    hub->observe_kicked_proxy(*peer, *this, name, core::LeaveReason{core::LeaveReason::Kind::kick, {}, reason});
  // After the core's close() (which still needs the id known as a mirror's, so that its
  // quit is not sent on as a local member's): forget the id and whatever is left of it.
  post_guarded(hub->rt.core_strand, "psyc: killed mirror", [hub = hub, p = peer, uni = uni, old = id] {
    if (hub->stopped) return;
    hub->proxy_ids.erase(old);
    if (auto it = p->proxies.find(uni); it != p->proxies.end() && it->second->id == 0) hub->drop_proxy(*p, uni);
  });
  id = 0;
}
void Proxy::on_room_nick(const core::Room& room, const core::Member& before, const std::string& new_nick,
                         bool self) {
  if (!self) hub->observe_nick(*peer, room, before, new_nick);
}
void Proxy::on_room_topic(const core::Room& room, const core::Topic& t) {
  hub->observe_topic(*peer, room, t);
}
void Proxy::on_room_change(const core::Room& room, const core::RoomChange& c, const std::string& by) {
  hub->observe_change(*peer, room, c, by);
}

namespace {

void PeerConnection::on_open() { hub_.opened(peer_, *this); }

std::size_t PeerConnection::on_data(std::string_view data) {
  std::size_t used = 0;
  while (used < data.size() && !closed()) {
    auto st = parser_.parse(data.substr(used));
    if (st == pp::Status::need_more) break;
    if (st == pp::Status::error) {
      spdlog::warn("psyc peer {}: malformed packet: {}", peer_.uniform, parser_.error());
      close("malformed packet");
      return data.size();
    }
    used += parser_.consumed();
    if (!hub_.packet(peer_, *this, parser_.packet())) {
      close("peer link refused");
      return data.size();
    }
  }
  return used;
}

void PeerConnection::on_close(std::string_view) {
  // Posted: a close can happen inside a SessionSink call (a send() over the write bound).
  post_guarded(hub_.rt.core_strand, "psyc: peer closed",
               [self = shared_from_this(), &hub = hub_, &peer = peer_] { hub.closed(peer, *self); });
}

}  // namespace

PeerHub::PeerHub(Runtime& rt, const config::Config& cfg) : impl_(std::make_unique<Impl>(rt, cfg)) {}
PeerHub::~PeerHub() { stop(); }

void PeerHub::start() {
  for (const auto& c : impl_->cfg.psyc.peers) {
    auto p = std::make_unique<Peer>();
    p->cfg = c;
    p->host = protocols::ascii_fold(c.host);
    p->uniform = c.uniform.empty() ? pp::root_uniform(c.host) : c.uniform;
    pp::Uniform u;
    if (!pp::parse_uniform(p->uniform, u)) p->host = protocols::ascii_fold(u.host);
    p->label = p->host.substr(0, p->host.find('.'));
    std::erase_if(p->label, [](char ch) { return !core::is_valid_local_name(std::string("a") + ch); });
    if (p->label.empty()) p->label = "peer";
    p->dialer = impl_->root < p->uniform;
    if (c.secret.empty()) spdlog::error("psyc peer {}: no secret: the link cannot authenticate", p->uniform);
    impl_->peers.push_back(std::move(p));
  }
  for (auto& p : impl_->peers)
    if (p->dialer && !p->cfg.secret.empty()) impl_->dial(*p);
  if (impl_->peers.empty()) return;
  impl_->join_hook =
      impl_->rt.core.hooks().add("room/join", 0, "psyc-peers", [impl = impl_.get()](core::HookContext& ctx) {
        if (!impl->applying && ctx.payload)
          post_guarded(impl->rt.core_strand, "psyc: announce",
                       [impl, room = static_cast<const core::JoinRequest*>(ctx.payload)->room] {
                         impl->announce(room);
                       });
        return core::Verdict::pass;
      });
}

void PeerHub::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->join_hook.reset();
  for (auto& p : impl_->peers) {
    if (p->rec) p->rec->stop();
    if (auto c = p->live.lock()) c->close("server shutting down");
    if (auto c = p->pending.lock()) c->close("server shutting down");
    spdlog::info("psyc peer {}: stopped, {} packets sent, {} received", p->uniform, p->sent, p->received);
    impl_->applying = true;
    while (!p->proxies.empty()) impl_->drop_proxy(*p, p->proxies.begin()->first);
    impl_->applying = false;
    p->rooms.clear();
  }
}

void PeerHub::tick() {
  auto now = Clock::now();
  for (auto& p : impl_->peers)
    if (now - p->last_sent > std::chrono::seconds(30)) impl_->send(*p, pp::kEmptyPacket);
}

Peer* PeerHub::find(std::string_view source) {
  for (auto& p : impl_->peers)
    if (protocols::ascii_fold(p->uniform) == protocols::ascii_fold(source)) return p.get();
  return nullptr;
}

bool PeerHub::packet(Peer& p, protocols::Connection& conn, const pp::Packet& pk) {
  return impl_->packet(p, conn, pk);
}

void PeerHub::closed(Peer& p, protocols::Connection& conn) { impl_->closed(p, conn); }

bool PeerHub::linked(Peer& p, const protocols::Connection& conn) const {
  return p.live.lock().get() == &conn;
}

}  // namespace parley::adapters::psyc

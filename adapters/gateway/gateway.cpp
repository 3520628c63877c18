#include "adapters/gateway/gateway.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <set>
#include <tuple>

#include "adapters/common/post_guarded.hpp"
#include "adapters/gateway/address.hpp"
#include "adapters/gateway/adhoc.hpp"
#include "adapters/gateway/archive.hpp"
#include "adapters/gateway/forms.hpp"
#include "adapters/gateway/puppet.hpp"
#include "adapters/gateway/render.hpp"
#include "core/store/store.hpp"
#include "protocols/common/ascii.hpp"

namespace parley::adapters::gateway {

using protocols::ascii_equal_fold;

namespace {
std::string bare_of(std::string_view full) { return std::string(full.substr(0, full.find('/'))); }

// Channel vs nick follows the network's CHANTYPES (Biboumi's rule): once the user's
// connection to it has registered, its ISUPPORT decides ("+chan" is a channel on a network
// with CHANTYPES=#&+); before, RFC 2812's "#&".
std::optional<GatewayAddress> with_chantypes(std::optional<GatewayAddress> a, const Puppet* p) {
  if (!a || !p || p->chantypes() == "#&") return a;
  // Only the kind depends on CHANTYPES (parse_gateway_address would give the rest again).
  if (a->kind != GatewayAddress::Kind::server) a->kind = target_kind(a->target, p->chantypes());
  return a;
}
}  // namespace

Gateway::Gateway(const protocols::Strand& strand, GatewayOptions options, XmppOut out)
    : strand_(strand),
      options_(std::move(options)),
      out_(std::move(out)),
      adhoc_(std::make_unique<Adhoc>(*this)) {}

Gateway::~Gateway() {
  if (read_tick_) read_tick_->cancel();
}

// The tick, not a timer of its own, ends a deferral: a timer re-armed at every say cost a
// system call and a cancelled wait's completion per message (bench x2i, session 39).
void Gateway::defer_read(Puppet* p) {
  if (std::find(deferred_.begin(), deferred_.end(), p) == deferred_.end()) deferred_.push_back(p);
  arm_read_tick();
}

void Gateway::undefer_read(Puppet* p) { std::erase(deferred_, p); }

// Each reads once. A read may add a puppet to the list (a say it leads to, e.g. a bridge
// relaying what was heard) but removes none (a puppet goes only later, through retire), so
// the list is walked by index.
void Gateway::read_deferred(DeferredRead how) {
  const auto now = how == DeferredRead::tick ? std::chrono::steady_clock::now() : last_input_;
  for (std::size_t i = 0; i < deferred_.size(); ++i) deferred_[i]->read_deferred(how, now);
  std::erase_if(deferred_, [](Puppet* p) { return !p->deferred(); });
}

// Puppets covered by another one's reading (shared_reads.hpp) read their sockets here,
// every read_tick, all in one wake-up: private messages, PINGs and their copies of the
// channels' lines wait at most that long in the kernel. Reflections a leader never handed
// back are counted here too (Puppet::reflect_overdue).
void Gateway::arm_read_tick() {
  if (read_tick_armed_ || stopping_) return;
  if (!read_tick_) read_tick_ = std::make_unique<protocols::StrandTimer>(strand_);
  read_tick_armed_ = true;
  read_tick_->expires_after(options_.read_tick);
  read_tick_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: by stop() or ~Gateway, so `this` may be gone
    read_tick_armed_ = false;
    // Deferred leaders first (Puppet::expect_line): their followers then find in step the
    // lines they read now, instead of lines the leader has not handed yet. A deferral still
    // on keeps the tick going: the tick ends it.
    if (!deferred_.empty()) read_deferred(DeferredRead::tick);
    bool any = !deferred_.empty();
    // Each reads once (Puppet::read_tick); its read ends in after_read, which raises its mark
    // again while it is covered.
    for (auto& [_, p] : puppets_) {
      if (p->reflect_overdue()) any = true;
      if (p->said_overdue()) any = true;
      if (p->reads_on_tick()) {
        p->read_tick();
        any = true;
      }
    }
    if (any) arm_read_tick();
  });
}

const config::IrcNetwork* Gateway::network_for(std::string_view server,
                                               std::optional<config::IrcNetwork>& open) const {
  for (const auto& n : options_.networks)
    if (ascii_equal_fold(n.name, server) || ascii_equal_fold(n.host, server)) return &n;
  if (!options_.open_networks) return nullptr;
  open.emplace();  // TLS on 6697 with verification: the safe guess for an unknown host
  open->name = std::string(server);
  open->host = std::string(server);
  return &*open;
}

std::optional<config::IrcNetwork> Gateway::find_network(std::string_view server) const {
  std::optional<config::IrcNetwork> open;
  const config::IrcNetwork* n = network_for(server, open);
  if (!n) return std::nullopt;
  if (open) return open;
  return *n;
}

bool Gateway::public_only(const config::IrcNetwork& net) const {
  if (!options_.open_networks || options_.open_networks_allow_private) return false;
  for (const auto& n : options_.networks)
    if (ascii_equal_fold(n.name, net.name)) return false;  // configured: the operator chose it
  return true;
}

Puppet* Gateway::senders_puppet(const XmppIn& s, const std::optional<config::IrcNetwork>& net,
                                std::string_view label) {
  return net ? puppet_for(bare_of(s.from), *net, label, {}, false, nullptr) : nullptr;
}

std::optional<GatewayAddress> Gateway::address_to(const XmppIn& s) {
  auto a = parse_gateway_address(s.to_local, s.to_resource);
  if (!a) return a;
  const auto net = find_network(a->server);
  return net ? with_chantypes(a, senders_puppet(s, net, a->server)) : a;
}

std::string Gateway::addressed(const XmppIn& s) const {
  std::string jid = s.to_local.empty() ? options_.domain : s.to_local + "@" + options_.domain;
  if (!s.to_resource.empty()) jid += "/" + s.to_resource;
  return jid;
}

void Gateway::error_reply(const XmppIn& s, std::string_view type, std::string_view condition,
                          std::string_view text) {
  if (s.type == "error") return;  // RFC 6120 §8.3.1: never answer an error with an error
  const std::string from = addressed(s);
  const std::string_view kind = s.kind == XmppIn::Kind::message    ? "message"
                                : s.kind == XmppIn::Kind::presence ? "presence"
                                                                   : "iq";
  send(s.from, render_error(kind, from, s.from, s.id, type, condition, text));
}

Puppet* Gateway::puppet_for(std::string_view bare, const config::IrcNetwork& net, std::string_view label,
                            std::string_view nick, bool create, std::string* why, std::string_view peer_ip) {
  std::string& key = puppet_key_;
  key.assign(bare).push_back('\n');
  for (char c : net.name) key.push_back(protocols::ascii_lower(c));
  auto it = puppets_.find(key);
  if (it != puppets_.end()) {
    if (!it->second->retired()) return it->second.get();
    if (!create) return nullptr;
    puppets_.erase(it);  // QUIT is on its way: a new join gets a new connection
  }
  if (!create || stopping_) return nullptr;
  const std::string new_key = key;  // puppet_key_ is anybody's scratch from here on
  std::size_t mine = 0;
  const std::string prefix = std::string(bare) + "\n";
  for (auto p = puppets_.lower_bound(prefix);
       p != puppets_.end() && p->first.compare(0, prefix.size(), prefix) == 0; ++p)
    ++mine;
  if (mine >= options_.max_links_per_user) {
    *why = "too many IRC connections (irc.gateway_max_links_per_user)";
    return nullptr;
  }
  // The user's settings (ad-hoc commands) apply from this new connection on.
  Effective e = effective(net, user_settings(std::string(bare)), nick);
  auto p = std::make_unique<Puppet>(*this, std::string(bare), std::move(e.net), std::string(label),
                                    std::move(e.nick), std::move(e.realname), std::string(peer_ip));
  Puppet* raw = p.get();
  puppets_.emplace(new_key, std::move(p));
  try {
    raw->start();
  } catch (...) {  // never started, never retired: it would hold one of the user's links
    puppets_.erase(new_key);
    throw;
  }
  return raw;
}

void Gateway::retire(Puppet* p) {
  // Later: the puppet is usually deep in its own call stack (an IRC line, a leave).
  post_guarded(strand_, "gateway: retire", [this, p] {
    for (auto it = puppets_.begin(); it != puppets_.end(); ++it)
      if (it->second.get() == p) {
        if (p->retired()) puppets_.erase(it);
        return;
      }
  });
}

void Gateway::on_stanza(const XmppIn& s) {
  if (options_.read_defer.count() > 0) {
    const auto now = std::chrono::steady_clock::now();
    inputs_close_ = now - last_input_ < options_.read_defer;
    last_input_ = now;
    if (!deferred_.empty() && now - last_deferred_read_ >= kDeferredReadGap) {
      last_deferred_read_ = now;
      read_deferred(DeferredRead::said);
    }
  }
  if (s.kind == XmppIn::Kind::presence) return on_presence(s);
  if (s.kind == XmppIn::Kind::message) return on_message(s);
  if (s.type != "get" && s.type != "set") return;
  on_iq(s);
}

// XEP-0030 disco#info (clients ask a room before joining it), XEP-0199 ping (XEP-0410 when
// sent to an occupant) and XEP-0313 MAM on a channel; anything else (ad-hoc commands: a
// later slice) is service-unavailable (RFC 6120 §8.4).
void Gateway::on_iq(const XmppIn& s) {
  const std::string from = addressed(s);
  if (s.type == "get" && s.iq_ns == "urn:xmpp:ping" && s.iq_name == "ping") {
    if (!s.to_resource.empty()) return self_ping(s);
    return send(s.from, render_iq_result(from, s.from, s.id));
  }
  if (s.mam) return on_mam(s);
  // XEP-0313 §5.1 form discovery: where the archive is offered (as disco#info says).
  if (s.type == "get" && s.iq_ns == "urn:xmpp:mam:2" && s.iq_name == "query") {
    auto a = address_to(s);
    if (a && a->kind == GatewayAddress::Kind::channel && a->resource.empty() && find_network(a->server) &&
        archiving())
      return send(s.from, render_mam_form(from, s.from, s.id));
    return error_reply(s, "cancel", "service-unavailable", {});
  }
  if (s.type == "set" && s.command) return adhoc_->execute(s);
  if (s.type == "set" && s.muc_admin) return on_muc_admin(s);
  if (s.type == "get" && s.iq_ns == "http://jabber.org/protocol/disco#items" && s.iq_name == "query" &&
      s.iq_node == kCommandsNs)
    return adhoc_->list(s);
  if (s.type == "get" && s.iq_ns == "http://jabber.org/protocol/disco#info" && s.iq_name == "query") {
    if (!s.iq_node.empty()) {
      // XEP-0050 §2.3: a command node's identity.
      if (s.iq_node == "configure" || s.iq_node == "links" || s.iq_node == "disconnect")
        return send(s.from, render_disco_info(from, s.from, s.id, "automation", "command-node", s.iq_node,
                                              {"http://jabber.org/protocol/commands", "jabber:x:data"}));
      return error_reply(s, "cancel", "item-not-found", {});
    }
    if (s.to_local.empty())
      return send(s.from, render_disco_info(
                              from, s.from, s.id, "conference", "irc", "IRC gateway",
                              {"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/muc",
                               "urn:xmpp:ping", "http://jabber.org/protocol/commands"}));
    auto a = address_to(s);
    if (a && a->kind == GatewayAddress::Kind::channel && a->resource.empty() && find_network(a->server)) {
      // XEP-0410 §5: occupants' pings are answered here (self-ping-optimization).
      if (archiving())
        return send(s.from,
                    render_disco_info(
                        from, s.from, s.id, "conference", "irc", a->target,
                        {"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/muc",
                         "muc_nonanonymous", "muc_open", "muc_public", "muc_temporary", "urn:xmpp:mam:2",
                         "urn:xmpp:sid:0", "http://jabber.org/protocol/muc#self-ping-optimization",
                         "http://jabber.org/protocol/commands"}));
      return send(s.from, render_disco_info(
                              from, s.from, s.id, "conference", "irc", a->target,
                              {"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/muc",
                               "muc_nonanonymous", "muc_open", "muc_public", "muc_temporary",
                               "http://jabber.org/protocol/muc#self-ping-optimization",
                               "http://jabber.org/protocol/commands"}));
    }
    if (a && a->kind == GatewayAddress::Kind::server && find_network(a->server))
      return send(s.from, render_disco_info(from, s.from, s.id, "conference", "irc", a->server,
                                            {"http://jabber.org/protocol/disco#info",
                                             "http://jabber.org/protocol/commands"}));
  }
  error_reply(s, "cancel", "service-unavailable", {});
}

// XEP-0410 §3: a ping to an occupant JID tells a client whether it is still joined. Not
// joined (never, or no longer: a gateway restart, a component reconnection, a kick) is
// <not-acceptable/>, so the client joins again; joined, the gateway answers for the occupant
// it names (self-ping-optimization), and a nick not in the channel is <item-not-found/>.
void Gateway::self_ping(const XmppIn& s) {
  auto a = address_to(s);  // "+chan" is a channel where the network's CHANTYPES says so
  if (!a) return error_reply(s, "cancel", "service-unavailable", {});
  Puppet* p = senders_puppet(s, find_network(a->server), a->server);
  // No puppet there (after a restart, a component reconnection): not joined, whatever the
  // address reads as without the network's CHANTYPES; service-unavailable would say joined.
  if (!p && a->kind != GatewayAddress::Kind::server)
    return error_reply(s, "cancel", "not-acceptable", "not joined");
  if (a->kind != GatewayAddress::Kind::channel) return error_reply(s, "cancel", "service-unavailable", {});
  if (!p->joined(s.from, a->target)) return error_reply(s, "cancel", "not-acceptable", "not joined");
  if (!p->has_occupant(a->target, a->resource)) return error_reply(s, "cancel", "item-not-found", {});
  send(s.from, render_iq_result(addressed(s), s.from, s.id));
}

// XEP-0313 on a channel JID: its archive, to users with a puppet in that channel only.
void Gateway::on_mam(const XmppIn& s) {
  auto a = address_to(s);
  auto net = a ? find_network(a->server) : std::nullopt;
  if (!a || a->kind != GatewayAddress::Kind::channel || !a->resource.empty() || !net || !archiving())
    return error_reply(s, "cancel", "service-unavailable", {});
  Puppet* p = senders_puppet(s, net, a->server);
  if (!p || !p->in_channel(a->target))
    return error_reply(s, "auth", "forbidden", "only occupants may read this channel's archive");
  const std::string room = s.to_local + "@" + options_.domain;
  MamParse parsed = parse_mam(*s.mam, room, options_.mam_page_max);
  if (!parsed.condition.empty())
    return error_reply(s, parsed.condition == "item-not-found" ? "cancel" : "modify", parsed.condition, {});
  const std::string key = archive_key_of(net->name, a->target);
  auto page = mam_page(*options_.store, key, parsed.query);
  // The store has applied every write queued so far: the next key is known exactly again
  // (a write that failed after it was queued left a gap in the ids the gateway counted).
  if (Archived* arch = archived(key, false); arch && arch->next_key) next_key_from_store(key, *arch);
  if (!page) {
    spdlog::warn("gateway: archive of {}: {}", room, page.error().text);
    return error_reply(s, "wait", "internal-server-error", {});
  }
  if (page->unknown_id) return error_reply(s, "cancel", "item-not-found", {});
  for (const auto& e : page->items)
    send(s.from, render_mam_result(room, s.from, s.mam->queryid, std::to_string(e.key),
                                   core::to_iso8601(e.message.timestamp), room + "/" + e.message.nick,
                                   e.message.body));
  const std::string first = page->items.empty() ? std::string() : std::to_string(page->items.front().key);
  const std::string last = page->items.empty() ? std::string() : std::to_string(page->items.back().key);
  send(s.from, render_mam_fin(room, s.from, s.id, first, last, page->complete));
}

std::string Gateway::archive_key_of(std::string_view network, std::string_view channel) const {
  return archive_key(options_.domain, network, channel);
}

namespace {
// archive_key()'s network and channel parts: "gateway\n<domain>\n<network>\n<channel>".
std::pair<std::string_view, std::string_view> network_and_channel(std::string_view key) {
  const std::size_t last = key.rfind('\n');
  const std::size_t before =
      last == std::string_view::npos || last == 0 ? std::string_view::npos : key.rfind('\n', last - 1);
  if (before == std::string_view::npos) return {};
  return {key.substr(before + 1, last - before - 1), key.substr(last + 1)};
}
}  // namespace

Gateway::Archived* Gateway::archived(const std::string& key, bool create) {
  auto it = archived_.find(key);
  if (it != archived_.end()) return &it->second;
  if (!create) return nullptr;
  // Channels nobody hears any more go when the map outgrows what the puppets can be in.
  if (archived_.size() >= puppets_.size() * options_.max_channels + 1)
    std::erase_if(archived_, [&](const auto& e) {
      const auto [net, chan] = network_and_channel(e.first);
      for (const auto& [_, p] : puppets_)
        if (protocols::ascii_equal_fold(p->network().name, net) && p->hears(chan)) return false;
      return true;
    });
  return &archived_[key];
}

// The newest key of the channel's archive, read once per channel (a read waits for the
// writes queued before it, and none is queued meanwhile: we are on the store's strand).
bool Gateway::next_key_from_store(const std::string& key, Archived& a) {
  auto newest = options_.store->history_page(key, 0, 0, 1, true);
  if (!newest) {
    spdlog::warn("gateway: archive of {}: {}", key.substr(key.rfind('\n') + 1), newest.error().text);
    return false;
  }
  a.next_key = newest->empty() ? 1 : newest->back().key + 1;
  return true;
}

RecentLines::Cursor Gateway::archive_cursor(const std::string& key) {
  if (!archiving()) return {};
  Archived* a = archived(key, false);
  return a ? a->recent.cursor_now(a->next_key) : RecentLines::Cursor{};
}

std::int64_t Gateway::archive_line(const std::string& key, RecentLines::Cursor& cur, bool heard,
                                   std::string_view nick, std::string_view body, core::MessageKind kind) {
  if (!archiving()) return 0;
  Archived& a = *archived(key, true);
  if (heard)
    if (auto k = a.recent.match(cur, nick, body)) return *k;
  if (a.next_key == 0 && !next_key_from_store(key, a)) return 0;
  core::Message m;
  m.kind = kind;
  m.nick = std::string(nick);
  m.body = std::string(body);  // as shown to XMPP ("/me ", "[notice] " included), XML-safe
  m.timestamp = core::Clock::now();
  // Queued, not committed here (write-behind store): a later failure comes back through its
  // on_error, and the next MAM query re-reads the key (on_mam).
  if (auto st = options_.store->append_history(key, m, options_.history_keep); !st) {
    spdlog::warn("gateway: archiving a line: {}", st.error().text);
    a.next_key = 0;
    return 0;
  }
  const std::int64_t k = a.next_key++;
  a.recent.add(cur, k, nick, body);
  return k;
}

void Gateway::send_history(const std::string& to, const std::string& room_jid, const std::string& key,
                           const HistoryRequest& req) {
  if (!archiving()) return;
  auto rows = join_history(*options_.store, key, req, core::Clock::now(), options_.history_join);
  if (!rows) {
    spdlog::warn("gateway: history of {}: {}", room_jid, rows.error().text);
    return;
  }
  std::vector<std::string> stanzas;
  stanzas.reserve(rows->size());
  for (const auto& e : *rows)
    stanzas.push_back(render_delayed_message(room_jid + "/" + e.message.nick, to, e.message.body, room_jid,
                                             core::to_iso8601(e.message.timestamp)));
  const std::size_t first = req.maxchars ? first_within_chars(stanzas, *req.maxchars) : 0;
  for (std::size_t i = first; i < stanzas.size(); ++i) send(to, std::move(stanzas[i]));
}

namespace {
// A MUC private message's resource is one IRC nick: never a channel, a list ("a,b") or
// anything that would split the line.
bool is_one_nick(std::string_view nick, std::string_view chantypes) {
  constexpr std::string_view kBad(" ,\r\n\0\a", 6);
  return !nick.empty() && nick.size() <= kMaxTarget && nick.front() != ':' &&
         chantypes.find(nick.front()) == std::string_view::npos &&
         nick.find_first_of(kBad) == std::string_view::npos;
}
}  // namespace

void Gateway::on_presence(const XmppIn& s) {
  if (s.type == "error" || s.type == "probe" || s.type == "subscribe" || s.type == "subscribed" ||
      s.type == "unsubscribe" || s.type == "unsubscribed")
    return;
  auto a = parse_gateway_address(s.to_local, s.to_resource);
  if (!a) return error_reply(s, "modify", "jid-malformed", "not a #channel%irc.server address");
  auto net = find_network(a->server);
  if (net) a = with_chantypes(a, senders_puppet(s, net, a->server));
  if (!a) return error_reply(s, "modify", "jid-malformed", "not a #channel%irc.server address");
  if (a->kind != GatewayAddress::Kind::channel) {
    // Presence to users/servers: an unavailable one ends that resource's private chats.
    if (s.type == "unavailable")
      if (Puppet* p = senders_puppet(s, net, a->server)) p->pm_gone(s.from);
    return;
  }
  if (!net)
    return error_reply(s, "cancel", "not-allowed", "this gateway does not serve IRC network " + a->server);
  const std::string bare = bare_of(s.from);
  if (s.type == "unavailable") {
    if (Puppet* p = puppet_for(bare, *net, a->server, a->resource, false, nullptr))
      p->leave(s.from, a->target, s.status);
    return;
  }
  if (a->resource.empty()) return error_reply(s, "modify", "jid-malformed", "a nick is required");  // §7.2.1
  std::string why;
  Puppet* p = puppet_for(bare, *net, a->server, a->resource, true, &why, s.peer_ip);
  if (!p) return error_reply(s, "wait", "resource-constraint", why);
  if (!p->in_channel(a->target) && p->channels() >= options_.max_channels)
    return error_reply(s, "wait", "resource-constraint",
                       "too many channels on this network (irc.max_channels)");
  p->join(s.from, a->target, a->server, a->resource, s.id, s.history, s.muc_join, s.password);
}

void Gateway::on_message(const XmppIn& s) {
  if (s.type == "error") return;
  auto a = parse_gateway_address(s.to_local, s.to_resource);
  if (!a) return error_reply(s, "modify", "jid-malformed", "not a #channel%irc.server address");
  std::optional<config::IrcNetwork> open;
  const config::IrcNetwork* net = network_for(a->server, open);
  if (!net)
    return error_reply(s, "cancel", "not-allowed", "this gateway does not serve IRC network " + a->server);
  const std::string bare = bare_of(s.from);
  Puppet* p = puppet_for(bare, *net, a->server, {}, false, nullptr);
  a = with_chantypes(std::move(a), p);
  if (!a) return error_reply(s, "modify", "jid-malformed", "not a #channel%irc.server address");
  std::string why;
  if (!p && a->kind == GatewayAddress::Kind::user && s.body) {
    // A private message with no connection open opens one (nick: the JID's localpart).
    p = puppet_for(bare, *net, a->server, bare.substr(0, bare.find('@')), true, &why, s.peer_ip);
    if (!p) return error_reply(s, "wait", "resource-constraint", why);
  }
  if (!p)
    return error_reply(s, "cancel", "recipient-unavailable", "join a channel of this IRC network first");
  bool ok = true;
  if (a->kind == GatewayAddress::Kind::channel && a->resource.empty() && s.type == "groupchat") {
    if (s.subject && !s.body)
      ok = p->set_topic(s.from, a->target, *s.subject, s.id, &why);
    else if (s.body)
      ok = p->say(s.from, a->target, *s.body, s.id, &why, s.spans);
  } else if (a->kind == GatewayAddress::Kind::channel && !a->resource.empty()) {
    if (!is_one_nick(a->resource, p->chantypes()))
      return error_reply(s, "cancel", "item-not-found", "no such occupant");  // XEP-0045 §7.5
    if (s.body)
      ok =
          p->private_message(s.from, a->resource, *s.body, &why, s.spans, addressed(s), s.id);  // MUC private
  } else if (a->kind == GatewayAddress::Kind::user) {
    if (s.body) ok = p->private_message(s.from, a->target, *s.body, &why, s.spans, addressed(s), s.id);
  } else if (a->kind == GatewayAddress::Kind::server) {
    // Raw IRC commands to net@gw, on this user's own connection only (puppet_for keys by
    // the sender's bare JID); one line of the body is one command.
    if (s.body) ok = p->raw(s.from, *s.body, &why);
  }
  if (!ok)
    error_reply(s, why == "resource-constraint" ? "wait" : "cancel", why,
                why == "resource-constraint" ? "too many lines waiting for the IRC server (irc.gateway_queue)"
                                             : "you are not in this channel");
}

// XEP-0045 §8.2: a moderator kicks an occupant (role 'none'): a KICK on the user's own
// connection, answered when the server shows it (Puppet::kick). Other role and affiliation
// changes are not mapped to IRC modes.
void Gateway::on_muc_admin(const XmppIn& s) {
  auto a = parse_gateway_address(s.to_local, s.to_resource);
  if (!a) return error_reply(s, "cancel", "bad-request", "not a room");
  const auto net = find_network(a->server);
  Puppet* p = senders_puppet(s, net, a->server);
  a = with_chantypes(a, p);
  if (!a || a->kind != GatewayAddress::Kind::channel || !a->resource.empty())
    return error_reply(s, "cancel", "bad-request", "not a room");
  if (!p || !p->joined(s.from, a->target))
    return error_reply(s, "auth", "forbidden", "you are not in this room");
  const MucAdminIn& item = *s.muc_admin;
  if (item.role != "none" || item.nick.empty())
    return error_reply(s, "cancel", "feature-not-implemented", "only kicking (role none) is mapped to IRC");
  std::string why;
  if (!p->kick(s.from, a->target, item.nick, item.reason, s.id, &why))
    error_reply(s, why == "item-not-found" ? "cancel" : "wait", why,
                why == "item-not-found" ? "no such occupant" : "the IRC connection is not ready");
}

void Gateway::resource_gone(std::string_view full_jid) {
  const std::string full(full_jid);
  const std::string prefix = bare_of(full_jid) + "\n";
  std::vector<Puppet*> mine;
  for (auto p = puppets_.lower_bound(prefix);
       p != puppets_.end() && p->first.compare(0, prefix.size(), prefix) == 0; ++p)
    if (p->second->has_resource(full)) mine.push_back(p->second.get());
  for (Puppet* p : mine) p->resource_gone(full);
}

void Gateway::drop_all(std::string_view reason) {
  auto gone = std::move(puppets_);
  puppets_.clear();
  for (auto& [key, p] : gone) {
    if (p->has_persistent() && !p->retired()) {
      // Persistent channels stay joined: only the resources, gone with the server, leave.
      for (const auto& r : p->resources()) p->resource_gone(r);
      if (!p->retired()) {
        puppets_.emplace(key, std::move(p));
        continue;
      }
    }
    if (!p->retired()) p->quit(reason);  // ~Puppet lets the QUIT flush, then the link closes
  }
}

UserSettings Gateway::user_settings(const std::string& bare) {
  if (!options_.store) return {};
  auto rows = options_.store->gateway_settings(options_.domain, bare);
  if (!rows) {
    spdlog::warn("gateway: settings of {}: {}", bare, rows.error().text);
    return {};
  }
  return settings_from_rows(*rows);
}

std::optional<std::string> Gateway::save_settings(const std::string& bare, const SettingsChange& change) {
  if (!options_.store) return "this gateway keeps no settings";
  // Bounds per user: networks with settings (irc.gateway_max_links_per_user) and persistent
  // channels per network (irc.max_channels), counted as they would be after the change.
  auto rows = options_.store->gateway_settings(options_.domain, bare);
  if (!rows) return "settings unavailable: " + rows.error().text;
  std::set<std::tuple<std::string, std::string>> after;  // (scope, name)
  for (const auto& r : *rows) after.insert({r.scope, r.name});
  for (const auto& r : change.del) after.erase({r.scope, r.name});
  for (const auto& r : change.put) after.insert({r.scope, r.name});
  std::set<std::string> networks;
  std::map<std::string, std::size_t> persistent;
  for (const auto& [scope, name] : after) {
    if (scope.empty()) continue;
    const std::string net = scope.substr(0, scope.find(' '));
    networks.insert(net);
    if (name == "persistent") ++persistent[net];
  }
  if (networks.size() > options_.max_links_per_user)
    return "settings for too many networks (irc.gateway_max_links_per_user)";
  for (const auto& [_, n] : persistent)
    if (n > options_.max_channels) return "too many persistent channels on one network (irc.max_channels)";
  for (const auto& r : change.del)
    if (auto st = options_.store->delete_gateway_setting(r); !st) return "not saved: " + st.error().text;
  for (const auto& r : change.put)
    if (auto st = options_.store->put_gateway_setting(r); !st) return "not saved: " + st.error().text;
  // "Saved" means durable: a write-behind store commits before the answer (settings are
  // rare; a persistent flag must survive a kill -9 right after it).
  if (auto st = options_.store->sync(); !st) return "not saved: " + st.error().text;
  // A persistent flag applies at once to a live connection: marked, the channel is
  // joined (or kept); unmarked, a channel none of the user's resources is in is left.
  for (const auto* list : {&change.put, &change.del})
    for (const auto& r : *list) {
      if (r.name != "persistent") continue;
      auto sc = split_channel_scope(r.scope);
      if (!sc) continue;
      auto it = puppets_.find(bare + "\n" + sc->first);
      if (it == puppets_.end() || it->second->retired()) continue;
      if (list == &change.put) {
        if (it->second->in_channel(sc->second) || it->second->channels() < options_.max_channels)
          it->second->join_persistent(sc->second, r.value);
      } else {
        it->second->set_persistent(sc->second, false);
      }
    }
  return std::nullopt;
}

void Gateway::restore_persistent() {
  if (!options_.store || stopping_) return;
  auto rows = options_.store->gateway_settings(options_.domain, {});
  if (!rows) {
    spdlog::warn("gateway {}: persistent channels not restored: {}", options_.domain, rows.error().text);
    return;
  }
  std::map<std::string, std::vector<core::GatewaySetting>> by_owner;
  for (auto& r : *rows) by_owner[r.owner].push_back(std::move(r));
  std::size_t joined = 0;
  for (const auto& [owner, mine] : by_owner) {
    const UserSettings us = settings_from_rows(mine);
    for (const auto& [scope, label] : us.persistent) {
      auto sc = split_channel_scope(scope);
      auto net = find_network(label);  // the label names the network (its name or host)
      if (!sc || !net || protocols::ascii_fold(net->name) != sc->first) continue;  // no longer served
      std::string why;
      Puppet* p = puppet_for(owner, *net, label, owner.substr(0, owner.find('@')), true, &why);
      if (!p) {
        spdlog::warn("gateway: persistent {} of {}: {}", sc->second, owner, why);
        continue;
      }
      if (!p->in_channel(sc->second) && p->channels() >= options_.max_channels) continue;
      p->join_persistent(sc->second, label);
      ++joined;
    }
  }
  if (joined) spdlog::info("gateway {}: rejoining {} persistent channel(s)", options_.domain, joined);
}

std::vector<LinkInfo> Gateway::links() const {
  std::vector<LinkInfo> out;
  for (const auto& [_, p] : puppets_)
    if (!p->retired())
      out.push_back({p->bare(), p->network().name, p->nick(), p->channels(), p->connected()});
  return out;
}

std::size_t Gateway::disconnect(const std::string& bare, std::string_view network) {
  std::size_t n = 0;
  const std::string prefix = bare + "\n";
  for (auto it = puppets_.lower_bound(prefix);
       it != puppets_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    if (!network.empty() && !ascii_equal_fold(it->second->network().name, network)) {
      ++it;
      continue;
    }
    it->second->kick_all("Disconnected by a gateway administrator");
    it = puppets_.erase(it);  // ~Puppet lets the QUIT flush, then the link closes
    ++n;
  }
  return n;
}

void Gateway::stop() {
  stopping_ = true;
  if (read_tick_) read_tick_->cancel();
  for (auto& [_, p] : puppets_) p->shutdown("Gateway shutting down");
}

}  // namespace parley::adapters::gateway

#include "adapters/gateway/gateway.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "adapters/common/post_guarded.hpp"
#include "adapters/gateway/address.hpp"
#include "adapters/gateway/archive.hpp"
#include "adapters/gateway/puppet.hpp"
#include "adapters/gateway/render.hpp"
#include "protocols/common/ascii.hpp"

namespace parley::adapters::gateway {

using protocols::ascii_equal_fold;

namespace {
std::string bare_of(std::string_view full) { return std::string(full.substr(0, full.find('/'))); }
}  // namespace

Gateway::Gateway(const protocols::Strand& strand, GatewayOptions options, XmppOut out)
    : strand_(strand), options_(std::move(options)), out_(std::move(out)) {}

Gateway::~Gateway() = default;

std::optional<config::IrcNetwork> Gateway::find_network(std::string_view server) const {
  for (const auto& n : options_.networks)
    if (ascii_equal_fold(n.name, server) || ascii_equal_fold(n.host, server)) return n;
  if (!options_.open_networks) return std::nullopt;
  config::IrcNetwork n;  // TLS on 6697 with verification: the safe guess for an unknown host
  n.name = std::string(server);
  n.host = std::string(server);
  return n;
}

void Gateway::error_reply(const XmppIn& s, std::string_view type, std::string_view condition,
                          std::string_view text) {
  if (s.type == "error") return;  // RFC 6120 §8.3.1: never answer an error with an error
  std::string from = s.to_local.empty() ? options_.domain : s.to_local + "@" + options_.domain;
  if (!s.to_resource.empty()) from += "/" + s.to_resource;
  const std::string_view kind = s.kind == XmppIn::Kind::message    ? "message"
                                : s.kind == XmppIn::Kind::presence ? "presence"
                                                                   : "iq";
  send(s.from, render_error(kind, from, s.from, s.id, type, condition, text));
}

Puppet* Gateway::puppet_for(const std::string& bare, const config::IrcNetwork& net, std::string_view label,
                            std::string_view nick, bool create, std::string* why) {
  const std::string key = bare + "\n" + protocols::ascii_fold(net.name);
  auto it = puppets_.find(key);
  if (it != puppets_.end()) {
    if (!it->second->retired()) return it->second.get();
    if (!create) return nullptr;
    puppets_.erase(it);  // QUIT is on its way: a new join gets a new connection
  }
  if (!create || stopping_) return nullptr;
  std::size_t mine = 0;
  const std::string prefix = bare + "\n";
  for (auto p = puppets_.lower_bound(prefix);
       p != puppets_.end() && p->first.compare(0, prefix.size(), prefix) == 0; ++p)
    ++mine;
  if (mine >= options_.max_links_per_user) {
    *why = "too many IRC connections (irc.gateway_max_links_per_user)";
    return nullptr;
  }
  auto p = std::make_unique<Puppet>(*this, bare, net, std::string(label), std::string(nick));
  Puppet* raw = p.get();
  puppets_.emplace(key, std::move(p));
  raw->start();
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
  if (s.kind == XmppIn::Kind::presence) return on_presence(s);
  if (s.kind == XmppIn::Kind::message) return on_message(s);
  if (s.type != "get" && s.type != "set") return;
  on_iq(s);
}

// XEP-0030 disco#info (clients ask a room before joining it), XEP-0199 ping (XEP-0410 when
// sent to an occupant) and XEP-0313 MAM on a channel; anything else (ad-hoc commands: a
// later slice) is service-unavailable (RFC 6120 §8.4).
void Gateway::on_iq(const XmppIn& s) {
  std::string from = s.to_local.empty() ? options_.domain : s.to_local + "@" + options_.domain;
  if (!s.to_resource.empty()) from += "/" + s.to_resource;
  if (s.type == "get" && s.iq_ns == "urn:xmpp:ping" && s.iq_name == "ping") {
    if (!s.to_resource.empty()) return self_ping(s);
    return send(s.from, render_iq_result(from, s.from, s.id));
  }
  if (s.mam) return on_mam(s);
  if (s.type == "get" && s.iq_ns == "http://jabber.org/protocol/disco#info" && s.iq_name == "query") {
    if (s.to_local.empty())
      return send(s.from, render_disco_info(from, s.from, s.id, "conference", "irc", "IRC gateway",
                                            {"http://jabber.org/protocol/disco#info",
                                             "http://jabber.org/protocol/muc", "urn:xmpp:ping"}));
    auto a = parse_gateway_address(s.to_local, s.to_resource);
    if (a && a->kind == GatewayAddress::Kind::channel && a->resource.empty() && find_network(a->server)) {
      // XEP-0410 §5: occupants' pings are answered here (self-ping-optimization).
      if (archiving())
        return send(s.from, render_disco_info(from, s.from, s.id, "conference", "irc", a->target,
                                              {"http://jabber.org/protocol/disco#info",
                                               "http://jabber.org/protocol/muc", "muc_nonanonymous",
                                               "muc_open", "muc_public", "muc_temporary", "urn:xmpp:mam:2",
                                               "http://jabber.org/protocol/muc#self-ping-optimization"}));
      return send(s.from, render_disco_info(
                              from, s.from, s.id, "conference", "irc", a->target,
                              {"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/muc",
                               "muc_nonanonymous", "muc_open", "muc_public", "muc_temporary",
                               "http://jabber.org/protocol/muc#self-ping-optimization"}));
    }
  }
  error_reply(s, "cancel", "service-unavailable", {});
}

// XEP-0410 §3: a ping to an occupant JID tells a client whether it is still joined. Not
// joined (never, or no longer: a gateway restart, a component reconnection, a kick) is
// <not-acceptable/>, so the client joins again; joined, the gateway answers for the occupant
// it names (self-ping-optimization), and a nick not in the channel is <item-not-found/>.
void Gateway::self_ping(const XmppIn& s) {
  auto a = parse_gateway_address(s.to_local, s.to_resource);
  if (!a || a->kind != GatewayAddress::Kind::channel) return error_reply(s, "cancel", "service-unavailable", {});
  auto net = find_network(a->server);
  Puppet* p = net ? puppet_for(bare_of(s.from), *net, a->server, {}, false, nullptr) : nullptr;
  if (!p || !p->joined(s.from, a->target)) return error_reply(s, "cancel", "not-acceptable", "not joined");
  if (!p->has_occupant(a->target, a->resource)) return error_reply(s, "cancel", "item-not-found", {});
  send(s.from, render_iq_result(s.to_local + "@" + options_.domain + "/" + s.to_resource, s.from, s.id));
}

// XEP-0313 on a channel JID: its archive, to users with a puppet in that channel only.
void Gateway::on_mam(const XmppIn& s) {
  auto a = parse_gateway_address(s.to_local, s.to_resource);
  auto net = a ? find_network(a->server) : std::nullopt;
  if (!a || a->kind != GatewayAddress::Kind::channel || !a->resource.empty() || !net || !archiving())
    return error_reply(s, "cancel", "service-unavailable", {});
  Puppet* p = puppet_for(bare_of(s.from), *net, a->server, {}, false, nullptr);
  if (!p || !p->in_channel(a->target))
    return error_reply(s, "auth", "forbidden", "only occupants may read this channel's archive");
  const std::string room = s.to_local + "@" + options_.domain;
  MamParse parsed = parse_mam(*s.mam, room, options_.mam_page_max);
  if (!parsed.condition.empty())
    return error_reply(s, parsed.condition == "item-not-found" ? "cancel" : "modify", parsed.condition, {});
  auto page = mam_page(*options_.store, archive_key_of(net->name, a->target), parsed.query);
  if (!page) {
    spdlog::warn("gateway: archive of {}: {}", room, page.error().text);
    return error_reply(s, "wait", "internal-server-error", {});
  }
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

bool Gateway::claim_archive(Puppet& p, const std::string& key, std::string_view channel) {
  if (!archiving()) return false;
  auto it = archivers_.find(key);
  if (it != archivers_.end()) {
    if (it->second != &p && it->second->hears(channel)) return false;
    it->second = &p;
    return true;
  }
  // Entries of channels nobody is in any more go when the map outgrows what the puppets can
  // be in at once.
  if (archivers_.size() >= puppets_.size() * options_.max_channels + 1)
    std::erase_if(archivers_, [&](const auto& e) {
      return !e.second->hears(std::string_view(e.first).substr(e.first.rfind('\n') + 1));
    });
  archivers_.emplace(key, &p);
  return true;
}

void Gateway::archive(const std::string& key, const core::Message& m) {
  // Queued, not committed here (write-behind store): errors come back through its on_error.
  if (auto st = options_.store->append_history(key, m, options_.history_keep); !st)
    spdlog::warn("gateway: archiving a line: {}", st.error().text);
}

void Gateway::forget_archiver(const Puppet* p) {
  std::erase_if(archivers_, [p](const auto& e) { return e.second == p; });
}

void Gateway::send_history(const std::string& to, const std::string& room_jid, const std::string& key,
                           const HistoryRequest& req) {
  if (!archiving()) return;
  auto rows = join_history(*options_.store, key, req,
                           core::Clock::now(), options_.history_join);
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

void Gateway::on_presence(const XmppIn& s) {
  if (s.type == "error" || s.type == "probe" || s.type == "subscribe" || s.type == "subscribed" ||
      s.type == "unsubscribe" || s.type == "unsubscribed")
    return;
  auto a = parse_gateway_address(s.to_local, s.to_resource);
  if (!a) return error_reply(s, "modify", "jid-malformed", "not a #channel%irc.server address");
  auto net = find_network(a->server);
  if (a->kind != GatewayAddress::Kind::channel) {
    // Presence to users/servers: an unavailable one ends that resource's private chats.
    if (net && s.type == "unavailable")
      if (Puppet* p = puppet_for(bare_of(s.from), *net, a->server, {}, false, nullptr)) p->pm_gone(s.from);
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
  Puppet* p = puppet_for(bare, *net, a->server, a->resource, true, &why);
  if (!p) return error_reply(s, "wait", "resource-constraint", why);
  if (!p->in_channel(a->target) && p->channels() >= options_.max_channels)
    return error_reply(s, "wait", "resource-constraint",
                       "too many channels on this network (irc.max_channels)");
  p->join(s.from, a->target, a->server, a->resource, s.id, s.history);
}

void Gateway::on_message(const XmppIn& s) {
  if (s.type == "error") return;
  auto a = parse_gateway_address(s.to_local, s.to_resource);
  if (!a) return error_reply(s, "modify", "jid-malformed", "not a #channel%irc.server address");
  auto net = find_network(a->server);
  if (!net)
    return error_reply(s, "cancel", "not-allowed", "this gateway does not serve IRC network " + a->server);
  const std::string bare = bare_of(s.from);
  Puppet* p = puppet_for(bare, *net, a->server, {}, false, nullptr);
  std::string why;
  if (!p && a->kind == GatewayAddress::Kind::user && s.body) {
    // A private message with no connection open opens one (nick: the JID's localpart).
    p = puppet_for(bare, *net, a->server, bare.substr(0, bare.find('@')), true, &why);
    if (!p) return error_reply(s, "wait", "resource-constraint", why);
  }
  if (!p)
    return error_reply(s, "cancel", "recipient-unavailable", "join a channel of this IRC network first");
  bool ok = true;
  if (a->kind == GatewayAddress::Kind::channel && a->resource.empty() && s.type == "groupchat") {
    if (s.subject && !s.body)
      ok = p->set_topic(s.from, a->target, *s.subject, &why);
    else if (s.body)
      ok = p->say(s.from, a->target, *s.body, s.id, &why, s.spans);
  } else if (a->kind == GatewayAddress::Kind::channel && !a->resource.empty()) {
    if (s.body) ok = p->private_message(s.from, a->resource, *s.body, &why, s.spans);  // a MUC private message
  } else if (a->kind == GatewayAddress::Kind::user) {
    if (s.body) ok = p->private_message(s.from, a->target, *s.body, &why, s.spans);
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
  for (auto& [_, p] : gone) p->quit(reason);  // ~Puppet lets the QUIT flush, then the link closes
}

void Gateway::stop() {
  stopping_ = true;
  for (auto& [_, p] : puppets_) p->quit("Gateway shutting down");
}

}  // namespace parley::adapters::gateway

#include "adapters/gateway/gateway.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "adapters/common/post_guarded.hpp"
#include "adapters/gateway/address.hpp"
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

// XEP-0030 disco#info (clients ask a room before joining it) and XEP-0199 ping; anything
// else (ad-hoc commands, MAM: later slices) is service-unavailable (RFC 6120 §8.4).
void Gateway::on_iq(const XmppIn& s) {
  std::string from = s.to_local.empty() ? options_.domain : s.to_local + "@" + options_.domain;
  if (!s.to_resource.empty()) from += "/" + s.to_resource;
  if (s.type == "get" && s.iq_ns == "urn:xmpp:ping" && s.iq_name == "ping")
    return send(s.from, render_iq_result(from, s.from, s.id));
  if (s.type == "get" && s.iq_ns == "http://jabber.org/protocol/disco#info" && s.iq_name == "query") {
    if (s.to_local.empty())
      return send(s.from, render_disco_info(from, s.from, s.id, "conference", "irc", "IRC gateway",
                                            {"http://jabber.org/protocol/disco#info",
                                             "http://jabber.org/protocol/muc", "urn:xmpp:ping"}));
    auto a = parse_gateway_address(s.to_local, s.to_resource);
    if (a && a->kind == GatewayAddress::Kind::channel && a->resource.empty() && find_network(a->server))
      return send(s.from, render_disco_info(
                              from, s.from, s.id, "conference", "irc", a->target,
                              {"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/muc",
                               "muc_nonanonymous", "muc_open", "muc_public", "muc_temporary"}));
  }
  error_reply(s, "cancel", "service-unavailable", {});
}

namespace {
// Channel vs nick follows the network's CHANTYPES (Biboumi's rule): once the user's
// connection to it has registered, its ISUPPORT decides ("+chan" is a channel on a network
// with CHANTYPES=#&+); before, RFC 2812's "#&".
std::optional<GatewayAddress> with_chantypes(const XmppIn& s, std::optional<GatewayAddress> a, const Puppet* p) {
  if (!a || !p || p->chantypes() == "#&") return a;
  return parse_gateway_address(s.to_local, s.to_resource, p->chantypes());
}
}  // namespace

void Gateway::on_presence(const XmppIn& s) {
  if (s.type == "error" || s.type == "probe" || s.type == "subscribe" || s.type == "subscribed" ||
      s.type == "unsubscribe" || s.type == "unsubscribed")
    return;
  auto a = parse_gateway_address(s.to_local, s.to_resource);
  if (!a) return error_reply(s, "modify", "jid-malformed", "not a #channel%irc.server address");
  auto net = find_network(a->server);
  if (net) a = with_chantypes(s, a, puppet_for(bare_of(s.from), *net, a->server, {}, false, nullptr));
  if (!a) return error_reply(s, "modify", "jid-malformed", "not a #channel%irc.server address");
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
  p->join(s.from, a->target, a->server, a->resource, s.id);
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
  a = with_chantypes(s, a, p);
  if (!a) return error_reply(s, "modify", "jid-malformed", "not a #channel%irc.server address");
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

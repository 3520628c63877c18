#include "adapters/gateway/adhoc.hpp"

#include <algorithm>
#include <span>

#include "adapters/gateway/address.hpp"
#include "adapters/gateway/forms.hpp"
#include "adapters/gateway/gateway.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::gateway {

using protocols::xmpp::XmlWriter;

namespace {
constexpr std::string_view kStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
constexpr std::string_view kConfigure = "configure";
constexpr std::string_view kLinks = "links";
constexpr std::string_view kDisconnect = "disconnect";

std::string bare_of(std::string_view full) { return std::string(full.substr(0, full.find('/'))); }

std::string to_jid(const XmppIn& s, std::string_view domain) {
  std::string j = s.to_local.empty() ? std::string(domain) : s.to_local + "@" + std::string(domain);
  if (!s.to_resource.empty()) j += "/" + s.to_resource;
  return j;
}

// What a command addresses: the gateway itself, one network, or one channel.
struct Target {
  enum class Kind : std::uint8_t { gateway, server, channel } kind = Kind::gateway;
  std::string network;  // the configured network's name
  std::string label;    // the address's server part
  std::string channel;
};

struct NodeInfo {
  std::string_view node, name;
  bool admin;
};
constexpr NodeInfo kGatewayNodes[] = {{kConfigure, "Configure the IRC gateway", false},
                                      {kLinks, "List IRC links (admin)", true},
                                      {kDisconnect, "Disconnect a user's IRC links (admin)", true}};
constexpr NodeInfo kServerNodes[] = {{kConfigure, "Configure this IRC network", false}};
constexpr NodeInfo kChannelNodes[] = {{kConfigure, "Configure this channel", false}};

std::span<const NodeInfo> nodes_of(Target::Kind k) {
  if (k == Target::Kind::gateway) return kGatewayNodes;
  if (k == Target::Kind::server) return kServerNodes;
  return kChannelNodes;
}
}  // namespace

bool Adhoc::is_admin(std::string_view bare) const {
  for (const auto& a : gw_.options().admins)
    if (protocols::ascii_equal_fold(a, bare)) return true;
  return false;
}

namespace {
std::optional<Target> target_of(const Gateway& gw, const XmppIn& s) {
  if (s.to_local.empty()) {
    if (!s.to_resource.empty()) return std::nullopt;
    return Target{};
  }
  auto a = parse_gateway_address(s.to_local, s.to_resource);
  if (!a || !a->resource.empty() || a->kind == GatewayAddress::Kind::user) return std::nullopt;
  auto net = gw.find_network(a->server);
  if (!net) return std::nullopt;
  Target t;
  t.kind = a->kind == GatewayAddress::Kind::server ? Target::Kind::server : Target::Kind::channel;
  t.network = net->name;
  t.label = a->server;
  t.channel = a->target;
  if (t.kind == Target::Kind::channel && check_channel(t.channel)) return std::nullopt;
  return t;
}
}  // namespace

void Adhoc::reply_error(const XmppIn& s, std::string_view type, std::string_view condition,
                        std::string_view app, std::string_view text) {
  std::string out;
  XmlWriter w(out);
  w.open("iq")
      .attr("from", to_jid(s, gw_.domain()))
      .attr("to", s.from)
      .attr("type", "error")
      .attr("id", s.id);
  // RFC 6120 §8.3.2: the defined condition, then text, then the application condition.
  w.open("error").attr("type", type).open(condition).attr("xmlns", kStanzas).close();
  if (!text.empty()) w.open("text").attr("xmlns", kStanzas).text(text).close();
  if (!app.empty()) w.open(app).attr("xmlns", kCommandsNs).close();
  w.finish();
  gw_.send(s.from, std::move(out));
}

void Adhoc::reply(const XmppIn& s, std::string_view node, std::string_view sessionid, std::string_view status,
                  std::string_view body) {
  std::string out;
  XmlWriter w(out);
  w.open("iq")
      .attr("from", to_jid(s, gw_.domain()))
      .attr("to", s.from)
      .attr("type", "result")
      .attr("id", s.id);
  w.open("command").attr("xmlns", kCommandsNs).attr("node", node).attr_if("sessionid", sessionid);
  w.attr("status", status);
  w.raw(body);  // rendered here or by render_form, with the escaping writer
  w.finish();
  gw_.send(s.from, std::move(out));
}

void Adhoc::list(const XmppIn& s) {
  auto t = target_of(gw_, s);
  std::string out;
  XmlWriter w(out);
  const std::string me = to_jid(s, gw_.domain());
  w.open("iq").attr("from", me).attr("to", s.from).attr("type", "result").attr("id", s.id);
  w.open("query").attr("xmlns", "http://jabber.org/protocol/disco#items").attr("node", kCommandsNs);
  // XEP-0050 §2.2: only the commands this requester may run.
  if (t) {
    const bool admin = is_admin(bare_of(s.from));
    for (const auto& n : nodes_of(t->kind))
      if (!n.admin || admin) w.open("item").attr("jid", me).attr("node", n.node).attr("name", n.name).close();
  }
  w.finish();
  gw_.send(s.from, std::move(out));
}

std::string Adhoc::new_session(const XmppIn& s, std::string_view node) {
  const auto now = std::chrono::steady_clock::now();
  // Expired ones go first; then, over the per-user bound, the user's oldest.
  std::erase_if(sessions_, [&](const Session& x) { return now - x.at > kSessionTtl; });
  const std::string bare = bare_of(s.from);
  std::size_t mine = 0;
  for (const auto& x : sessions_) mine += bare_of(x.requester) == bare;
  while (mine >= gw_.options().adhoc_sessions) {
    auto it = std::find_if(sessions_.begin(), sessions_.end(),
                           [&](const Session& x) { return bare_of(x.requester) == bare; });
    if (it == sessions_.end()) break;
    sessions_.erase(it);
    --mine;
  }
  Session x{std::to_string(++counter_) + "-" +
                std::to_string(
                    std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count()),
            s.from, to_jid(s, gw_.domain()), std::string(node), now};
  sessions_.push_back(x);
  return x.id;
}

Adhoc::Session* Adhoc::find_session(const XmppIn& s) {
  const auto now = std::chrono::steady_clock::now();
  for (auto& x : sessions_)
    if (x.id == s.command->sessionid && x.requester == s.from && x.target == to_jid(s, gw_.domain()) &&
        x.node == s.command->node && now - x.at <= kSessionTtl)
      return &x;
  return nullptr;
}

void Adhoc::drop_session(std::string_view id) {
  std::erase_if(sessions_, [&](const Session& x) { return x.id == id; });
}

void Adhoc::execute(const XmppIn& s) {
  const CommandIn& c = *s.command;
  auto t = target_of(gw_, s);
  const NodeInfo* info = nullptr;
  if (t)
    for (const auto& n : nodes_of(t->kind))
      if (n.node == c.node) info = &n;
  if (!info) return reply_error(s, "cancel", "item-not-found", {}, "no such command here");
  const std::string bare = bare_of(s.from);
  if (info->admin && !is_admin(bare))
    return reply_error(s, "auth", "forbidden", {}, "for gateway administrators only (irc.gateway_admins)");
  const std::string_view a = c.action;
  if (!a.empty() && a != "execute" && a != "complete" && a != "cancel" && a != "next" && a != "prev")
    return reply_error(s, "modify", "bad-request", "malformed-action", "unknown action");

  if (c.sessionid.empty()) {
    if (a == "cancel" || a == "next" || a == "prev" || a == "complete")
      return reply_error(s, "modify", "bad-request", "bad-action", "start the command with execute");
    const std::string& owner = bare;
    if (info->node == kLinks) {
      // One stage: the result straight away (XEP-0050 §3.3 single-stage command).
      Form f;
      f.type = "result";
      f.title = "IRC links";
      FormField lines{"links", "text-multi", "user network nick channels state", {}, {}};
      std::size_t n = 0;
      for (const auto& l : gw_.links()) {
        if (lines.values.size() < 1000)
          lines.values.push_back(l.bare + " " + l.network + " " + l.nick + " " + std::to_string(l.channels) +
                                 (l.connected ? " up" : " down"));
        ++n;
      }
      f.fields.push_back({"count", "text-single", "Links", {std::to_string(n)}, {}});
      f.fields.push_back(std::move(lines));
      return reply(s, c.node, {}, "completed", render_form(f));
    }
    Form f;
    if (info->node == kDisconnect) {
      f.title = "Disconnect a user's IRC links";
      f.fields = {{"jid", "jid-single", "The user's bare JID", {}, {}},
                  {"network", "text-single", "Only this network (empty: all)", {}, {}}};
    } else {
      const UserSettings us = gw_.user_settings(owner);
      f = t->kind == Target::Kind::gateway  ? gateway_form(us)
          : t->kind == Target::Kind::server ? server_form(us, t->network)
                                            : channel_form(us, t->network, t->channel);
    }
    const std::string id = new_session(s, c.node);
    std::string body;
    XmlWriter w(body);
    w.open("actions").attr("execute", "complete").open("complete").close().close();
    return reply(s, c.node, id, "executing", body + render_form(f));
  }

  Session* sess = find_session(s);
  if (!sess)
    return reply_error(s, "modify", "bad-request", "bad-sessionid", "no such session (it may have expired)");
  if (a == "cancel") {
    const std::string id = sess->id;
    drop_session(id);
    return reply(s, c.node, id, "canceled", {});
  }
  if (a == "next" || a == "prev")
    return reply_error(s, "modify", "bad-request", "bad-action",
                       "this command has one stage: complete or cancel");
  if (!c.has_form || c.form_type != "submit")
    return reply_error(s, "modify", "bad-request", "bad-payload",
                       "a submitted form (type='submit') is expected");
  const Session copy = *sess;
  submit(s, copy);
}

void Adhoc::submit(const XmppIn& s, const Session& sess) {
  const CommandIn& c = *s.command;
  const std::string owner = bare_of(s.from);
  auto t = target_of(gw_, s);  // checked by execute()
  std::string note;
  if (sess.node == kDisconnect) {
    std::string jid, network;
    for (const auto& f : c.fields) {
      if (f.values.size() > 1)
        return reply_error(s, "modify", "bad-request", "bad-payload", f.var + " takes one value");
      const std::string v = f.values.empty() ? std::string() : f.values.front();
      if (f.var == "jid")
        jid = v;
      else if (f.var == "network")
        network = v;
      else if (f.var != "FORM_TYPE")
        return reply_error(s, "modify", "bad-request", "bad-payload",
                           "unknown field '" + f.var.substr(0, 64) + "'");
    }
    if (jid.empty() || jid.size() > 3071 ||
        jid.find_first_of(std::string_view("/ \r\n\0", 5)) != std::string::npos ||
        jid.find('@') == std::string::npos)
      return reply_error(s, "modify", "bad-request", "bad-payload", "jid: a bare JID");
    const std::size_t n = gw_.disconnect(jid, network);
    note = std::to_string(n) + " IRC link(s) closed";
  } else {
    const UserSettings current = gw_.user_settings(owner);
    SettingsChange change;
    std::optional<std::string> bad;
    const std::string& gwd = gw_.domain();
    if (t->kind == Target::Kind::gateway)
      bad = submit_gateway(c.fields, gwd, owner, change);
    else if (t->kind == Target::Kind::server)
      bad = submit_server(c.fields, current, gwd, owner, t->network, t->label,
                          {.max_channels = gw_.options().max_channels}, change);
    else
      bad = submit_channel(c.fields, gwd, owner, t->network, t->channel, t->label, change);
    if (bad) return reply_error(s, "modify", "bad-request", "bad-payload", *bad);
    if (auto e = gw_.save_settings(owner, change))
      return reply_error(s, "wait", "resource-constraint", {}, *e);
    note = "Saved: used from your next connection to the IRC network";
  }
  drop_session(sess.id);
  std::string body;
  XmlWriter w(body);
  w.open("note").attr("type", "info").text(note).close();
  reply(s, c.node, sess.id, "completed", body);
}

}  // namespace parley::adapters::gateway

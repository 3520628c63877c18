#include "adapters/xmpp/gateway_route.hpp"

#include <optional>

#include "adapters/gateway/gateway.hpp"
#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/link.hpp"
#include "adapters/xmpp/xhtml_im.hpp"
#include "core/core.hpp"

namespace parley::adapters::xmpp {

namespace {
constexpr std::string_view kMuc = "http://jabber.org/protocol/muc";
constexpr std::string_view kCommands = "http://jabber.org/protocol/commands";
constexpr std::string_view kData = "jabber:x:data";
constexpr std::string_view kMucAdmin = "http://jabber.org/protocol/muc#admin";

std::string bounded(std::string_view v) {
  // One byte over the bound: the field's validation refuses it rather than a cut value
  // passing as another.
  return std::string(v.substr(0, gateway::kMaxFieldValue + 1));
}

// XEP-0050 §3 <command node action sessionid> and its XEP-0004 §3.2 submitted form.
gateway::CommandIn command_in(pugi::xml_node cmd, const px::StreamNamespaces& stream) {
  gateway::CommandIn c;
  c.node = bounded(px::attr(cmd, "node"));
  c.action = bounded(px::attr(cmd, "action"));
  c.sessionid = bounded(px::attr(cmd, "sessionid"));
  pugi::xml_node x = px::child(cmd, "x", kData, stream);
  if (!x) return c;
  c.has_form = true;
  c.form_type = bounded(px::attr(x, "type"));
  for (auto f : x.children()) {
    if (f.type() != pugi::node_element || px::local_name(f) != "field") continue;
    if (c.fields.size() >= gateway::kMaxFormFields) break;
    gateway::FormFieldIn field;
    field.var = bounded(px::attr(f, "var"));
    for (auto v : f.children()) {
      if (v.type() != pugi::node_element || px::local_name(v) != "value") continue;
      if (field.values.size() >= gateway::kMaxFieldValues) break;
      field.values.push_back(bounded(v.text().get()));
    }
    c.fields.push_back(std::move(field));
  }
  return c;
}

constexpr std::string_view kMam = "urn:xmpp:mam:2";
constexpr std::string_view kRsm = "http://jabber.org/protocol/rsm";

// A non-negative decimal count as sent in <history/> and <max/>; anything else (a sign, a
// letter, more than 9 digits) counts as absent: the gateway's bounds apply instead.
std::optional<std::size_t> count_of(std::string_view v) {
  if (v.empty() || v.size() > 9) return std::nullopt;
  std::size_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  return n;
}

// XEP-0313 §4 (the form) and XEP-0059 §2 (the <set/>) of a MAM query.
gateway::MamRequest mam_request(pugi::xml_node q, const px::StreamNamespaces& ns) {
  gateway::MamRequest r;
  r.queryid = px::attr(q, "queryid");
  if (auto x = px::child(q, "x", kData, ns))
    for (auto f : x.children()) {
      if (f.type() != pugi::node_element || px::local_name(f) != "field") continue;
      const std::string_view var = px::attr(f, "var");
      const std::string value = px::child(f, "value", kData, ns).text().get();
      if (var == "FORM_TYPE") continue;
      if (var == "start") r.start = value;
      else if (var == "end") r.end = value;
      else if (var == "with") r.with = value;
      else r.unknown_field = true;
    }
  if (auto set = px::child(q, "set", kRsm, ns)) {
    if (auto m = px::child(set, "max", kRsm, ns)) r.max = count_of(m.text().get());
    if (auto a = px::child(set, "after", kRsm, ns)) r.after = a.text().get();
    if (auto b = px::child(set, "before", kRsm, ns)) r.before = b.text().get();
  }
  return r;
}

// The children gateway_in reads: for each, the first element child with that local name in
// that namespace (body, subject, status: the stanza's; html: XHTML-IM; x: MUC), as
// px::child() finds it, in one pass over the children.
struct Children {
  pugi::xml_node body, subject, status, html, muc;
};

Children children_of(const px::Stanza& s, std::string_view ns) {
  Children out;
  const pugi::xml_node root = s.root();
  // An unprefixed child's namespace is its own xmlns or, as namespace_of() walks up, the
  // root's: `ns` when the root is unprefixed too (its xmlns or the stream's default).
  const bool root_prefixed = !px::prefix_of(root).empty();
  auto in_ns = [&](pugi::xml_node c, std::string_view want) {
    if (want.empty()) return true;  // as px::child(): "" matches any namespace
    if (root_prefixed || !px::prefix_of(c).empty()) return px::namespace_of(c, s.stream()) == want;
    const pugi::xml_attribute own = c.attribute("xmlns");
    return (own ? std::string_view(own.value()) : ns) == want;
  };
  for (pugi::xml_node c = root.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    const std::string_view local = px::local_name(c);
    if (local == "body") {
      if (!out.body && in_ns(c, ns)) out.body = c;
    } else if (local == "subject") {
      if (!out.subject && in_ns(c, ns)) out.subject = c;
    } else if (local == "status") {
      if (!out.status && in_ns(c, ns)) out.status = c;
    } else if (local == "html") {
      if (!out.html && in_ns(c, kXhtmlIm)) out.html = c;
    } else if (local == "x") {
      if (!out.muc && in_ns(c, kMuc)) out.muc = c;
    }
  }
  return out;
}
}  // namespace

gateway::XmppIn gateway_in(px::Stanza& s, px::Jid to, std::string from) {
  gateway::XmppIn in;
  const std::string_view name = s.name();
  in.kind = name == "message"    ? gateway::XmppIn::Kind::message
            : name == "presence" ? gateway::XmppIn::Kind::presence
                                 : gateway::XmppIn::Kind::iq;
  in.type = s.attr("type");
  in.id = s.attr("id");
  in.from = std::move(from);
  in.to_local = std::move(to.local);
  in.to_domain = std::move(to.domain);
  in.to_resource = std::move(to.resource);
  // Children in the stanza's own namespace: jabber:client on c2s, jabber:component:accept
  // on a XEP-0114 stream, found in one pass (children_of).
  const std::string_view ns = s.ns();
  const Children c = children_of(s, ns);
  if (c.body) in.body = c.body.text().get();
  if (c.subject) in.subject = c.subject.text().get();
  if (in.kind == gateway::XmppIn::Kind::presence) in.status = c.status.text().get();
  if (in.kind == gateway::XmppIn::Kind::iq)
    for (auto child : s.root().children())
      if (child.type() == pugi::node_element) {
        in.iq_ns = px::namespace_of(child, s.stream());
        in.iq_name = px::local_name(child);
        if (in.iq_ns == kMam && in.iq_name == "query" && in.type == "set") in.mam = mam_request(child, s.stream());
        in.iq_node = bounded(px::attr(child, "node"));
        if (in.iq_ns == kCommands && in.iq_name == "command") in.command = command_in(child, s.stream());
        if (in.iq_ns == kMucAdmin && in.iq_name == "query" && in.type == "set")
          if (auto item = px::child(child, "item", kMucAdmin, s.stream())) {
            in.muc_admin = gateway::MucAdminIn{.nick = bounded(px::attr(item, "nick")),
                                               .role = bounded(px::attr(item, "role")),
                                               .affiliation = bounded(px::attr(item, "affiliation")),
                                               .reason = {}};
            if (auto r = px::child(item, "reason", kMucAdmin, s.stream()))
              in.muc_admin->reason = bounded(r.text().get());
          }
        break;
      }
  if (in.body)
    if (auto html = c.html)
      for (const core::StyleSpan& r : parse_xhtml_im(html, *in.body))
        in.spans.push_back({.begin = r.begin, .end = r.end, .flags = r.flags, .fg = r.fg, .bg = r.bg});
  if (auto x = c.muc) {
    in.muc_join = true;
    if (auto h = px::child(x, "history", kMuc, s.stream())) {
      in.history.maxstanzas = count_of(px::attr(h, "maxstanzas"));
      in.history.maxchars = count_of(px::attr(h, "maxchars"));
      in.history.seconds = count_of(px::attr(h, "seconds"));
      in.history.since = px::attr(h, "since");
    }
    if (auto pw = px::child(x, "password", kMuc, s.stream())) in.password = bounded(pw.text().get());
  }
  return in;
}

void route_to_gateway(C2sConnection& c, px::Stanza& s, const px::Jid& to) {
  // the authenticated sender, never the stanza's 'from'
  gateway::XmppIn in = gateway_in(s, to, std::string(c.link()->full_jid()));
  in.peer_ip = c.peer_host();  // an IP literal (net.cpp); BOSH: the HTTP client's
  gateway::Gateway* gw = c.ctx().gateway;
  c.to_core("xmpp: to the IRC gateway", [gw, in = std::move(in)] { gw->on_stanza(in); });
}

void gateway_resource_gone(gateway::Gateway& gw, std::string_view full_jid) { gw.resource_gone(full_jid); }

gateway::XmppOut local_delivery(core::Core& core, std::string domain) {
  return [&core, domain = std::move(domain)](std::string_view to, std::string xml) {
    auto j = px::parse_jid(to);
    if (!j || j->domain != domain || j->resource.empty()) return;
    const core::SessionInfo* si = core.sessions().find_resource(core::Address::user(j->local), j->resource);
    if (!si || si->protocol != core::Protocol::xmpp) return;  // the resource is gone: nothing to tell
    if (auto* link = dynamic_cast<Link*>(si->sink)) link->deliver(xml);
  };
}

}  // namespace parley::adapters::xmpp

// Dispatch of a bound c2s stream's stanzas (RFC 6120 §8) to the handlers registered in
// c2s_handlers() (adapters/xmpp/handlers/), by stanza kind, addressee scope and, for iq
// requests, the payload's namespace; and the replies the handlers share.
#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/errors.hpp"
#include "adapters/xmpp/gateway_route.hpp"
#include "adapters/xmpp/handler_registry.hpp"
#include "adapters/xmpp/link.hpp"
#include "core/core.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

using px::XmlWriter;
namespace ns = px::ns;

namespace {
// Message and presence: a room or an occupant on the MUC domain, anyone else a user.
Scope addressee(const Domains& d, const px::Jid& to) {
  if (to.domain == d.muc && !to.local.empty()) return to.resource.empty() ? Scope::room : Scope::occupant;
  return Scope::user;
}
}  // namespace

void C2sConnection::send_stanza(std::string xml) {
  if (link_)
    link_->deliver(std::move(xml));
  else
    send(xml);
}

void C2sConnection::iq_result(const px::Stanza& s, std::string_view payload) {
  std::string out;
  XmlWriter w(out);
  w.open("iq").attr("type", "result").attr("id", s.attr("id"));
  if (link_) w.attr("to", link_->full_jid());
  w.attr_if("from", s.attr("to"));
  if (!payload.empty()) w.raw(payload);
  w.close();
  send_stanza(std::move(out));
}

void C2sConnection::stanza_error(const px::Stanza& s, std::string_view type, std::string_view condition,
                                 std::string_view text) {
  if (s.attr("type") == "error") return;  // never answer an error with an error (RFC 6120 §8.3.1)
  std::string out;
  XmlWriter w(out);
  w.open(s.name()).attr("type", "error").attr_if("id", s.attr("id")).attr_if("from", s.attr("to"));
  if (link_) w.attr("to", link_->full_jid());
  w.open("error").attr("type", type).open(condition).attr("xmlns", ns::stanzas).close();
  if (!text.empty()) w.open("text").attr("xmlns", ns::stanzas).text(text).close();
  w.finish();
  send_stanza(std::move(out));
}

// ---- message and presence ------------------------------------------------------------------------

void C2sConnection::on_message(px::Stanza& s) {
  if (s.attr("type") == "error") return;
  auto to = px::parse_jid(s.attr("to"));
  if (!to) return stanza_error(s, "modify", "jid-malformed");
  if (ctx_.gateway && to->domain == ctx_.gateway_domain) return route_to_gateway(*this, s, *to);
  if (auto h = c2s_handlers().find_stanza(Kind::message, addressee(ctx_.domains, *to)))
    return h(*this, s, &*to);
  stanza_error(s, "cancel", "service-unavailable");
}

void C2sConnection::on_presence(px::Stanza& s) {
  if (s.attr("type") == "error") return;
  std::optional<px::Jid> to;
  if (!s.attr("to").empty()) {
    to = px::parse_jid(s.attr("to"));
    if (!to) return stanza_error(s, "modify", "jid-malformed");
    if (ctx_.gateway && to->domain == ctx_.gateway_domain) return route_to_gateway(*this, s, *to);
  }
  // No 'to': the user's own presence (RFC 6121 §4.2), the user handler's to broadcast.
  if (auto h = c2s_handlers().find_stanza(Kind::presence, to ? addressee(ctx_.domains, *to) : Scope::user))
    h(*this, s, to ? &*to : nullptr);
}

// ---- iq (RFC 6120 §8.2.3) ----------------------------------------------------------------------------

void C2sConnection::on_iq(px::Stanza& s) {
  std::string_view type = s.attr("type");
  if (type == "result" || type == "error") {
    // An answer to an iq another local resource sent us is routed back (RFC 6120 §8.2.3);
    // answers to the server's own roster pushes and pings end here.
    auto to = px::parse_jid(s.attr("to"));
    if (to && to->domain == ctx_.domains.domain && !to->local.empty() && !to->resource.empty())
      route_iq(s, *to);
    return;
  }
  if ((type != "get" && type != "set") || s.attr("id").empty())
    return stanza_error(s, "modify", "bad-request");
  pugi::xml_node payload;
  int count = 0;
  for (auto c : s.root().children())
    if (c.type() == pugi::node_element) payload = payload ? payload : c, ++count;
  if (count != 1) return stanza_error(s, "modify", "bad-request");
  std::string_view to_attr = s.attr("to");
  std::optional<px::Jid> to;
  Scope scope = Scope::server;
  if (!to_attr.empty()) {
    to = px::parse_jid(to_attr);
    if (!to) return stanza_error(s, "modify", "jid-malformed");
    if (ctx_.gateway && to->domain == ctx_.gateway_domain) return route_to_gateway(*this, s, *to);
    if (to->domain == ctx_.domains.muc) {
      scope = to->local.empty() ? Scope::muc_service : to->resource.empty() ? Scope::room : Scope::occupant;
    } else if (to->domain == ctx_.domains.domain &&
               (to->local.empty() || (to->local == link_->user() && to->is_bare()))) {
      scope = Scope::server;  // the server, or the user's own account (answered by the server)
    } else if (to->domain == ctx_.domains.domain && !to->local.empty() && !to->resource.empty()) {
      // RFC 6121 §8.5.3: an iq to a full JID of a local user goes to that resource; to a
      // bare JID of another user the server answers for the account, and handles nothing.
      return route_iq(s, *to);
    } else {
      return stanza_error(s, "cancel", "service-unavailable");
    }
  }
  const std::string_view pns = px::namespace_of(payload, s.stream());
  IqRequest r{s,
              payload,
              pns,
              px::local_name(payload),
              scope,
              to ? &*to : nullptr,
              scope == Scope::server && to && !to->local.empty()};
  IqHandler h = c2s_handlers().find_iq(type == "get" ? Kind::iq_get : Kind::iq_set, scope, pns);
  // RFC 6120 §8.4: a request nothing here handles gets <service-unavailable/>.
  if (!h || !h(*this, r)) stanza_error(s, "cancel", "service-unavailable");
}

void C2sConnection::route_iq(px::Stanza& s, const px::Jid& to) {
  std::string out;
  XmlWriter w(out);
  w.open("iq")
      .attr("type", s.attr("type"))
      .attr("id", s.attr("id"))
      .attr("from", link_->full_jid())
      .attr("to", s.attr("to"));
  // Namespace declarations stay with what uses them (the children redeclare what they
  // inherited), and the sender's own declarations stay on the stanza.
  px::copy_prefix_declarations(w, s.root());
  for (auto c : s.root().children()) {
    if (c.type() != pugi::node_element) continue;
    std::string child;
    px::render(child, c, s.stream());
    w.raw(child);
  }
  w.close();
  const bool request = s.attr("type") == "get" || s.attr("type") == "set";
  std::string id(s.attr("id")), sto(s.attr("to"));
  core::Address target = core::Address::user(to.local);
  std::string resource = to.resource;
  to_core("xmpp: iq to a resource", [link = link_, out = std::move(out), request, id, sto, target, resource,
                                     &core = ctx_.rt.core]() mutable {
    const core::SessionInfo* si = core.sessions().find_resource(target, resource);
    Link* peer = si && si->protocol == core::Protocol::xmpp ? dynamic_cast<Link*>(si->sink) : nullptr;
    if (peer) return peer->deliver(std::move(out));
    // §8.5.3.2.2: no such resource: an error for a request, silence for an answer.
    if (request)
      link->deliver(render_stanza_error("iq", id, sto, link->full_jid(),
                                        core::make_error(core::Condition::service_unavailable, {})));
  });
}

}  // namespace parley::adapters::xmpp

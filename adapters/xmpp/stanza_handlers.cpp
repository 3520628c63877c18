// RFC 6121 stanza handling for a bound session: messages, presence, IQs addressed to the
// server or the user's own account (roster, disco, version, ping, carbons).
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/errors.hpp"
#include "adapters/xmpp/link.hpp"
#include "adapters/xmpp/xhtml_im.hpp"
#include "core/core.hpp"
#include "parley/version.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

namespace asio = boost::asio;
using px::XmlWriter;
namespace ns = px::ns;

namespace {
constexpr std::string_view kCarbons = "urn:xmpp:carbons:2";
constexpr std::string_view kChatStates = "http://jabber.org/protocol/chatstates";
constexpr std::string_view kDiscoInfo = "http://jabber.org/protocol/disco#info";
constexpr std::string_view kDiscoItems = "http://jabber.org/protocol/disco#items";
constexpr std::string_view kSid = "urn:xmpp:sid:0";  // XEP-0359

core::ChatState chat_state_of(const px::Stanza& s) {
  for (auto c : s.root().children()) {
    if (c.type() != pugi::node_element || px::namespace_of(c, s.stream()) != kChatStates) continue;
    auto n = px::local_name(c);
    if (n == "active") return core::ChatState::active;
    if (n == "composing") return core::ChatState::composing;
    if (n == "paused") return core::ChatState::paused;
    if (n == "inactive") return core::ChatState::inactive;
    if (n == "gone") return core::ChatState::gone;
  }
  return core::ChatState::none;
}
}  // namespace

core::Message message_from_stanza(const px::Stanza& s) {
  core::Message m;
  // The client's id is its own (XEP-0359 origin-id, else the stanza id): kept, bounded, to
  // show back to XMPP recipients; the message's id (stanza-id, IRC msgid) is Parley's.
  std::string_view client_id = s.attr("id");
  if (auto oid = s.child("origin-id", kSid)) client_id = oid.attribute("id").value();
  if (client_id.size() <= core::kMaxOriginIdBytes) m.origin_id = std::string(client_id);
  m.body = s.child("body", ns::client).text().get();
  if (!m.body.empty())
    if (auto html = s.child("html", kXhtmlIm)) m.rich = parse_xhtml_im(html, m.body);
  if (m.body.rfind("/me ", 0) == 0) {
    m.kind = core::MessageKind::action;
    m.body.erase(0, 4);
    // The spans were over "/me body": shift them onto the body.
    std::vector<core::StyleSpan> shifted;
    for (auto sp : m.rich) {
      if (sp.end <= 4) continue;
      sp.begin = sp.begin < 4 ? 0 : sp.begin - 4;
      sp.end -= 4;
      shifted.push_back(sp);
    }
    m.rich = std::move(shifted);
  }
  if (auto subj = s.child("subject", ns::client)) m.subject = std::string(subj.text().get());
  m.thread = s.child("thread", ns::client).text().get();
  m.chat_state = chat_state_of(s);
  m.receipt_request = static_cast<bool>(s.child("request", "urn:xmpp:receipts"));
  if (auto r = s.child("received", "urn:xmpp:receipts")) m.receipt_for = r.attribute("id").value();
  m.no_copy = s.child("private", kCarbons) || s.child("no-copy", "urn:xmpp:hints");
  m.origin.protocol = core::Protocol::xmpp;
  return m;
}

void C2sConnection::send_stanza(std::string xml) {
  if (link_) link_->deliver(std::move(xml));
  else send(xml);
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

// ---- message (RFC 6121 §5) --------------------------------------------------------------------

void C2sConnection::on_message(px::Stanza& s) {
  std::string_view type = s.attr("type");
  if (type == "error") return;
  auto to = px::parse_jid(s.attr("to"));
  if (!to) return stanza_error(s, "modify", "jid-malformed");
  if (to->domain == ctx_.domains.muc && !to->local.empty()) return on_muc_message(s, *to);
  core::Address dest = ctx_.domains.to_address(*to);
  if (dest.empty()) return stanza_error(s, "cancel", "service-unavailable");
  core::Message m = message_from_stanza(s);
  m.from = core::Address::user(std::string(link_->user()), std::string(link_->resource()));
  m.to = dest;
  if (type == "headline") m.kind = core::MessageKind::notice;
  auto link = link_;
  const bool content = !m.body.empty() || m.subject.has_value() || !m.receipt_for.empty();
  // XEP-0280 §5: a chat message (or a normal one with a body) is copied, as sent, to the
  // user's other resources with carbons on, unless marked <private/> or <no-copy/>.
  std::string sent_copy;
  if (!m.no_copy && ctx_.carbons_used.load(std::memory_order_relaxed) && (type == "chat" || ((type.empty() || type == "normal") && !m.body.empty()))) {
    XmlWriter w(sent_copy);
    w.open("message").attr("xmlns", ns::client).attr("from", link->full_jid()).attr("to", s.attr("to"));
    w.attr_if("type", type).attr_if("id", s.attr("id"));
    px::copy_prefix_declarations(w, s.root());
    for (auto c : s.root().children()) {
      if (c.type() != pugi::node_element) continue;
      std::string child;
      px::render(child, c, s.stream());
      w.raw(child);
    }
    w.close();
  }
  std::string err_id = m.id, err_to(s.attr("to"));
  to_core([link, m = std::move(m), content, err_id, err_to, sent_copy = std::move(sent_copy),
                                   &ctx = ctx_]() mutable {
    core::Core& core = ctx.rt.core;
    m.origin.session = link->sid;
    if (!sent_copy.empty()) send_carbons(ctx, link->user(), link.get(), "sent", sent_copy);
    // XEP-0085 §5.2 / XEP-0160: no offline storage for body-less notifications.
    if (!content && m.to.is_user() && !core.sessions().user_online(m.to.bare())) return;
    auto st = core.router().send(std::move(m));
    if (st) return;
    std::string out = render_stanza_error("message", err_id, err_to, link->full_jid(), st.error());
    link->deliver(std::move(out));
  });
}

// ---- presence (RFC 6121 §3, §4) ----------------------------------------------------------------

namespace {
core::Tuple tuple_of(const px::Stanza& s) {
  core::Tuple t;
  t.basic = s.attr("type") == "unavailable" ? core::Basic::closed : core::Basic::open;
  std::string_view show = s.child("show", ns::client).text().get();
  if (show == "away") t.availability = core::Availability::away;
  else if (show == "xa") t.availability = core::Availability::xa;
  else if (show == "dnd") t.availability = core::Availability::dnd;
  else if (show == "chat") t.availability = core::Availability::chat;
  t.note = s.child("status", ns::client).text().get();
  int prio = s.child("priority", ns::client).text().as_int(0);
  t.priority = static_cast<std::int8_t>(std::clamp(prio, -128, 127));
  return t;
}
}  // namespace

void C2sConnection::on_presence(px::Stanza& s) {
  std::string_view type = s.attr("type");
  if (type == "error") return;
  core::Core& core = ctx_.rt.core;
  auto link = link_;
  if (s.attr("to").empty()) {
    if (!type.empty() && type != "unavailable") return stanza_error(s, "modify", "bad-request");
    core::Tuple t = tuple_of(s);
    // RFC 6121 §4.2.2: the user's own resources, this one included, see the broadcast.
    std::string echo;
    XmlWriter w(echo);
    w.open("presence").attr("from", link->full_jid()).attr("to", link->full_jid());
    if (t.basic == core::Basic::closed) w.attr("type", "unavailable");
    px::copy_prefix_declarations(w, s.root());
    for (auto c : s.root().children()) {
      if (c.type() != pugi::node_element) continue;
      std::string child;
      px::render(child, c, s.stream());
      w.raw(child);
    }
    w.close();
    link->deliver(std::move(echo));
    to_core([link, t, &core, d = ctx_.domains] {
      core.presence().publish(link->sid, t);
      if (t.basic == core::Basic::open && !link->initial_presence) {
        // Initial presence (RFC 6121 §4.2): contacts' presence, pending requests, then
        // the messages stored while the user was away.
        link->initial_presence = true;
        core.presence().probe_all(link->sid);
        core::Address me = core::Address::user(std::string(link->user()));
        if (auto items = core.presence().roster(me)) {
          for (const auto& item : *items) {
            if (item.from != core::SubscriptionState::pending) continue;
            std::string out;
            XmlWriter(out).open("presence").attr("from", d.jid_of(item.contact)).attr("to", link->bare_jid())
                .attr("type", "subscribe").close();
            link->deliver(std::move(out));
          }
        }
        (void)core.router().flush_offline(link->sid);
      }
    });
    return;
  }
  auto to = px::parse_jid(s.attr("to"));
  if (!to) return stanza_error(s, "modify", "jid-malformed");
  if (to->domain == ctx_.domains.muc && !to->local.empty()) return on_muc_presence(s, *to);
  core::Address target = ctx_.domains.to_address(*to);
  if (target.empty()) return;
  core::Address me = core::Address::user(std::string(link->user()));
  std::string t(type);
  std::string err_id(s.attr("id")), err_to(s.attr("to"));
  if (t == "subscribe" || t == "subscribed" || t == "unsubscribe" || t == "unsubscribed" || t == "probe") {
    to_core([link, me, target = target.bare(), t, &core] {
      core::Status st;
      if (t == "subscribe") st = core.presence().subscribe(me, target);
      else if (t == "subscribed") st = core.presence().authorize(me, target, true);
      else if (t == "unsubscribed") st = core.presence().authorize(me, target, false);
      else if (t == "unsubscribe") st = core.presence().unsubscribe(me, target);
      else st = core.presence().probe(link->sid, target);
      if (!st) spdlog::debug("xmpp: presence {} to {}: {}", t, target.to_string(), st.error().text);
    });
    return;
  }
  if (!t.empty() && t != "unavailable") return stanza_error(s, "modify", "bad-request");
  // Directed presence (RFC 6121 §4.6) to a local user's sessions.
  core::Tuple tuple = tuple_of(s);
  tuple.id = link->resource();
  to_core([link, target, tuple, &core] {
    if (!target.is_user()) return;
    core::PresenceUpdate u{core::Address::user(std::string(link->user()), std::string(link->resource())), tuple, tuple};
    auto ids = target.resource().empty() ? core.sessions().of_user(target.bare())
                                         : std::vector<core::SessionId>{};
    if (!target.resource().empty())
      if (auto* si = core.sessions().find_resource(target.bare(), target.resource())) ids.push_back(si->id);
    for (auto id : ids)
      if (auto* si = core.sessions().find(id)) si->sink->on_presence(u);
  });
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
  if ((type != "get" && type != "set") || s.attr("id").empty()) return stanza_error(s, "modify", "bad-request");
  pugi::xml_node payload;
  int count = 0;
  for (auto c : s.root().children())
    if (c.type() == pugi::node_element) payload = payload ? payload : c, ++count;
  if (count != 1) return stanza_error(s, "modify", "bad-request");
  std::string_view pns = px::namespace_of(payload, s.stream());
  std::string_view to_attr = s.attr("to");
  if (to_attr.empty()) return on_server_iq(s, payload, pns);
  auto to = px::parse_jid(to_attr);
  if (!to) return stanza_error(s, "modify", "jid-malformed");
  if (to->domain == ctx_.domains.muc) return on_muc_iq(s, *to, payload, pns);
  if (to->domain == ctx_.domains.domain && (to->local.empty() || (to->local == link_->user() && to->is_bare())))
    return on_server_iq(s, payload, pns);
  // RFC 6121 §8.5.3: an iq to a full JID of a local user goes to that resource; to a bare
  // JID of another user the server answers for the account, and handles nothing here.
  if (to->domain == ctx_.domains.domain && !to->local.empty() && !to->resource.empty()) return route_iq(s, *to);
  return stanza_error(s, "cancel", "service-unavailable");
}

void C2sConnection::route_iq(px::Stanza& s, const px::Jid& to) {
  std::string out;
  XmlWriter w(out);
  w.open("iq").attr("type", s.attr("type")).attr("id", s.attr("id")).attr("from", link_->full_jid())
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
  to_core([link = link_, out = std::move(out), request, id, sto, target, resource,
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

void C2sConnection::on_server_iq(px::Stanza& s, pugi::xml_node payload, std::string_view pns) {
  std::string_view type = s.attr("type");
  std::string_view name = px::local_name(payload);
  core::Core& core = ctx_.rt.core;
  auto link = link_;
  auto self = std::static_pointer_cast<C2sConnection>(shared_from_this());
  std::string id(s.attr("id"));
  const bool to_account = !s.attr("to").empty() && s.attr("to").find('@') != std::string_view::npos;

  if (pns == ns::roster && name == "query") {
    core::Address me = core::Address::user(std::string(link->user()));
    if (type == "get") {
      to_core([link, me, id, &core, d = ctx_.domains] {
        auto items = core.presence().roster(me);
        std::string out;
        XmlWriter w(out);
        w.open("iq").attr("type", items ? "result" : "error").attr("id", id).attr("to", link->full_jid());
        if (items) {
          w.open("query").attr("xmlns", "jabber:iq:roster");
          for (const auto& item : *items) w.raw(render_roster_item(d, item, false));
          w.close();
        } else {
          w.raw("<error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
        }
        w.close();
        link->deliver(std::move(out));
      });
      return;
    }
    // set: exactly one item (RFC 6121 §2.3.3)
    auto item = payload.child("item");
    if (!item || item.next_sibling("item")) return stanza_error(s, "modify", "bad-request");
    auto jid = px::parse_jid(item.attribute("jid").value());
    if (!jid || !jid->is_bare()) return stanza_error(s, "modify", "bad-request");
    core::Address contact = ctx_.domains.to_address(*jid);
    if (contact.empty() || contact.is_room() || contact == me) return stanza_error(s, "modify", "not-acceptable");
    bool remove = std::string_view(item.attribute("subscription").value()) == "remove";
    std::string rname = item.attribute("name").value();
    std::vector<std::string> groups;
    for (auto g : item.children("group")) groups.emplace_back(g.text().get());
    std::string sto(s.attr("to"));
    to_core([link, me, contact, remove, rname, groups, id, sto, &core] {
      auto st = remove ? core.presence().remove_roster_item(me, contact)
                       : core.presence().set_roster_item(me, contact, rname, groups);
      if (st) {
        std::string out;
        XmlWriter(out).open("iq").attr("type", "result").attr("id", id).attr("to", link->full_jid()).close();
        link->deliver(std::move(out));
      } else {
        link->deliver(render_stanza_error("iq", id, sto, link->full_jid(), st.error()));
      }
    });
    return;
  }
  if (pns == "urn:xmpp:ping" && name == "ping") return iq_result(s);
  if (pns == ns::session && name == "session") return iq_result(s);
  if (pns == "jabber:iq:version" && name == "query" && type == "get" && !to_account) {
    std::string p;
    XmlWriter(p).open("query").attr("xmlns", "jabber:iq:version").element("name", "Parley")
        .element("version", parley::kVersion).close();
    return iq_result(s, p);
  }
  if (pns == "urn:xmpp:carbons:2" && type == "set" && (name == "enable" || name == "disable")) {
    if (name == "enable") ctx_.carbons_used = true;
    link->carbons = name == "enable";
    return iq_result(s);
  }
  if (pns == kDiscoInfo && type == "get") {
    std::string p;
    XmlWriter w(p);
    w.open("query").attr("xmlns", kDiscoInfo);
    if (to_account) {
      w.open("identity").attr("category", "account").attr("type", "registered").close();
    } else {
      w.open("identity").attr("category", "server").attr("type", "im").attr("name", "Parley").close();
      for (std::string_view f : {kDiscoInfo, kDiscoItems, std::string_view("urn:xmpp:ping"),
                                 std::string_view("jabber:iq:version"), std::string_view("jabber:iq:roster"),
                                 std::string_view("urn:xmpp:carbons:2"), std::string_view("urn:xmpp:sid:0"),
                                 std::string_view("urn:xmpp:sm:3"), std::string_view("urn:xmpp:receipts"),
                                 std::string_view("http://jabber.org/protocol/chatstates")})
        w.open("feature").attr("var", f).close();
    }
    w.close();
    return iq_result(s, p);
  }
  if (pns == kDiscoItems && type == "get") {
    std::string p;
    XmlWriter w(p);
    w.open("query").attr("xmlns", kDiscoItems);
    if (!to_account) w.open("item").attr("jid", ctx_.domains.muc).attr("name", "Rooms").close();
    w.close();
    return iq_result(s, p);
  }
  (void)self;
  return stanza_error(s, "cancel", "service-unavailable");
}

}  // namespace parley::adapters::xmpp

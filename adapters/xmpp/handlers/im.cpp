// RFC 6121 instant messaging and presence between users: <message/> and <presence/> to a
// user's JID (or, for presence, to no one: the broadcast), and the message extensions
// read into core::Message (XEP-0359 ids, XEP-0184 receipts, XEP-0085 chat states,
// XEP-0071 XHTML-IM, XEP-0334 hints, XEP-0280 <private/>).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/errors.hpp"
#include "adapters/xmpp/handler_registry.hpp"
#include "adapters/xmpp/handlers/handlers.hpp"
#include "adapters/xmpp/link.hpp"
#include "adapters/xmpp/xhtml_im.hpp"
#include "core/core.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

using px::XmlWriter;
namespace ns = px::ns;

namespace {
constexpr std::string_view kCarbons = "urn:xmpp:carbons:2";
constexpr std::string_view kChatStates = "http://jabber.org/protocol/chatstates";
constexpr std::string_view kReceipts = "urn:xmpp:receipts";
constexpr std::string_view kHints = "urn:xmpp:hints";
constexpr std::string_view kSid = "urn:xmpp:sid:0";  // XEP-0359

// ---- message extensions -----------------------------------------------------------------------

// XEP-0359 §3: the client's own id for its message, preferred to the stanza id.
void origin_id(pugi::xml_node c, std::string_view local, core::Message& m, MessageScan& scan) {
  if (local != "origin-id" || scan.origin_id) return;
  scan.origin_id = true;
  std::string_view id = c.attribute("id").value();
  m.origin_id = id.size() <= core::kMaxOriginIdBytes ? std::string(id) : std::string();
}

// XEP-0184: a request for a receipt, or the receipt for an earlier message.
void receipts(pugi::xml_node c, std::string_view local, core::Message& m, MessageScan& scan) {
  if (local == "request")
    m.receipt_request = true;
  else if (local == "received" && !scan.receipt_for) {
    scan.receipt_for = true;
    m.receipt_for = c.attribute("id").value();
  }
}

// XEP-0085: the first state the element names counts.
void chat_state(pugi::xml_node, std::string_view n, core::Message& m, MessageScan&) {
  if (m.chat_state != core::ChatState::none) return;
  if (n == "active")
    m.chat_state = core::ChatState::active;
  else if (n == "composing")
    m.chat_state = core::ChatState::composing;
  else if (n == "paused")
    m.chat_state = core::ChatState::paused;
  else if (n == "inactive")
    m.chat_state = core::ChatState::inactive;
  else if (n == "gone")
    m.chat_state = core::ChatState::gone;
}

// XEP-0071: parsed against the body once the whole message is read (message_from_stanza).
void xhtml_im(pugi::xml_node c, std::string_view local, core::Message&, MessageScan& scan) {
  if (local == "html" && !scan.html) scan.html = c;
}

// XEP-0280 §6 <private/> and XEP-0334 <no-copy/>: no carbon copies of this message.
void carbons_private(pugi::xml_node, std::string_view local, core::Message& m, MessageScan&) {
  if (local == "private") m.no_copy = true;
}
void hint_no_copy(pugi::xml_node, std::string_view local, core::Message& m, MessageScan&) {
  if (local == "no-copy") m.no_copy = true;
}

// ---- message to a user (RFC 6121 §5) ------------------------------------------------------------

void user_message(C2sConnection& c, px::Stanza& s, const px::Jid* to) {
  Context& ctx = c.ctx();
  std::string_view type = s.attr("type");
  core::Address dest = ctx.domains.to_address(*to);
  if (dest.empty()) return c.stanza_error(s, "cancel", "service-unavailable");
  const auto& link = c.link();
  core::Message m = message_from_stanza(s);
  m.from = core::Address::user(std::string(link->user()), std::string(link->resource()));
  m.to = dest;
  if (type == "headline") m.kind = core::MessageKind::notice;
  const bool content = !m.body.empty() || m.subject.has_value() || !m.receipt_for.empty();
  // XEP-0280 §5: a chat message (or a normal one with a body) is copied, as sent, to the
  // user's other resources with carbons on, unless marked <private/> or <no-copy/>.
  std::string sent_copy;
  if (!m.no_copy && ctx.carbons_used.load(std::memory_order_relaxed) &&
      (type == "chat" || ((type.empty() || type == "normal") && !m.body.empty()))) {
    XmlWriter w(sent_copy);
    w.open("message").attr("xmlns", ns::client).attr("from", link->full_jid()).attr("to", s.attr("to"));
    w.attr_if("type", type).attr_if("id", s.attr("id"));
    px::copy_prefix_declarations(w, s.root());
    for (auto ch : s.root().children()) {
      if (ch.type() != pugi::node_element) continue;
      std::string child;
      px::render(child, ch, s.stream());
      w.raw(child);
    }
    w.close();
  }
  std::string err_id = m.id, err_to(s.attr("to"));
  c.to_core("xmpp: message", [link, m = std::move(m), content, err_id, err_to,
                              sent_copy = std::move(sent_copy), &ctx]() mutable {
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

core::Tuple tuple_of(const px::Stanza& s) {
  core::Tuple t;
  t.basic = s.attr("type") == "unavailable" ? core::Basic::closed : core::Basic::open;
  std::string_view show = s.child("show", ns::client).text().get();
  if (show == "away")
    t.availability = core::Availability::away;
  else if (show == "xa")
    t.availability = core::Availability::xa;
  else if (show == "dnd")
    t.availability = core::Availability::dnd;
  else if (show == "chat")
    t.availability = core::Availability::chat;
  t.note = s.child("status", ns::client).text().get();
  int prio = s.child("priority", ns::client).text().as_int(0);
  t.priority = static_cast<std::int8_t>(std::clamp(prio, -128, 127));
  return t;
}

// RFC 6121 §4.2: presence without 'to' is the user's own, broadcast by the server.
void broadcast_presence(C2sConnection& c, px::Stanza& s) {
  std::string_view type = s.attr("type");
  if (!type.empty() && type != "unavailable") return c.stanza_error(s, "modify", "bad-request");
  const auto& link = c.link();
  core::Core& core = c.ctx().rt.core;
  core::Tuple t = tuple_of(s);
  // RFC 6121 §4.2.2: the user's own resources, this one included, see the broadcast.
  std::string echo;
  XmlWriter w(echo);
  w.open("presence").attr("from", link->full_jid()).attr("to", link->full_jid());
  if (t.basic == core::Basic::closed) w.attr("type", "unavailable");
  px::copy_prefix_declarations(w, s.root());
  for (auto ch : s.root().children()) {
    if (ch.type() != pugi::node_element) continue;
    std::string child;
    px::render(child, ch, s.stream());
    w.raw(child);
  }
  w.close();
  link->deliver(std::move(echo));
  c.to_core("xmpp: presence broadcast", [link, t, &core, d = c.ctx().domains] {
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
          XmlWriter(out)
              .open("presence")
              .attr("from", d.jid_of(item.contact))
              .attr("to", link->bare_jid())
              .attr("type", "subscribe")
              .close();
          link->deliver(std::move(out));
        }
      }
      (void)core.router().flush_offline(link->sid);
    }
  });
}

void user_presence(C2sConnection& c, px::Stanza& s, const px::Jid* to) {
  if (!to) return broadcast_presence(c, s);
  core::Core& core = c.ctx().rt.core;
  const auto& link = c.link();
  core::Address target = c.ctx().domains.to_address(*to);
  if (target.empty()) return;
  core::Address me = core::Address::user(std::string(link->user()));
  std::string t(s.attr("type"));
  if (t == "subscribe" || t == "subscribed" || t == "unsubscribe" || t == "unsubscribed" || t == "probe") {
    c.to_core("xmpp: subscription", [link, me, target = target.bare(), t, &core] {
      core::Status st;
      if (t == "subscribe")
        st = core.presence().subscribe(me, target);
      else if (t == "subscribed")
        st = core.presence().authorize(me, target, true);
      else if (t == "unsubscribed")
        st = core.presence().authorize(me, target, false);
      else if (t == "unsubscribe")
        st = core.presence().unsubscribe(me, target);
      else
        st = core.presence().probe(link->sid, target);
      if (!st) spdlog::debug("xmpp: presence {} to {}: {}", t, target.to_string(), st.error().text);
    });
    return;
  }
  if (!t.empty() && t != "unavailable") return c.stanza_error(s, "modify", "bad-request");
  // Directed presence (RFC 6121 §4.6) to a local user's sessions.
  core::Tuple tuple = tuple_of(s);
  tuple.id = link->resource();
  c.to_core("xmpp: directed presence", [link, target, tuple, &core] {
    if (!target.is_user()) return;
    core::PresenceUpdate u{core::Address::user(std::string(link->user()), std::string(link->resource())),
                           tuple, tuple};
    auto ids =
        target.resource().empty() ? core.sessions().of_user(target.bare()) : std::vector<core::SessionId>{};
    if (!target.resource().empty())
      if (auto* si = core.sessions().find_resource(target.bare(), target.resource())) ids.push_back(si->id);
    for (auto id : ids)
      if (auto* si = core.sessions().find(id)) si->sink->on_presence(u);
  });
}
}  // namespace

core::Message message_from_stanza(const px::Stanza& s) {
  core::Message m;
  // The client's id is its own (XEP-0359 origin-id, else the stanza id): kept, bounded, to
  // show back to XMPP recipients; the message's id (stanza-id, IRC msgid) is Parley's.
  if (std::string_view id = s.attr("id"); id.size() <= core::kMaxOriginIdBytes) m.origin_id = std::string(id);
  // One pass over the children: jabber:client's own, then each extension by namespace.
  const HandlerRegistry& reg = c2s_handlers();
  MessageScan scan;
  for (auto c : s.root().children()) {
    if (c.type() != pugi::node_element) continue;
    const std::string_view cns = px::namespace_of(c, s.stream()), local = px::local_name(c);
    if (cns == ns::client) {
      if (local == "body" && !scan.body)
        scan.body = true, m.body = c.text().get();
      else if (local == "subject" && !scan.subject)
        scan.subject = true, m.subject = std::string(c.text().get());
      else if (local == "thread" && !scan.thread)
        scan.thread = true, m.thread = c.text().get();
    } else if (auto ext = reg.find_message_extension(cns)) {
      ext(c, local, m, scan);
    }
  }
  if (!m.body.empty() && scan.html) m.rich = parse_xhtml_im(scan.html, m.body);
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
  m.origin.protocol = core::Protocol::xmpp;
  return m;
}

void register_sid(HandlerRegistry& r) {
  // XEP-0359 ids are also what room messages carry (stanza-id, origin-id).
  r.message_extension(kSid, origin_id, {{Scope::server | Scope::room, kSid}});
}

void register_im(HandlerRegistry& r) {
  r.stanza(Kind::message, scopes(Scope::user), user_message)
      .stanza(Kind::presence, scopes(Scope::user), user_presence)
      .message_extension(kReceipts, receipts, {{scopes(Scope::server), kReceipts}})
      .message_extension(kChatStates, chat_state, {{scopes(Scope::server), kChatStates}})
      .message_extension(kXhtmlIm, xhtml_im)
      .message_extension(kCarbons, carbons_private)
      .message_extension(kHints, hint_no_copy);
}

}  // namespace parley::adapters::xmpp

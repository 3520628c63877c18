#include "adapters/xmpp/render_message.hpp"

#include <chrono>
#include <vector>

#include "adapters/xmpp/xhtml_im.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

using px::XmlWriter;

namespace {
std::string_view chat_state_name(core::ChatState c) {
  switch (c) {
    case core::ChatState::active:
      return "active";
    case core::ChatState::composing:
      return "composing";
    case core::ChatState::paused:
      return "paused";
    case core::ChatState::inactive:
      return "inactive";
    case core::ChatState::gone:
      return "gone";
    default:
      return "";
  }
}
}  // namespace

bool delayed(const core::Message& m) {
  return m.timestamp != core::Timestamp{} && core::Clock::now() - m.timestamp > std::chrono::seconds(2);
}

std::size_t render_message(const Domains& d, const core::Message& m, std::string_view to,
                           std::string_view by_user, bool delay, std::string& out) {
  XmlWriter w(out);
  w.open("message");
  std::string_view by = by_user;
  std::string room_by;
  std::size_t to_at = 0;
  auto to_attr = [&] {
    w.attr("to", "");
    to_at = out.size() - 1;
    out.pop_back();
    px::escape_attr(out, to);
    out += '\'';
  };
  if (m.to.is_room()) {
    w.attr("from", d.room_jid(m.to.id(), m.nick));
    to_attr();
    if (m.kind == core::MessageKind::direct) {  // XEP-0045 §7.5 private message
      w.attr("type", "chat");
    } else {
      room_by = d.room_jid(m.to.id());
      by = room_by;
      w.attr("type", "groupchat");
    }
  } else {
    w.attr("from", d.jid_of(m.from));
    to_attr();
    w.attr("type", "chat");
  }
  // The sender's own id where it gave one (XEP-0184 receipts and the XEP-0045 §7.4
  // reflection refer to it), else Parley's.
  w.attr_if("id", m.origin_id.empty() ? m.id : m.origin_id);
  if (m.subject) w.element("subject", *m.subject);
  if (!m.body.empty()) {
    if (m.kind == core::MessageKind::action)
      w.element("body", "/me " + m.body);
    else
      w.element("body", m.body);
  }
  if (!m.rich.empty() && !m.body.empty()) {
    if (m.kind == core::MessageKind::action) {
      std::vector<core::StyleSpan> shifted = m.rich;
      for (auto& sp : shifted) sp.begin += 4, sp.end += 4;
      w.raw(render_xhtml_im("/me " + m.body, shifted));
    } else {
      w.raw(render_xhtml_im(m.body, m.rich));
    }
  }
  if (!m.thread.empty()) w.element("thread", m.thread);
  if (auto cs = chat_state_name(m.chat_state); !cs.empty())
    w.open(cs).attr("xmlns", "http://jabber.org/protocol/chatstates").close();
  if (m.receipt_request) w.open("request").attr("xmlns", "urn:xmpp:receipts").close();
  if (!m.receipt_for.empty())
    w.open("received").attr("xmlns", "urn:xmpp:receipts").attr("id", m.receipt_for).close();
  if (m.to.is_room() && m.kind == core::MessageKind::direct) w.open("x").attr("xmlns", kMucUser).close();
  // XEP-0359: the id the router assigned is stable across storage and history; the
  // client's own id, if any, travels as origin-id.
  if (!m.id.empty())
    w.open("stanza-id").attr("xmlns", "urn:xmpp:sid:0").attr("id", m.id).attr("by", by).close();
  if (!m.origin_id.empty())
    w.open("origin-id").attr("xmlns", "urn:xmpp:sid:0").attr("id", m.origin_id).close();
  if (delay)
    w.open("delay")
        .attr("xmlns", "urn:xmpp:delay")
        .attr("stamp", core::to_iso8601(m.timestamp))
        .attr("from", d.domain)
        .close();
  w.close();
  return to_at;
}

}  // namespace parley::adapters::xmpp

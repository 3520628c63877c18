#include "adapters/gateway/render.hpp"

#include "adapters/xmpp/xhtml_im.hpp"
#include "protocols/irc/text.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::gateway {

using protocols::xmpp::XmlWriter;

namespace {
constexpr std::string_view kMuc = "http://jabber.org/protocol/muc";
constexpr std::string_view kMucUser = "http://jabber.org/protocol/muc#user";
constexpr std::string_view kStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
}  // namespace

MucRole role_of_modes(std::string_view modes) {
  MucRole r;
  auto has = [&](char c) { return modes.find(c) != std::string_view::npos; };
  if (has('q') || has('a')) return {"owner", "moderator"};
  if (has('o')) return {"admin", "moderator"};
  if (has('h')) return {"member", "moderator"};
  if (has('v')) return {"member", "participant"};
  return r;
}

namespace {
// Appends `text` without the control characters XML 1.0 cannot carry (tab and LF stay).
void append_xml_safe(std::string& out, std::string_view text) {
  for (unsigned char c : text)
    if (c >= 0x20 || c == '\t' || c == '\n') out.push_back(static_cast<char>(c));
}
}  // namespace

std::string xml_safe_text(std::string_view irc_text) {
  std::string out;
  if (protocols::irc::has_formatting(irc_text)) {
    append_xml_safe(out, protocols::irc::parse_formatting(irc_text).text);
    return out;
  }
  out.reserve(irc_text.size());
  append_xml_safe(out, irc_text);
  return out;
}

// One pass over the text for the common plain line (every occupant's puppet renders it).
XmppBody body_from_irc(std::string_view irc_text, std::string_view prefix) {
  XmppBody b;
  if (!protocols::irc::has_formatting(irc_text)) {
    b.body.reserve(prefix.size() + irc_text.size());
    b.body += prefix;
    append_xml_safe(b.body, irc_text);
    return b;
  }
  auto st = protocols::irc::parse_formatting(irc_text);
  b.body.reserve(prefix.size() + st.text.size());
  b.body += prefix;
  append_xml_safe(b.body, st.text);
  // Offsets hold only when stripping removed nothing but the codes.
  if (st.spans.empty() || b.body.size() != prefix.size() + st.text.size()) return b;
  std::vector<core::StyleSpan> spans;
  spans.reserve(st.spans.size());
  const auto shift = static_cast<std::uint32_t>(prefix.size());
  for (const auto& sp : st.spans)
    spans.push_back(
        {.begin = sp.begin + shift, .end = sp.end + shift, .flags = sp.flags, .fg = sp.fg, .bg = sp.bg});
  b.html = adapters::xmpp::render_xhtml_im(b.body, spans);
  return b;
}

std::string render_occupant_presence(const OccupantPresence& p) {
  std::string out;
  XmlWriter w(out);
  w.open("presence").attr("from", p.from).attr("to", p.to);
  if (p.unavailable) w.attr("type", "unavailable");
  if (!p.status_text.empty()) w.element("status", p.status_text);
  w.open("x").attr("xmlns", kMucUser);
  w.open("item").attr("affiliation", p.role.affiliation).attr("role", p.unavailable ? "none" : p.role.role);
  if (!p.new_nick.empty()) w.attr("nick", p.new_nick);
  if (!p.reason.empty()) w.element("reason", p.reason);
  w.close();
  for (int code : p.statuses) w.open("status").attr("code", std::to_string(code)).close();
  w.finish();
  return out;
}

std::string render_message(std::string_view from, std::string_view to, std::string_view type,
                           std::string_view body, const std::string* subject, std::string_view id,
                           std::string_view html, std::string_view delay_stamp, std::string_view delay_from,
                           std::string_view stanza_id, std::string_view stanza_id_by) {
  std::string out;
  // The markup around the values is < 200 bytes: one allocation for the common stanza.
  out.reserve(200 + from.size() + to.size() + id.size() + body.size() + html.size() + stanza_id.size() +
              stanza_id_by.size() + (subject ? subject->size() : 0));
  XmlWriter w(out);
  w.open("message").attr("from", from).attr("to", to).attr("type", type).attr_if("id", id);
  if (subject) w.element("subject", *subject);
  if (!body.empty()) w.element("body", body);
  if (!html.empty()) w.raw(html);  // rendered by the escaping writer (xhtml_im.cpp)
  if (!delay_stamp.empty())
    w.open("delay")
        .attr("xmlns", "urn:xmpp:delay")
        .attr_if("from", delay_from)
        .attr("stamp", delay_stamp)
        .close();
  if (!stanza_id.empty())  // XEP-0359 §3: the archiving entity's id for this message
    w.open("stanza-id")
        .attr("xmlns", "urn:xmpp:sid:0")
        .attr("id", stanza_id)
        .attr("by", stanza_id_by)
        .close();
  w.finish();
  return out;
}

std::string render_delayed_message(std::string_view from, std::string_view to, std::string_view body,
                                   std::string_view room, std::string_view stamp) {
  std::string out;
  XmlWriter w(out);
  w.open("message").attr("from", from).attr("to", to).attr("type", "groupchat");
  w.element("body", body);
  w.open("delay").attr("xmlns", "urn:xmpp:delay").attr("from", room).attr("stamp", stamp).close();
  w.finish();
  return out;
}

std::string render_mam_result(std::string_view room, std::string_view to, std::string_view queryid,
                              std::string_view id, std::string_view stamp, std::string_view from,
                              std::string_view body) {
  std::string out;
  XmlWriter w(out);
  w.open("message").attr("from", room).attr("to", to);
  w.open("result").attr("xmlns", "urn:xmpp:mam:2").attr_if("queryid", queryid).attr("id", id);
  w.open("forwarded").attr("xmlns", "urn:xmpp:forward:0");
  w.open("delay").attr("xmlns", "urn:xmpp:delay").attr("stamp", stamp).close();
  w.open("message").attr("xmlns", "jabber:client").attr("from", from).attr("type", "groupchat");
  w.element("body", body);
  w.finish();
  return out;
}

std::string render_mam_fin(std::string_view from, std::string_view to, std::string_view id,
                           std::string_view first, std::string_view last, bool complete) {
  std::string out;
  XmlWriter w(out);
  w.open("iq").attr("type", "result").attr("from", from).attr("to", to).attr("id", id);
  w.open("fin").attr("xmlns", "urn:xmpp:mam:2");
  if (complete) w.attr("complete", "true");
  w.open("set").attr("xmlns", "http://jabber.org/protocol/rsm");
  if (!first.empty()) w.element("first", first);
  if (!last.empty()) w.element("last", last);
  w.finish();
  return out;
}

std::string render_mam_form(std::string_view from, std::string_view to, std::string_view id) {
  std::string out;
  XmlWriter w(out);
  w.open("iq").attr("type", "result").attr("from", from).attr("to", to).attr("id", id);
  w.open("query").attr("xmlns", "urn:xmpp:mam:2");
  w.open("x").attr("xmlns", "jabber:x:data").attr("type", "form");
  w.open("field").attr("type", "hidden").attr("var", "FORM_TYPE").element("value", "urn:xmpp:mam:2").close();
  w.open("field").attr("type", "jid-single").attr("var", "with").close();
  w.open("field").attr("type", "text-single").attr("var", "start").close();
  w.open("field").attr("type", "text-single").attr("var", "end").close();
  w.finish();
  return out;
}

std::string render_disco_info(std::string_view from, std::string_view to, std::string_view id,
                              std::string_view category, std::string_view type, std::string_view name,
                              std::initializer_list<std::string_view> features) {
  std::string out;
  XmlWriter w(out);
  w.open("iq").attr("type", "result").attr("from", from).attr("to", to).attr("id", id);
  w.open("query").attr("xmlns", "http://jabber.org/protocol/disco#info");
  w.open("identity").attr("category", category).attr("type", type).attr("name", name).close();
  for (auto f : features) w.open("feature").attr("var", f).close();
  w.finish();
  return out;
}

std::string render_iq_result(std::string_view from, std::string_view to, std::string_view id) {
  std::string out;
  XmlWriter w(out);
  w.open("iq").attr("type", "result").attr("from", from).attr("to", to).attr("id", id).close();
  return out;
}

std::string render_error(std::string_view kind, std::string_view from, std::string_view to,
                         std::string_view id, std::string_view type, std::string_view condition,
                         std::string_view text) {
  std::string out;
  XmlWriter w(out);
  w.open(kind).attr("from", from).attr("to", to).attr("type", "error").attr_if("id", id);
  // Every presence the gateway refuses was a MUC join or nick change: XEP-0045's errors
  // carry the join's <x/> (§7.2.x, §7.6 examples), which clients match them by.
  if (kind == "presence") w.open("x").attr("xmlns", kMuc).close();
  w.open("error").attr("type", type).open(condition).attr("xmlns", kStanzas).close();
  if (!text.empty()) w.open("text").attr("xmlns", kStanzas).text(text).close();
  w.finish();
  return out;
}

}  // namespace parley::adapters::gateway

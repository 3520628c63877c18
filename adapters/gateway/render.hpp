#pragma once
// The XMPP stanzas the gateway sends (XEP-0045 occupant presence and groupchat messages,
// private messages, errors), rendered with protocols/xmpp's writer so that IRC text - any
// '<' or '&' in it - is always character data. Pure.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace parley::adapters::gateway {

// XEP-0045 §5.1/§5.2 roles and affiliations from IRC channel modes (DESIGN.md "Biboumi
// IRC->XMPP roles"): q/a owner, o admin, h/v member; moderator for h and above.
struct MucRole {
  std::string_view affiliation = "none";
  std::string_view role = "participant";
};
MucRole role_of_modes(std::string_view modes);

// Text from IRC made fit for XML character data: formatting codes stripped, other C0
// controls (XML 1.0 §2.2 forbids them) removed.
std::string xml_safe_text(std::string_view irc_text);

// IRC text as an XMPP body (prefix + xml_safe_text) and, when it carried formatting, the
// XEP-0071 <html/> for it (adapters/xmpp/xhtml_im: the same rendering as the local bridge).
struct XmppBody {
  std::string body;
  std::string html;  // empty: plain
};
XmppBody body_from_irc(std::string_view irc_text, std::string_view prefix = {});

struct OccupantPresence {
  std::string_view from, to;
  MucRole role;
  bool unavailable = false;
  std::string_view new_nick;                 // status 303: the nick after a change
  std::initializer_list<int> statuses = {};  // 110 self, 210 nick changed by service, 307 kicked, 303
  std::string_view reason;                   // a kick's reason (<item><reason/>)
  std::string_view status_text;              // a part or quit message (<status/>)
};
std::string render_occupant_presence(const OccupantPresence& p);

// type: "groupchat" or "chat"; subject set -> a <subject/> (XEP-0045 §8.1, even empty).
// delay_stamp set: a XEP-0203 <delay/> (history, or what was kept while the user was away),
// from delay_from. stanza_id set: a XEP-0359 <stanza-id/> by stanza_id_by (the room), the
// line's MAM id.
std::string render_message(std::string_view from, std::string_view to, std::string_view type,
                           std::string_view body, const std::string* subject = nullptr,
                           std::string_view id = {}, std::string_view html = {},
                           std::string_view delay_stamp = {}, std::string_view delay_from = {},
                           std::string_view stanza_id = {}, std::string_view stanza_id_by = {});

// A channel line from the archive, replayed on join (XEP-0045 §7.2.15): a groupchat message
// from the occupant with XEP-0203 <delay from=room stamp=.../>.
std::string render_delayed_message(std::string_view from, std::string_view to, std::string_view body,
                                   std::string_view room, std::string_view stamp);
// One XEP-0313 §4.2 result: the archived line forwarded (XEP-0297) with its <delay/>.
std::string render_mam_result(std::string_view room, std::string_view to, std::string_view queryid,
                              std::string_view id, std::string_view stamp, std::string_view from,
                              std::string_view body);
// The iq result ending a MAM query: <fin complete> with the page's XEP-0059 first/last ids.
std::string render_mam_fin(std::string_view from, std::string_view to, std::string_view id,
                           std::string_view first, std::string_view last, bool complete);
// XEP-0313 §5.1: the answer to <iq type='get'><query xmlns='urn:xmpp:mam:2'/></iq>, the
// query form with the fields parse_mam understands (FORM_TYPE, with, start, end).
std::string render_mam_form(std::string_view from, std::string_view to, std::string_view id);

// XEP-0030 disco#info result: one identity (category, type, name) and the features.
std::string render_disco_info(std::string_view from, std::string_view to, std::string_view id,
                              std::string_view category, std::string_view type, std::string_view name,
                              std::initializer_list<std::string_view> features);
// An empty iq result (XEP-0199 ping).
std::string render_iq_result(std::string_view from, std::string_view to, std::string_view id);

// An error reply to a stanza (RFC 6120 §8.3): kind "presence"/"message"/"iq"; a presence
// error carries XEP-0045's <x xmlns='http://jabber.org/protocol/muc'/>.
std::string render_error(std::string_view kind, std::string_view from, std::string_view to,
                         std::string_view id, std::string_view type, std::string_view condition,
                         std::string_view text);

}  // namespace parley::adapters::gateway

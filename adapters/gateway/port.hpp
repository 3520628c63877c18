#pragma once
// What the gateway exchanges with an XMPP server, whichever it is: Parley's own c2s
// server (adapters/xmpp routes stanzas addressed to irc.gateway_domain here, and delivers
// what the gateway sends to the local resource named by 'to'), or - a later slice - an
// external server reached as a XEP-0114 component, which would feed the same two calls.
// Stanzas come in as plain copies (the XMPP stream's buffers belong to its strand), with
// 'from' set by the server: the sender is authenticated there, never trusted from the stanza.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/irc/text.hpp"

namespace parley::adapters::gateway {

// XEP-0045 §7.2.15 <history/> of a join presence, as sent (attributes absent: nullopt; a
// malformed number is absent too, so the default applies).
struct HistoryRequest {
  std::optional<std::size_t> maxstanzas, maxchars, seconds;
  std::string since;  // XEP-0082 DateTime, "" for none
};

// A XEP-0313 query (<query xmlns='urn:xmpp:mam:2'>): its data form's fields and its XEP-0059
// <set/>, as sent. Sizes are bounded by the XMPP stanza limit.
struct MamRequest {
  std::string queryid;
  std::string start, end, with;  // form fields, "" for none
  std::optional<std::size_t> max;
  std::optional<std::string> after, before;  // before present and empty: the last page
  bool unknown_field = false;  // a form field this archive does not support (XEP-0313 §5.1.1)
};

// A XEP-0050 <command/> in an iq set, with its XEP-0004 form if it carried one: copied
// with bounds (kMaxFormFields fields, kMaxFieldValues values each, longer values cut at
// kMaxFieldValue bytes and then refused by the field's validation).
struct FormFieldIn {
  std::string var;
  std::vector<std::string> values;
};
struct CommandIn {
  std::string node, action, sessionid;
  bool has_form = false;
  std::string form_type;  // <x type=...>: "submit" or "cancel"
  std::vector<FormFieldIn> fields;
};
inline constexpr std::size_t kMaxFormFields = 32;
inline constexpr std::size_t kMaxFieldValues = 64;
inline constexpr std::size_t kMaxFieldValue = 1024;

// XEP-0045 §8-§9: an iq set's muc#admin <item nick role affiliation><reason/></item>.
struct MucAdminIn {
  std::string nick, role, affiliation, reason;
};

struct XmppIn {
  enum class Kind : std::uint8_t { message, presence, iq };
  Kind kind = Kind::message;
  std::string type;  // the 'type' attribute ("" for available presence / normal message)
  std::string id;
  std::string from;  // the sender's full JID
  // The sender's IP address as Parley's c2s listener saw it (WEBIRC); "" from a XEP-0114
  // component (the XMPP server does not tell its clients' addresses).
  std::string peer_ip;
  std::string to_local, to_domain, to_resource;  // 'to', already prepared (RFC 7622)
  std::optional<std::string> body;
  std::optional<std::string> subject;
  std::string status;  // presence <status/> (an unavailable presence's leave message)
  std::string iq_ns;   // an iq's payload: its namespace and local name
  std::string iq_name;
  // XEP-0071 XHTML-IM styling over *body (empty: none or not matching the body), already in
  // IRC's span form; rendered as mIRC codes.
  std::vector<protocols::irc::Span> spans;
  bool muc_join = false;  // presence carried <x xmlns='http://jabber.org/protocol/muc'/>
  HistoryRequest history;  // its <history/>, when muc_join
  std::string password;    // its <password/> (XEP-0045 §7.2.6), when muc_join: the channel's key
  std::optional<MamRequest> mam;  // an iq set carrying a XEP-0313 <query/>
  std::string iq_node;    // a disco query's 'node' (XEP-0030 §3.2), e.g. the commands node
  std::optional<CommandIn> command;  // an iq set's XEP-0050 <command/>
  std::optional<MucAdminIn> muc_admin;  // an iq set's muc#admin query (its first item)
};

// Sends one rendered stanza to the full JID `to`. Called on the gateway's strand.
using XmppOut = std::function<void(std::string_view to, std::string xml)>;
// The same for a stanza in three parts, a + b + c (a channel line's head, the escaped `to`,
// its tail: channel_lines.hpp), taken without joining them into a string of their own first.
using XmppOutParts =
    std::function<void(std::string_view to, std::string_view a, std::string_view b, std::string_view c)>;

}  // namespace parley::adapters::gateway

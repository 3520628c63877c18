#pragma once
// XEP-0071 XHTML-IM <-> the core's neutral rich text (StyleSpan over the plain body).
//
// Outgoing: bold -> <strong>, italic -> <em>, monospace -> <code>, underline, strike and
// colours -> <span style='...'> (XEP-0071 §7 recommends style over <u>/<font>); newlines
// -> <br/>. All text goes through the escaping writer; style values are built from numbers.
// Incoming: the same elements plus the usual synonyms (b, i, u, tt, del, s...) and the
// CSS properties font-weight, font-style, text-decoration, font-family: monospace, color,
// background-color. The plain <body/> stays authoritative: spans are kept only when the
// XHTML text equals it, so a client cannot make other protocols see different words.
#include <pugixml.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "core/model/message.hpp"

namespace parley::adapters::xmpp {

inline constexpr std::string_view kXhtmlIm = "http://jabber.org/protocol/xhtml-im";
inline constexpr std::string_view kXhtml = "http://www.w3.org/1999/xhtml";

// The <html/> element for body styled by spans; empty when no span styles anything.
std::string render_xhtml_im(std::string_view body, const std::vector<core::StyleSpan>& spans);

// Spans over `plain` from an <html xmlns='...xhtml-im'/> element; empty when the XHTML text
// differs from plain or nothing is styled.
std::vector<core::StyleSpan> parse_xhtml_im(pugi::xml_node html, std::string_view plain);

}  // namespace parley::adapters::xmpp

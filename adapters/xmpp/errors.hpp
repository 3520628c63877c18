#pragma once
// Core error values -> XMPP stanza errors (RFC 6120 §8.3.3).
#include <string>
#include <string_view>

#include "core/model/error.hpp"
#include "core/model/message.hpp"
#include "protocols/xmpp/stanza.hpp"

namespace parley::adapters::xmpp {

struct StanzaErrorName {
  std::string_view type;       // cancel / modify / auth / wait
  std::string_view condition;  // element name
};
StanzaErrorName stanza_error_of(core::Condition c);

// <name type='error' id from to><error type><condition/><text/></error></name>
std::string render_stanza_error(std::string_view name, std::string_view id, std::string_view from,
                                std::string_view to, const core::Error& e);

// The answer to a stanza whose handling failed (an exception caught by a firewall): RFC
// 6120 §8.3.3.8 <internal-server-error/>, type cancel (the work may be done in part: a
// retry could repeat it), from the address it was sent to, to its sender. "" when none is
// due: no sender, an error or a result (§8.3.1: never answered with an error), or a presence
// that ends something (unavailable, unsubscribe...).
std::string failure_reply(const protocols::xmpp::Stanza& s);

// Message fields from a <message/> stanza (body, subject, thread, chat state, receipts).
core::Message message_from_stanza(const protocols::xmpp::Stanza& s);

}  // namespace parley::adapters::xmpp

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

// Message fields from a <message/> stanza (body, subject, thread, chat state, receipts).
core::Message message_from_stanza(const protocols::xmpp::Stanza& s);

}  // namespace parley::adapters::xmpp

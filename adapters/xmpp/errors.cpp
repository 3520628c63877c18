#include "adapters/xmpp/errors.hpp"

#include "protocols/xmpp/jid.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

StanzaErrorName stanza_error_of(core::Condition c) {
  using C = core::Condition;
  switch (c) {
    case C::bad_request: return {"modify", "bad-request"};
    case C::conflict: return {"cancel", "conflict"};
    case C::forbidden: return {"auth", "forbidden"};
    case C::gone: return {"cancel", "gone"};
    case C::internal_server_error: return {"wait", "internal-server-error"};
    case C::item_not_found: return {"cancel", "item-not-found"};
    case C::malformed_address: return {"modify", "jid-malformed"};
    case C::not_acceptable: return {"modify", "not-acceptable"};
    case C::not_allowed: return {"cancel", "not-allowed"};
    case C::not_authorized: return {"auth", "not-authorized"};
    case C::policy_violation: return {"modify", "policy-violation"};
    case C::recipient_unavailable: return {"wait", "recipient-unavailable"};
    case C::registration_required: return {"auth", "registration-required"};
    case C::remote_server_not_found: return {"cancel", "remote-server-not-found"};
    case C::resource_constraint: return {"wait", "resource-constraint"};
    case C::service_unavailable: return {"cancel", "service-unavailable"};
    case C::undefined_condition: return {"cancel", "undefined-condition"};
  }
  return {"cancel", "undefined-condition"};
}

namespace {
std::string render_error(std::string_view name, std::string_view id, std::string_view from,
                         std::string_view to, StanzaErrorName error, std::string_view text) {
  std::string out;
  protocols::xmpp::XmlWriter w(out);
  w.open(name).attr("type", "error").attr_if("id", id).attr_if("from", from).attr_if("to", to);
  w.open("error")
      .attr("type", error.type)
      .open(error.condition)
      .attr("xmlns", protocols::xmpp::ns::stanzas)
      .close();
  if (!text.empty()) w.open("text").attr("xmlns", protocols::xmpp::ns::stanzas).text(text).close();
  w.finish();
  return out;
}
}  // namespace

std::string render_stanza_error(std::string_view name, std::string_view id, std::string_view from,
                                std::string_view to, const core::Error& e) {
  return render_error(name, id, from, to, stanza_error_of(e.condition), e.text);
}

std::string failure_reply(const protocols::xmpp::Stanza& s) {
  const std::string_view name = s.name(), type = s.attr("type"), from = s.attr("from");
  const bool due = name == "iq"         ? (type == "get" || type == "set")
                   : name == "message"  ? type != "error"
                   : name == "presence" ? (type.empty() || type == "subscribe" || type == "probe")
                                        : false;
  if (!due || !protocols::xmpp::valid_jid(from)) return {};
  // cancel, not stanza_error_of's wait for internal_server_error (errors.hpp)
  return render_error(name, s.attr("id"), s.attr("to"), from, {"cancel", "internal-server-error"}, {});
}

}  // namespace parley::adapters::xmpp

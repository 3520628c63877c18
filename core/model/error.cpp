#include "core/model/error.hpp"

namespace parley::core {

std::string_view to_string(Condition c) {
  switch (c) {
    case Condition::bad_request: return "bad-request";
    case Condition::conflict: return "conflict";
    case Condition::forbidden: return "forbidden";
    case Condition::gone: return "gone";
    case Condition::internal_server_error: return "internal-server-error";
    case Condition::item_not_found: return "item-not-found";
    case Condition::malformed_address: return "malformed-address";
    case Condition::not_acceptable: return "not-acceptable";
    case Condition::not_allowed: return "not-allowed";
    case Condition::not_authorized: return "not-authorized";
    case Condition::policy_violation: return "policy-violation";
    case Condition::recipient_unavailable: return "recipient-unavailable";
    case Condition::registration_required: return "registration-required";
    case Condition::remote_server_not_found: return "remote-server-not-found";
    case Condition::resource_constraint: return "resource-constraint";
    case Condition::service_unavailable: return "service-unavailable";
    case Condition::undefined_condition: return "undefined-condition";
  }
  return "undefined-condition";
}

}  // namespace parley::core

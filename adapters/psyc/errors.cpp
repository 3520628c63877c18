#include "adapters/psyc/errors.hpp"

namespace parley::adapters::psyc {

std::string_view error_method(core::Condition c) {
  using C = core::Condition;
  switch (c) {
    case C::item_not_found:
    case C::recipient_unavailable:
    case C::remote_server_not_found:
      return "_error_unknown_name";
    case C::malformed_address:
      return "_error_invalid_uniform";
    case C::conflict:
      return "_error_nickname_in_use";
    case C::forbidden:
    case C::not_allowed:
      return "_error_illegal";
    case C::not_authorized:
    case C::registration_required:
      return "_error_necessary_membership";
    case C::resource_constraint:
    case C::policy_violation:
      return "_error_limit";
    case C::bad_request:
    case C::not_acceptable:
      return "_error_invalid";
    case C::gone:
    case C::internal_server_error:
    case C::service_unavailable:
    case C::undefined_condition:
      break;
  }
  return "_error_service_unavailable";
}

}  // namespace parley::adapters::psyc

#include "core/store/store.hpp"

namespace parley::core {

// A store without gateway settings (test fakes): the gateway reports the error to the user.
Status Store::put_gateway_setting(const GatewaySetting&) {
  return make_error(Condition::service_unavailable, "this store keeps no gateway settings");
}
Status Store::delete_gateway_setting(const GatewaySetting&) {
  return make_error(Condition::service_unavailable, "this store keeps no gateway settings");
}
Result<std::vector<GatewaySetting>> Store::gateway_settings(const std::string&, const std::string&) {
  return std::vector<GatewaySetting>{};
}

}  // namespace parley::core

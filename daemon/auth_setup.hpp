#pragma once
// Start-up pieces of password checking (adapters/common/auth.hpp): the decoy secret kept
// in data_dir and the throttle options from the `auth` config section.
#include <optional>
#include <string>

#include "config/auth_config.hpp"
#include "core/services/auth_throttle.hpp"

namespace parley::daemon {

// DATA_DIR/auth_secret: 32 random bytes (mode 0600), created on first start. Decoy SCRAM
// salts for unknown users derive from it, so they stay the same across restarts as real
// users' salts do. nullopt (and `why` says why) if it can be neither read nor created.
std::optional<std::string> load_decoy_secret(const std::string& data_dir, std::string& why);

core::AuthThrottle::Options throttle_options(const config::AuthConfig& c);

}  // namespace parley::daemon

#pragma once
// The `auth` section: how password checks (XMPP SASL, IRC SASL/PASS/OPER) are run and
// throttled, for every protocol alike.
#include <cstdint>

namespace parley::config {

struct AuthThrottleConfig {
  std::uint32_t window = 60;              // seconds over which failures are counted
  std::uint32_t address_failures = 10;    // per client address before refusing (0: off)
  std::uint32_t account_failures = 20;    // per account before slowing down (0: off)
  std::uint32_t account_delay_ms = 1000;  // added before each answer for a slowed account
  std::uint32_t max_tracked = 10000;      // addresses + accounts remembered at once
};

struct AuthConfig {
  // Threads that run PBKDF2 (PLAIN, PASS, hashed config passwords) away from the io
  // threads and the core strand; fixed at start.
  std::uint32_t workers = 1;
  // Failed logins one connection may make before it is closed.
  std::uint32_t max_failures_per_connection = 3;
  AuthThrottleConfig throttle;
};

}  // namespace parley::config

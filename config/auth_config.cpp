#include "config/sections.hpp"

namespace parley::config {

void parse_auth(Reader& r, AuthConfig& out) {
  r.integer("workers", out.workers, 1, 16);
  r.integer("max_failures_per_connection", out.max_failures_per_connection, 1, 100);
  Reader t = r.map("throttle");
  t.integer("window", out.throttle.window, 1, 86400);
  t.integer("address_failures", out.throttle.address_failures, 0, 1000000);
  t.integer("account_failures", out.throttle.account_failures, 0, 1000000);
  t.integer("account_delay_ms", out.throttle.account_delay_ms, 0, 60000);
  t.integer("max_tracked", out.throttle.max_tracked, 100, 10000000);
  t.finish();
  r.finish();
}

}  // namespace parley::config

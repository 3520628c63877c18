#include "config/sections.hpp"

namespace parley::config {

void parse_server(Reader& r, ServerConfig& out) {
  r.string("domain", out.domain, Required::non_empty);
  r.string("data_dir", out.data_dir, Required::non_empty);
  r.integer("threads", out.threads, 0, 1024);
  r.one_of("log_level", out.log_level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
}

void parse_accounts(Reader& root, std::vector<SeedAccount>& out) {
  root.list("accounts", out, [](Reader& r, SeedAccount& a) {
    r.string("user", a.user, Required::yes);
    r.string("password", a.password, Required::yes);
  });
}

}  // namespace parley::config

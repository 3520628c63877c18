#pragma once
// The running daemon: store, core, TLS, io threads, plugins and signals (docs/ARCHITECTURE.md, Threads).
#include <string>

#include "config/config.hpp"

namespace parley::daemon {

// Runs parleyd with `config` (loaded from `config_path`, which SIGHUP re-reads) until
// SIGTERM/SIGINT. Returns the process exit code: 0 after a clean shutdown, 1 if start-up
// failed (store, TLS, a listener).
int run_daemon(const std::string& config_path, config::Config config);

// Sets spdlog's default logger (stderr), its level from a config log_level name and its
// line format from log_format ("text", or "json": one object per line, daemon/log_json.hpp).
void setup_logging(const std::string& level, const std::string& format = "text");

}  // namespace parley::daemon

#pragma once
// A plugin (a protocol adapter, a bridge, a feature) owns its config section, its hooks
// and its listeners. The registry starts, reloads and stops plugins behind an exception
// firewall: a plugin that throws is logged with its name and the others keep serving.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/error.hpp"

namespace parley::core {

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual std::string_view name() const = 0;
  virtual Status start() = 0;
  // Asks every session to close; must return promptly (the daemon bounds the drain).
  virtual void stop() = 0;
  // Re-reads the plugin's config section (SIGHUP). Default: nothing to reload.
  virtual Status reload() { return {}; }
};

class PluginRegistry {
 public:
  using Logger = std::function<void(std::string_view plugin, std::string_view what)>;
  explicit PluginRegistry(Logger on_fault) : on_fault_(std::move(on_fault)) {}

  void add(std::unique_ptr<Plugin> p) { plugins_.push_back(std::move(p)); }
  // Starts every plugin; returns the first failure (already logged), other plugins are
  // still started.
  Status start_all();
  void stop_all();
  void reload_all();
  // Runs f for one plugin behind the firewall; returns internal_server_error if it threw.
  Status guarded(Plugin& p, const std::function<Status()>& f);
  std::size_t size() const { return plugins_.size(); }

 private:
  std::vector<std::unique_ptr<Plugin>> plugins_;
  Logger on_fault_;
};

}  // namespace parley::core

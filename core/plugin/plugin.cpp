#include "core/plugin/plugin.hpp"

#include <exception>

namespace parley::core {

Status PluginRegistry::guarded(Plugin& p, const std::function<Status()>& f) {
  try {
    Status s = f();
    if (!s.ok()) on_fault_(p.name(), s.error().text);
    return s;
  } catch (const std::exception& e) {
    on_fault_(p.name(), e.what());
    return make_error(Condition::internal_server_error, std::string(p.name()) + ": " + e.what());
  } catch (...) {
    on_fault_(p.name(), "unknown exception");
    return make_error(Condition::internal_server_error, std::string(p.name()) + ": unknown exception");
  }
}

Status PluginRegistry::start_all() {
  Status first;
  for (auto& p : plugins_) {
    Status s = guarded(*p, [&] { return p->start(); });
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

void PluginRegistry::stop_all() {
  for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it)
    (void)guarded(**it, [&] { (*it)->stop(); return Status{}; });
}

void PluginRegistry::reload_all() {
  for (auto& p : plugins_) (void)guarded(*p, [&] { return p->reload(); });
}

}  // namespace parley::core

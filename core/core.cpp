#include "core/core.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <utility>

namespace parley::core {

// Members are constructed in declaration order (core.hpp): the store and options first,
// then the services, which keep a reference to this Core and only use it after
// construction.
Core::Core(Store& store, CoreOptions options)
    : store_(store),
      options_(std::move(options)),
      directory_(store_, options_.scram_iterations),
      sessions_(*this),
      router_(*this),
      presence_(*this),
      rooms_(*this, options_.room_history) {
  store_.set_commit_observer([this](std::chrono::nanoseconds took) { metrics_.store_commit(took); });
  metrics_.registry().gauge_fn("parley_store_queue_depth", "Store writes queued and not yet committed",
                               [this] { return static_cast<double>(store_.pending_writes()); });
}

Core::~Core() { store_.set_commit_observer({}); }

void core_thread_violation(const char* function, const char* file, int line) {
  spdlog::critical("{} ({}:{}) called off the core strand (docs/ARCHITECTURE.md, Threads)", function, file,
                   line);
  spdlog::default_logger()->flush();
  std::abort();
}

}  // namespace parley::core

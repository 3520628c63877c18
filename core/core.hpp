#pragma once
// The core: one object owning every service. Not thread-safe: in the daemon it lives on
// the core strand and adapters post work to it (docs/ARCHITECTURE.md, Threads).
#include <functional>
#include <string>

#include "core/metrics/metrics.hpp"
#include "core/plugin/hooks.hpp"
#include "core/services/directory.hpp"
#include "core/services/presence_service.hpp"
#include "core/services/room_service.hpp"
#include "core/services/router.hpp"
#include "core/services/sessions.hpp"
#include "core/store/store.hpp"

namespace parley::core {

struct CoreOptions {
  std::string domain = "localhost";
  std::size_t room_history = 100;           // messages kept per room
  std::size_t offline_limit = 1000;         // stored messages per user before refusing
  std::size_t offline_bytes = 1024 * 1024;  // their total size (encoded), 0: unbounded
  std::uint32_t offline_sender_share = 25;  // percent of both one sender may use (100: no share)
  std::size_t max_rooms = 100;              // rooms one session may be in (every protocol)
  std::size_t roster_size = 1000;           // items in one roster
  // Offline messages go out in batches of at most this many messages and about this many
  // bytes; the next batch follows once the adapter confirmed the last one. So a login
  // never floods its own send queue, and what the client did not get stays stored.
  std::size_t offline_batch = 50;
  std::size_t offline_batch_bytes = 64 * 1024;
  std::uint32_t scram_iterations = 4096;
};

class Core {
 public:
  Core(Store& store, CoreOptions options);
  ~Core();  // detaches from the store's commit observer
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  const CoreOptions& options() const { return options_; }
  Store& store() { return store_; }
  Directory& directory() { return directory_; }
  Sessions& sessions() { return sessions_; }
  Router& router() { return router_; }
  PresenceService& presence() { return presence_; }
  RoomService& rooms() { return rooms_; }
  Hooks& hooks() { return hooks_; }
  // Thread-safe (atomics): adapters count on any thread, the exposition reads on any thread.
  Metrics& metrics() { return metrics_; }

  // The owner check behind PARLEY_ASSERT_ON_CORE: true when the calling thread may use the
  // core. core/ cannot see Asio, so the daemon installs
  // `core_strand.running_in_this_thread()`; without a check (unit tests) every thread may.
  void set_thread_check(std::function<bool()> check) { thread_check_ = std::move(check); }
  bool on_core_thread() const { return !thread_check_ || thread_check_(); }

 private:
  Store& store_;
  CoreOptions options_;
  Metrics metrics_;  // before the services: they count into it
  Hooks hooks_;
  Directory directory_;
  Sessions sessions_;
  Router router_;
  PresenceService presence_;
  RoomService rooms_;
  std::function<bool()> thread_check_;
};

// Aborts when called off the core's thread: at the entry points of the services (Sessions,
// Router, RoomService, PresenceService), so that a task that forgot to post to the core
// strand fails the (Debug, sanitized) tests instead of racing. Compiled out with NDEBUG.
[[noreturn]] void core_thread_violation(const char* function, const char* file, int line);

}  // namespace parley::core

#ifdef NDEBUG
#define PARLEY_ASSERT_ON_CORE(owner) ((void)0)
#else
#define PARLEY_ASSERT_ON_CORE(owner)                                                                    \
  do {                                                                                                  \
    if (!(owner).on_core_thread()) ::parley::core::core_thread_violation(__func__, __FILE__, __LINE__); \
  } while (0)
#endif

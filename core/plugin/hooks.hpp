#pragma once
// Hooks: plugins observe or veto core events by hierarchical name ("message/direct",
// "message/room", "presence/subscribe", "room/join"). Handlers run in priority order
// (higher first); the first decisive verdict (allow/deny) wins. A handler registration is
// an RAII HookHandle: dropping it (or unloading the plugin that owns it) unhooks.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model/error.hpp"

namespace parley::core {

enum class Verdict : std::uint8_t { pass, allow, deny };

struct HookContext {
  std::string_view event;
  const void* payload = nullptr;  // the event's object (Message, Subscription, JoinRequest...)
  Error deny_error{Condition::forbidden, {}};  // what the caller reports on deny
};

class Hooks;

class HookHandle {
 public:
  HookHandle() = default;
  HookHandle(Hooks* hooks, std::uint64_t id) : hooks_(hooks), id_(id) {}
  HookHandle(HookHandle&& o) noexcept : hooks_(o.hooks_), id_(o.id_) { o.hooks_ = nullptr; }
  HookHandle& operator=(HookHandle&& o) noexcept;
  HookHandle(const HookHandle&) = delete;
  HookHandle& operator=(const HookHandle&) = delete;
  ~HookHandle() { reset(); }
  void reset();

 private:
  Hooks* hooks_ = nullptr;
  std::uint64_t id_ = 0;
};

class Hooks {
 public:
  using Handler = std::function<Verdict(HookContext&)>;
  // Called when a handler throws: the firewall logs and treats it as pass.
  using FaultReporter = std::function<void(const std::string& owner, const std::string& what)>;

  [[nodiscard]] HookHandle add(std::string event, int priority, std::string owner, Handler h);
  // Runs the handlers of `event` and of each of its parents ("message/room" then "message").
  Verdict fire(std::string_view event, HookContext& ctx);
  void set_fault_reporter(FaultReporter r) { fault_ = std::move(r); }
  std::size_t size() const { return entries_.size(); }

 private:
  friend class HookHandle;
  void remove(std::uint64_t id);
  struct Entry {
    std::uint64_t id;
    std::string event;
    int priority;
    std::string owner;
    Handler handler;
  };
  std::vector<Entry> entries_;  // sorted by priority, descending
  std::uint64_t next_id_ = 1;
  FaultReporter fault_;
};

}  // namespace parley::core

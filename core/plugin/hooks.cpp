#include "core/plugin/hooks.hpp"

#include <algorithm>
#include <exception>

namespace parley::core {

HookHandle& HookHandle::operator=(HookHandle&& o) noexcept {
  if (this != &o) {
    reset();
    hooks_ = o.hooks_;
    id_ = o.id_;
    o.hooks_ = nullptr;
  }
  return *this;
}

void HookHandle::reset() {
  if (hooks_) hooks_->remove(id_);
  hooks_ = nullptr;
}

HookHandle Hooks::add(std::string event, int priority, std::string owner, Handler h) {
  Entry e{next_id_++, std::move(event), priority, std::move(owner), std::move(h)};
  auto pos = std::find_if(entries_.begin(), entries_.end(),
                          [&](const Entry& x) { return x.priority < priority; });
  std::uint64_t id = e.id;
  entries_.insert(pos, std::move(e));
  return HookHandle(this, id);
}

void Hooks::remove(std::uint64_t id) {
  std::erase_if(entries_, [&](const Entry& e) { return e.id == id; });
}

static bool matches(std::string_view hooked, std::string_view event) {
  // "message" matches "message" and "message/room"; "message/room" matches only itself.
  return event == hooked || (event.size() > hooked.size() && event.starts_with(hooked) &&
                             event[hooked.size()] == '/');
}

Verdict Hooks::fire(std::string_view event, HookContext& ctx) {
  ctx.event = event;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    // Copy: a handler may add or remove hooks while we iterate.
    Entry& e = entries_[i];
    if (!matches(e.event, event)) continue;
    Handler h = e.handler;
    std::string owner = e.owner;
    Verdict v = Verdict::pass;
    try {
      v = h(ctx);
    } catch (const std::exception& ex) {
      if (fault_) fault_(owner, ex.what());
    } catch (...) {
      if (fault_) fault_(owner, "unknown exception");
    }
    if (v != Verdict::pass) return v;
  }
  return Verdict::pass;
}

}  // namespace parley::core

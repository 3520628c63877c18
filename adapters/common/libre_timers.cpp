// libre's timers in O(log n) (issue 12, the SIP presence fan-out).
//
// libre 1.1.0 keeps every timer of a thread in one sorted linked list, and tmr_start finds
// a new timer's place by walking that list from its tail (tmr.c: list_apply backwards to
// the last timer due no later). Timers due late sit at the tail, so every short timer walks
// past all of them: with 10,000 presence subscriptions (one expiry timer each, due in an
// hour) every NOTIFY's client transaction (timers E, F and K, RFC 3261 §17.1.2) walked
// 10,000 list elements three times; perf showed 45% of parleyd in list_apply. That is
// O(N) per NOTIFY and O(N^2) per fan-out.
//
// This file defines tmr_start, tmr_cancel and tmr_poll in the executable, which interposes
// them for libre itself (libre calls its own exported functions through the PLT; the link
// exports these names, CMakeLists.txt). The list stays libre's, in libre's order (due time,
// then insertion order), so tmr_next_timeout, tmr_get_expire, tmr_status and tmr_debug keep
// working unchanged; what is added is an index from each due time to the last timer with it,
// which finds the place to insert in O(log n). Semantics are libre 1.1.0's, statement by
// statement (a timer is linked exactly while its handler is set).
//
// If the process does not resolve tmr_start to this definition (a link that did not export
// it), or PARLEY_LIBRE_TIMERS=libre is set, every function forwards to libre's own (dlsym
// RTLD_NEXT) and the index is never used, so the two can never disagree about the list.
#include "adapters/common/libre_timers.hpp"

#include <dlfcn.h>
#include <re.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string_view>
#include <unordered_map>

// libre 1.1.0 exports the calling thread's timer list (main.c) without declaring it.
extern "C" struct list* tmrl_get(void);

namespace {

using StartFn = void (*)(struct tmr*, uint64_t, tmr_h*, void*);
using CancelFn = void (*)(struct tmr*);
using PollFn = void (*)(struct list*);

struct Real {
  bool ours = false;  // the process resolves tmr_start to the definition below
  StartFn start = nullptr;
  CancelFn cancel = nullptr;
  PollFn poll = nullptr;
};

const Real& real() {
  static const Real r = [] {
    Real x;
    // PARLEY_LIBRE_TIMERS=libre: libre's own list walk (a diagnostic and bench switch).
    const char* env = std::getenv("PARLEY_LIBRE_TIMERS");
    x.ours = !(env && std::string_view(env) == "libre") &&
             dlsym(RTLD_DEFAULT, "tmr_start") == reinterpret_cast<void*>(&tmr_start) &&
             dlsym(RTLD_DEFAULT, "tmr_poll") == reinterpret_cast<void*>(&tmr_poll) &&
             dlsym(RTLD_DEFAULT, "tmr_cancel") == reinterpret_cast<void*>(&tmr_cancel);
    x.start = reinterpret_cast<StartFn>(dlsym(RTLD_NEXT, "tmr_start"));
    x.cancel = reinterpret_cast<CancelFn>(dlsym(RTLD_NEXT, "tmr_cancel"));
    x.poll = reinterpret_cast<PollFn>(dlsym(RTLD_NEXT, "tmr_poll"));
    return x;
  }();
  return r;
}

// The index of one timer list (libre has one per thread context): due time -> the last
// timer in the list with that due time. Like the list itself, an index is only used from
// the thread that runs its libre context; the mutex guards only the map of indexes.
struct Index {
  std::map<uint64_t, struct tmr*> last;
};

Index& index_for(struct list* l) {
  static std::mutex mu;
  static std::unordered_map<struct list*, Index> all;
  std::lock_guard lock(mu);
  Index& idx = all[l];
  // An empty list has an empty index: this also forgets a freed context's entries when a
  // new context's list is allocated at the same address.
  if (!l->head) idx.last.clear();
  return idx;
}

// libre work run off the libre thread (LibreLoop::try_run_here): did a timer become the
// earliest (the list's head)?
struct Foreign {
  bool active = false;
  bool new_head = false;
};
thread_local Foreign foreign;

// Unlinks a linked timer from the list and from the index.
void unlink(Index& idx, struct tmr* t) {
  auto it = idx.last.find(t->jfs);
  if (it != idx.last.end() && it->second == t) {
    // The one before it in the list is the new last of that due time, if it has it.
    struct le* prev = t->le.prev;
    auto* p = prev ? static_cast<struct tmr*>(prev->data) : nullptr;
    if (p && p->jfs == t->jfs)
      it->second = p;
    else
      idx.last.erase(it);
  }
  list_unlink(&t->le);
}

}  // namespace

extern "C" {

void tmr_start(struct tmr* tmr, uint64_t delay, tmr_h* th, void* arg) {
  const Real& r = real();
  if (!r.ours) return r.start(tmr, delay, th, arg);
  struct list* tmrl = tmrl_get();
  if (!tmr) return;
  Index& idx = index_for(tmrl);
  if (tmr->th) unlink(idx, tmr);
  tmr->th = th;
  tmr->arg = arg;
  if (!th) return;
  tmr->jfs = delay + tmr_jiffies();
  // After every timer due no later than this one (libre inserts the same way for delay 0
  // and for any other delay: the list is ordered by due time, then by insertion).
  auto it = idx.last.upper_bound(tmr->jfs);
  if (it == idx.last.begin()) {
    list_prepend(tmrl, &tmr->le, tmr);
    if (foreign.active) foreign.new_head = true;
  } else {
    --it;
    list_insert_after(tmrl, &it->second->le, &tmr->le, tmr);
  }
  idx.last[tmr->jfs] = tmr;
}

void tmr_cancel(struct tmr* tmr) {
  const Real& r = real();
  if (!r.ours) return r.cancel(tmr);
  tmr_start(tmr, 0, nullptr, nullptr);
}

void tmr_poll(struct list* tmrl) {
  const Real& r = real();
  if (!r.ours) return r.poll(tmrl);
  const uint64_t jfs = tmr_jiffies();
  for (;;) {
    struct le* le = list_head(tmrl);
    auto* tmr = le ? static_cast<struct tmr*>(le->data) : nullptr;
    if (!tmr || jfs < tmr->jfs) break;
    tmr_h* th = tmr->th;
    void* arg = tmr->arg;
    unlink(index_for(tmrl), tmr);  // before clearing th: a linked timer has a handler
    tmr->th = nullptr;
    if (th) th(arg);
  }
}

}  // extern "C"

namespace parley::adapters {

bool libre_timers_indexed() { return real().ours; }

void libre_timers_begin_foreign() { foreign = Foreign{true, false}; }

bool libre_timers_end_foreign() {
  const bool woke = foreign.new_head;
  foreign = Foreign{};
  return woke;
}

}  // namespace parley::adapters

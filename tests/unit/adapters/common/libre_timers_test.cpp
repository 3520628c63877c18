// libre's timers with Parley's index (adapters/common/libre_timers.cpp): the executable's
// tmr_start/tmr_cancel/tmr_poll are the ones libre uses, the list keeps libre's order (due
// time, then insertion), timers fire in that order, and a cancelled or restarted timer
// fires once at its last due time or never.
#include "adapters/common/libre_timers.hpp"

#include <doctest/doctest.h>
#include <re.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <random>
#include <vector>

#include "adapters/common/libre_bridge.hpp"
#include "unit/fakes/on_libre.hpp"

using namespace parley;
using namespace std::chrono_literals;
using parley::testing::on_libre;

extern "C" struct list* tmrl_get(void);  // exported by libre 1.1.0, not declared

namespace {

struct Probe {
  tmr t{};
  int id = 0;
  std::vector<int>* fired = nullptr;
};

// The list as libre keeps it: due times never decrease.
bool list_sorted() {
  uint64_t last = 0;
  for (le* e = list_head(tmrl_get()); e; e = e->next) {
    auto* t = static_cast<tmr*>(e->data);
    if (t->jfs < last || !t->th) return false;
    last = t->jfs;
  }
  return true;
}

}  // namespace

TEST_CASE("libre resolves its timer functions to the indexed ones") {
  CHECK(adapters::libre_timers_indexed());
}

TEST_CASE("timers keep libre's order through starts, restarts and cancels, and fire in it") {
  adapters::LibreLoop loop;
  REQUIRE(loop.start().empty());
  constexpr int kN = 3000;
  std::vector<Probe> probes(kN);
  std::vector<int> fired;
  std::vector<uint64_t> due(kN, 0);  // 0: must not fire
  bool sorted = on_libre(loop, [&] {
    std::mt19937 rng(12);
    // Delays 0..40 ms: many timers share a due time (the index keys), some are due at once.
    for (int i = 0; i < kN; ++i) {
      probes[i].id = i;
      probes[i].fired = &fired;
      tmr_init(&probes[i].t);
      tmr_start(
          &probes[i].t, rng() % 41,
          [](void* a) {
            auto* p = static_cast<Probe*>(a);
            p->fired->push_back(p->id);
          },
          &probes[i]);
    }
    bool ok = list_sorted();
    for (int i = 0; i < kN; i += 3) tmr_cancel(&probes[i].t);  // never fire
    for (int i = 1; i < kN; i += 7)                            // moved later (or earlier)
      tmr_start(
          &probes[i].t, 20 + rng() % 30,
          [](void* a) {
            auto* p = static_cast<Probe*>(a);
            p->fired->push_back(p->id);
          },
          &probes[i]);
    ok = ok && list_sorted();
    for (int i = 0; i < kN; ++i) due[i] = tmr_isrunning(&probes[i].t) ? probes[i].t.jfs : 0;
    return ok;
  });
  CHECK(sorted);
  const auto end = std::chrono::steady_clock::now() + 10s;
  std::size_t want = std::count_if(due.begin(), due.end(), [](uint64_t d) { return d != 0; });
  while (on_libre(loop, [&] { return fired.size(); }) < want && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(5ms);
  auto got = on_libre(loop, [&] { return fired; });
  CHECK(got.size() == want);
  bool in_order = true, only_running = true;
  for (std::size_t k = 0; k < got.size(); ++k) {
    if (due[got[k]] == 0) only_running = false;
    if (k > 0 && due[got[k]] < due[got[k - 1]]) in_order = false;
  }
  CHECK(only_running);
  CHECK(in_order);
  CHECK(on_libre(loop, [] { return list_head(tmrl_get()) == nullptr; }));
  loop.stop();
}

TEST_CASE("a timer restarted from its own handler, and one cancelled by another's, behave as in libre") {
  adapters::LibreLoop loop;
  REQUIRE(loop.start().empty());
  struct State {
    tmr a{}, b{}, c{};
    int a_runs = 0, c_runs = 0;
  } s;
  on_libre(loop, [&] {
    tmr_init(&s.a);
    tmr_init(&s.b);
    tmr_init(&s.c);
    // a re-arms itself twice; b (due with c) cancels c: c never runs.
    tmr_start(
        &s.a, 1,
        [](void* p) {
          auto* st = static_cast<State*>(p);
          if (++st->a_runs < 3)
            tmr_start(
                &st->a, 1, [](void* q) { ++static_cast<State*>(q)->a_runs; }, st);
        },
        &s);
    tmr_start(
        &s.b, 5, [](void* p) { tmr_cancel(&static_cast<State*>(p)->c); }, &s);
    tmr_start(
        &s.c, 5, [](void* p) { ++static_cast<State*>(p)->c_runs; }, &s);
    return 0;
  });
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (on_libre(loop, [] { return list_head(tmrl_get()) != nullptr; }) &&
         std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(2ms);
  CHECK(on_libre(loop, [&] { return s.a_runs; }) == 2);
  CHECK(on_libre(loop, [&] { return s.c_runs; }) == 0);
  loop.stop();
}

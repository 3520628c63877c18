#pragma once
// Runs f() on the libre thread of `loop` and returns its result (unit_libre tests).
#include <doctest/doctest.h>

#include <chrono>
#include <future>

#include "adapters/common/libre_bridge.hpp"

namespace parley::testing {

template <class F>
auto on_libre(adapters::LibreLoop& loop, F f) {
  std::promise<decltype(f())> p;
  auto r = p.get_future();
  REQUIRE(adapters::post_to_libre(loop, [&] { p.set_value(f()); }));
  REQUIRE(r.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  return r.get();
}

}  // namespace parley::testing

#pragma once
// Runs an io_context in 5 ms slices until pred() holds or `limit` passes; returns pred().
// For tests against loopback peers, where the io_context must keep turning between checks.
#include <boost/asio/io_context.hpp>
#include <chrono>

namespace parley::test {

template <class Pred>
bool run_until(boost::asio::io_context& io, Pred pred,
               std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace parley::test

#pragma once
// steady_clock's time (libstdc++: CLOCK_MONOTONIC) at the kernel tick's resolution
// (CLOCK_MONOTONIC_COARSE, 1-4 ms): a vDSO read of the last tick's time, no clock source
// read. For timestamps taken per received line and compared in seconds (keepalives);
// comparable with std::chrono::steady_clock::now(), which it trails by less than a tick.
#include <time.h>

#include <chrono>

namespace parley::protocols {

inline std::chrono::steady_clock::time_point coarse_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                                      std::chrono::nanoseconds(ts.tv_nsec)));
}

}  // namespace parley::protocols

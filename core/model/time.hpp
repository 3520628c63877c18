#pragma once
#include <chrono>
#include <cstdint>

namespace parley::core {

using Clock = std::chrono::system_clock;
using Timestamp = Clock::time_point;

inline std::int64_t to_unix_ms(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline Timestamp from_unix_ms(std::int64_t ms) { return Timestamp(std::chrono::milliseconds(ms)); }

}  // namespace parley::core

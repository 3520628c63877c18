#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace parley::core {

using Clock = std::chrono::system_clock;
using Timestamp = Clock::time_point;

inline std::int64_t to_unix_ms(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline Timestamp from_unix_ms(std::int64_t ms) { return Timestamp(std::chrono::milliseconds(ms)); }

// "YYYY-MM-DDThh:mm:ss.sssZ" in UTC: the XEP-0082 DateTime profile and the IRCv3
// server-time tag use this same form.
std::string to_iso8601(Timestamp t);

}  // namespace parley::core

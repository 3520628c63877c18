#include "core/model/time.hpp"

#include <cstdio>
#include <ctime>

namespace parley::core {

std::string to_iso8601(Timestamp t) {
  auto ms = to_unix_ms(t);
  auto secs_ms = ms >= 0 ? ms : ms - 999;  // floor, so times before 1970 keep a positive fraction
  std::time_t secs = static_cast<std::time_t>(secs_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // ample for any int fields, so -Wformat-truncation stays quiet
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(((ms % 1000) + 1000) % 1000));
  return buf;
}

}  // namespace parley::core

#pragma once
// server.log_format: json - one JSON object per log line (RFC 8259), for log shippers
// (journald's JSON import, Vector, Fluent Bit, Loki's promtail) that expect one record per
// line and no parsing of a human format.
#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace parley::daemon {

// Appends `s` to `out` as the inside of a JSON string: '"' and '\' escaped, every control
// character (U+0000..U+001F, RFC 8259 §7) escaped as \n, \t, ... or \u00XX, and every byte
// that is not part of well-formed UTF-8 (RFC 3629 §4: overlongs, surrogates, > U+10FFFF,
// truncated sequences) replaced by \ufffd, so the line is valid JSON whatever a peer sent.
void append_json_string(std::string_view s, std::string& out);

// Formats a record as {"time":"2026-12-03T15:04:21.123Z","level":"info",
// "component":"parley","message":"..."} and a newline. time is UTC (RFC 3339), level is
// spdlog's level name, component is the logger's name.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace parley::daemon

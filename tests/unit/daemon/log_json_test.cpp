#include "daemon/log_json.hpp"

#include <doctest/doctest.h>

#include <string>

using parley::daemon::append_json_string;
using parley::daemon::JsonLogFormatter;

namespace {

std::string esc(std::string_view s) {
  std::string out;
  append_json_string(s, out);
  return out;
}

}  // namespace

TEST_CASE("json strings: quotes, backslashes and control characters are escaped") {
  CHECK(esc("plain text") == "plain text");
  CHECK(esc("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(esc("C:\\dir") == "C:\\\\dir");
  CHECK(esc("a\nb\rc\td") == "a\\nb\\rc\\td");
  CHECK(esc("\b\f") == "\\b\\f");
  CHECK(esc(std::string_view("\x00\x01\x1f\x7f", 4)) == "\\u0000\\u0001\\u001f\\u007f");
  CHECK(esc("\x1b[31mred") == "\\u001b[31mred");  // a terminal escape from a peer stays inert
  CHECK(esc("/") == "/");
}

TEST_CASE("json strings: valid UTF-8 passes, invalid bytes become U+FFFD") {
  CHECK(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(esc("\xef\xbf\xbd") == "\xef\xbf\xbd");          // U+FFFD itself is valid
  CHECK(esc("\xf4\x8f\xbf\xbf") == "\xf4\x8f\xbf\xbf");  // U+10FFFF, the last code point
  CHECK(esc("a\xff"
            "b") == "a\\ufffdb");                                    // never valid in UTF-8
  CHECK(esc("\xc0\x80") == "\\ufffd\\ufffd");                        // overlong NUL
  CHECK(esc("\xe0\x80\xaf") == "\\ufffd\\ufffd\\ufffd");             // overlong '/'
  CHECK(esc("\xed\xa0\x80") == "\\ufffd\\ufffd\\ufffd");             // UTF-16 surrogate D800
  CHECK(esc("\xf4\x90\x80\x80") == "\\ufffd\\ufffd\\ufffd\\ufffd");  // above U+10FFFF
  CHECK(esc("\xc3") == "\\ufffd");                                   // truncated at the end
  CHECK(esc("\xe2\x82"
            "x") == "\\ufffd\\ufffdx");  // truncated before ASCII
  CHECK(esc("\x80") == "\\ufffd");       // lone continuation byte
}

TEST_CASE("the JSON formatter writes one object per line with time, level, component, message") {
  JsonLogFormatter f;
  spdlog::details::log_msg msg(spdlog::source_loc{}, "parley", spdlog::level::warn, "bad \"nick\"\n\x01\xff");
  msg.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764774261123));
  spdlog::memory_buf_t buf;
  f.format(msg, buf);
  CHECK(std::string(buf.data(), buf.size()) ==
        "{\"time\":\"2025-12-03T15:04:21.123Z\",\"level\":\"warning\",\"component\":\"parley\","
        "\"message\":\"bad \\\"nick\\\"\\n\\u0001\\ufffd\"}\n");
  auto copy = f.clone();
  spdlog::memory_buf_t buf2;
  copy->format(msg, buf2);
  CHECK(std::string(buf2.data(), buf2.size()) == std::string(buf.data(), buf.size()));
}

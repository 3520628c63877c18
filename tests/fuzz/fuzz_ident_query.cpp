// Fuzzes the RFC 1413 query parser (protocols/ident) with each input line, and checks
// that every reply built from what it parsed is one CR LF-terminated line (a hostile
// query or user id can never add a second line to the identd's answer).
// clang-format off (run_libfuzzer.sh reads these lines as they are)
// fuzz-sources: protocols/ident/ident.cpp
// clang-format on
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/ident/ident.hpp"

using namespace parley::protocols::ident;

namespace {
void one_line(const std::string& r) {
  if (r.size() < 2 || r.substr(r.size() - 2) != "\r\n") std::abort();
  if (r.find_first_of("\r\n") != r.size() - 2) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty()) {
    const auto nl = in.find('\n');
    const std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    Query q;
    const auto r = parse_query(line, &q);
    if (r == ParseResult::ok && (q.server_port == 0 || q.client_port == 0)) std::abort();
    if (r == ParseResult::malformed) continue;
    one_line(error_reply(q, r == ParseResult::ok ? "NO-USER" : "INVALID-PORT"));
    one_line(userid_reply(q, line));  // the line itself as a (hostile) user id
  }
  return 0;
}

// Fuzzes what the gateway's channel archive parses from XMPP: XEP-0082 dates (<history
// since/>, MAM start/end) and a MAM request's ids and 'with', then pages an in-memory
// archive with the result (never more than the page bound, keys strictly growing).
// clang-format off (run_libfuzzer.sh reads these lines as they are)
// fuzz-sources: adapters/gateway/archive.cpp core/model/time.cpp core/store/store.cpp core/store/memory_store.cpp core/store/message_codec.cpp core/model/address.cpp
// clang-format on
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapters/gateway/archive.hpp"
#include "core/store/memory_store.hpp"

using namespace parley::adapters::gateway;
using namespace parley::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // 1. dates: a parsed one prints and parses back to itself (at millisecond precision)
  // (between 1970 and 2200: outside the clock's range a date is clamped, and before 1970
  // to_iso8601 is not the subject here)
  static const Timestamp y2200 = *parse_datetime("2200-01-01T00:00:00Z");
  if (auto t = parse_datetime(in); t && t->time_since_epoch().count() >= 0 && *t < y2200) {
    auto again = parse_datetime(to_iso8601(*t));
    if (!again || *again != *t) std::abort();
  }
  // 2. a MAM request made of the input's '|'-separated parts, run against a small archive
  std::string_view part[5];
  std::string_view rest = in;
  for (auto& p : part) {
    auto bar = rest.find('|');
    p = rest.substr(0, bar);
    rest = bar == std::string_view::npos ? std::string_view{} : rest.substr(bar + 1);
  }
  MamRequest r;
  r.start = std::string(part[0]);
  r.with = std::string(part[1]);
  if (!part[2].empty()) r.after = std::string(part[2].substr(1));
  if (!part[3].empty()) r.before = std::string(part[3].substr(1));
  r.max = part[4].size();
  auto parsed = parse_mam(r, "#c%n@gw", 7);
  if (parsed.query.max > 7) std::abort();
  if (!parsed.condition.empty()) return 0;
  static MemoryStore* store = [] {
    auto* s = new MemoryStore;
    for (int i = 0; i < 40; ++i) {
      Message m;
      m.nick = i % 2 ? "a" : "b";
      m.body = "x";
      m.timestamp = from_unix_ms(1'700'000'000'000 + i * 60'000);
      (void)s->append_history("k", m, 30);
    }
    return s;
  }();
  auto page = mam_page(*store, "k", parsed.query);
  if (!page || page->items.size() > parsed.query.max) std::abort();
  for (std::size_t i = 1; i < page->items.size(); ++i)
    if (page->items[i].key <= page->items[i - 1].key) std::abort();
  return 0;
}

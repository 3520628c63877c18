// Fuzzes what a peer node's `_list_change` turns into (adapters/psyc/room_change_wire): the
// list parser, then parse_change_items. A malformed change leaves the output untouched; an
// accepted one holds only requests the core can take (a +key with a key, a +limit above 0,
// a ban with three non-empty fields); flag, key, limit and ban requests render back to
// elements that parse to the same request.
// fuzz-sources: adapters/psyc/room_change_wire.cpp core/model/room_change.cpp protocols/psyc/list.cpp
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/psyc/room_change_wire.hpp"
#include "core/model/room.hpp"
#include "protocols/psyc/list.hpp"

using namespace parley;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> items;
  if (protocols::psyc::parse_list(in, items, 4096)) return 0;
  auto nick_of = [](std::string_view uni) { return uni.size() % 2 ? std::string("n") : std::string(); };
  core::RoomChange out;
  out.items = {core::RoomChangeItem::make_limit(true, 7)};
  if (adapters::psyc::parse_change_items(items, nick_of, out)) {
    if (out.items.size() != 1 || out.items[0].limit != 7) std::abort();  // untouched
    return 0;
  }
  using Kind = core::RoomChangeItem::Kind;
  core::RoomChange plain;
  for (const auto& it : out.items) {
    if (it.kind == Kind::key && it.on && it.text.empty()) std::abort();
    if (it.kind == Kind::limit && it.on && it.limit == 0) std::abort();
    if (it.kind == Kind::ban && (it.mask.nick.empty() || it.mask.user.empty() || it.mask.host.empty()))
      std::abort();
    if (it.kind == Kind::status && it.text != "n") std::abort();
    if (it.kind != Kind::status) plain.items.push_back(it);
  }
  auto again = adapters::psyc::change_items(plain, [](std::string_view) { return std::string(); });
  std::vector<std::string_view> views(again.begin(), again.end());
  core::RoomChange back;
  if (adapters::psyc::parse_change_items(views, nick_of, back) || back.items.size() != plain.items.size())
    std::abort();
  for (std::size_t i = 0; i < back.items.size(); ++i) {
    const auto &a = back.items[i], &b = plain.items[i];
    if (a.kind != b.kind || a.on != b.on || a.flag != b.flag || a.text != b.text || a.limit != b.limit ||
        !(a.mask == b.mask))
      std::abort();
  }
  return 0;
}

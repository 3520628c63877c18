// The IRC gateway's per-user settings rows (Store::put/delete_gateway_setting,
// gateway_settings) in every store, and that SQLite keeps them across a reopen.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/store/memory_store.hpp"
#include "core/store/sqlite_store.hpp"
#include "core/store/write_behind_store.hpp"
#include "unit/fakes/temp_dir.hpp"

using namespace parley::core;
using parley::test::TempDir;

namespace {

void exercise(Store& s) {
  REQUIRE(s.put_gateway_setting({"irc.gw", "alice@x", "", "nick", "Al"}));
  REQUIRE(s.put_gateway_setting({"irc.gw", "alice@x", "libera", "nick", "Alice"}));
  REQUIRE(s.put_gateway_setting({"irc.gw", "bob@x", "libera #chan", "persistent", "libera"}));
  REQUIRE(s.put_gateway_setting({"other.gw", "alice@x", "", "nick", "Zed"}));
  // replace, not duplicate
  REQUIRE(s.put_gateway_setting({"irc.gw", "alice@x", "libera", "nick", "Alice2"}));

  auto mine = s.gateway_settings("irc.gw", "alice@x");
  REQUIRE(mine.ok());
  REQUIRE(mine->size() == 2);
  CHECK((*mine)[0] == GatewaySetting{"irc.gw", "alice@x", "", "nick", "Al"});
  CHECK((*mine)[1] == GatewaySetting{"irc.gw", "alice@x", "libera", "nick", "Alice2"});

  auto all = s.gateway_settings("irc.gw", "");
  REQUIRE(all.ok());
  CHECK(all->size() == 3);  // other.gw's row is not among them

  REQUIRE(s.delete_gateway_setting({"irc.gw", "alice@x", "libera", "nick", ""}));
  REQUIRE(s.delete_gateway_setting({"irc.gw", "nobody@x", "", "nick", ""}));  // unknown: fine
  mine = s.gateway_settings("irc.gw", "alice@x");
  REQUIRE(mine.ok());
  CHECK(mine->size() == 1);
}

}  // namespace

TEST_CASE("gateway settings: memory store") {
  MemoryStore s;
  exercise(s);
}

TEST_CASE("gateway settings: sqlite store, kept across a reopen") {
  TempDir dir;
  REQUIRE(dir.ok());
  const std::string path = dir.file("p.db");
  {
    auto s = SqliteStore::open(path);
    REQUIRE(s.ok());
    exercise(**s);
  }
  auto s = SqliteStore::open(path);
  REQUIRE(s.ok());
  auto rows = (*s)->gateway_settings("irc.gw", "");
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[1] == GatewaySetting{"irc.gw", "bob@x", "libera #chan", "persistent", "libera"});
}

TEST_CASE("gateway settings: write-behind store reads its own writes") {
  MemoryStore inner;
  {
    WriteBehindStore s(inner, {});
    exercise(s);
  }
  auto rows = inner.gateway_settings("irc.gw", "");
  REQUIRE(rows.ok());
  CHECK(rows->size() == 2);
}

#include <doctest/doctest.h>

#include <sstream>

#include "core/store/memory_store.hpp"
#include "daemon/accounts.hpp"

using namespace parley;

namespace {

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run run(core::Directory& d, std::string_view action, const std::string& user, const std::string& input = "") {
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  int code = daemon::account_command(d, action, user, in, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("account add and passwd and list and remove go through the directory") {
  core::MemoryStore store;
  core::Directory directory(store, 64);

  CHECK(run(directory, "add", "alice", "alicepw\n").code == 0);
  CHECK(directory.verify_password("alice", "alicepw").ok());
  auto again = run(directory, "add", "alice", "other\n");
  CHECK(again.code == 1);
  CHECK(again.err.find("alice") != std::string::npos);

  CHECK(run(directory, "add", "bob", "bobpw\r\n").code == 0);  // CRLF from a Windows pipe
  CHECK(directory.verify_password("bob", "bobpw").ok());
  CHECK(run(directory, "list", "").out == "alice\nbob\n");

  CHECK(run(directory, "passwd", "alice", "newpw\n").code == 0);
  CHECK(directory.verify_password("alice", "newpw").ok());
  CHECK_FALSE(directory.verify_password("alice", "alicepw").ok());

  CHECK(run(directory, "remove", "alice").code == 0);
  CHECK_FALSE(directory.exists("alice"));
  CHECK(run(directory, "remove", "alice").code == 1);
  CHECK(run(directory, "passwd", "carol", "x\n").code == 1);
}

TEST_CASE("account add refuses a missing or empty password and unknown actions") {
  core::MemoryStore store;
  core::Directory directory(store, 64);
  auto none = run(directory, "add", "alice", "");
  CHECK(none.code == 1);
  CHECK(none.err.find("password") != std::string::npos);
  CHECK(run(directory, "add", "alice", "\n").code == 1);
  CHECK_FALSE(directory.exists("alice"));
  CHECK(run(directory, "frobnicate", "alice").code == 1);
  CHECK(run(directory, "add", "", "pw\n").code == 1);
}

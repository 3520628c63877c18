// The core's owner check (core/core.hpp, PARLEY_ASSERT_ON_CORE): the daemon installs
// "am I on the core strand?"; an entry point called from elsewhere aborts a Debug build.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "core/core.hpp"
#include "core/store/memory_store.hpp"

using namespace parley::core;

TEST_CASE("thread check: without one every thread may use the core") {
  MemoryStore store;
  Core core(store, {});
  CHECK(core.on_core_thread());
  bool other = false;
  std::thread([&] { other = core.on_core_thread(); }).join();
  CHECK(other);
}

TEST_CASE("thread check: the installed check decides") {
  MemoryStore store;
  Core core(store, {});
  const auto owner = std::this_thread::get_id();
  core.set_thread_check([owner] { return std::this_thread::get_id() == owner; });
  CHECK(core.on_core_thread());
  bool other = true;
  std::thread([&] { other = core.on_core_thread(); }).join();
  CHECK_FALSE(other);
  core.set_thread_check({});
  std::thread([&] { other = core.on_core_thread(); }).join();
  CHECK(other);
}

#ifndef NDEBUG
TEST_CASE("thread check: an entry point called off the core aborts (Debug)") {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: the check says "not the core thread"; Router::send must abort before it runs.
    MemoryStore store;
    Core core(store, {});
    core.set_thread_check([] { return false; });
    (void)core.router().send(Message{});
    ::_exit(0);  // not reached when the assertion works
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGABRT);
}
#endif

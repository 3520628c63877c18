#include <malloc.h>

#include <cstdlib>

#include "daemon/cli.hpp"

int main(int argc, char** argv) {
  // Few malloc arenas: glibc gives each thread that allocates its own arena (up to 8 per
  // core), and a TLS login's many short-lived allocations, made on whichever I/O thread runs
  // the connection, then fragment every arena that holds long-lived session state. With two
  // arenas an idle authenticated XMPP session costs ~1.3 KiB less RSS (16.2 -> 14.9 KiB at
  // 500 sessions, bench/README.md) and the 1:1 and room throughput benchmarks do not move.
  // MALLOC_ARENA_MAX in the environment still decides when set.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  return parley::daemon::main_cli(argc, argv);
}

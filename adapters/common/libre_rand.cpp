// libre's random numbers, pooled (issue 12, the SIP presence fan-out).
//
// libre 1.1.0 built with OpenSSL makes rand_u32 one RAND_bytes call for 4 bytes and
// rand_u64 two of them, and it draws one rand_u64 for every message it decodes (sip_msg's
// tag, msg.c) and one for every request it sends (the Via branch, RFC 3261 §8.1.1.7). A
// RAND_bytes call costs ~1 µs here (the DRBG's locking, parameter lookup and fork check), so
// a NOTIFY and its 200 OK cost 4 µs of random numbers: 15% of the libre thread in perf.
//
// This file defines rand_u32, rand_u64 and rand_bytes in the executable, which interposes
// them for libre itself (libre calls its own exported functions through the PLT; the link
// exports these names, CMakeLists.txt), as adapters/common/libre_timers.cpp does for its
// timers. The bytes are the same OpenSSL DRBG's, drawn 512 at a time into a buffer of the
// calling thread and handed out in order, each byte once; large requests bypass the pool.
// A failing RAND_bytes (libre only logged it and used zeros) falls back to getrandom(2).
// The pool is per thread, so no locking; parleyd does not fork after libre starts (a child
// would otherwise share the parent's unused bytes).
#include "adapters/common/libre_rand.hpp"

#include <dlfcn.h>
#include <openssl/rand.h>
#include <sys/random.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" {
uint32_t rand_u32(void);
uint64_t rand_u64(void);
void rand_bytes(uint8_t* p, size_t size);
}

namespace {

constexpr std::size_t kPool = 512;
constexpr std::size_t kDirect = 64;  // requests at least this large skip the pool

void fill(std::uint8_t* p, std::size_t n) {
  if (n <= static_cast<std::size_t>(INT32_MAX) && RAND_bytes(p, static_cast<int>(n)) == 1) return;
  while (n > 0) {  // the kernel's CSPRNG; blocks only before it is seeded at boot
    ssize_t got = ::getrandom(p, n, 0);
    if (got <= 0) continue;
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

struct Pool {
  std::uint8_t bytes[kPool];
  std::size_t used = kPool;  // empty: filled at first use

  void take(void* out, std::size_t n) {
    auto* dst = static_cast<std::uint8_t*>(out);
    if (n >= kDirect) return fill(dst, n);
    if (kPool - used < n) {
      fill(bytes, kPool);
      used = 0;
    }
    std::memcpy(dst, bytes + used, n);
    std::memset(bytes + used, 0, n);  // handed out once: not kept in memory after
    used += n;
  }
};

thread_local Pool t_pool;

}  // namespace

extern "C" {

uint32_t rand_u32(void) {
  uint32_t v;
  t_pool.take(&v, sizeof v);
  return v;
}

uint64_t rand_u64(void) {
  uint64_t v;
  t_pool.take(&v, sizeof v);
  return v;
}

void rand_bytes(uint8_t* p, size_t size) {
  if (p && size) t_pool.take(p, size);
}

}  // extern "C"

namespace parley::adapters {

bool libre_rand_pooled() {
  static const bool ours = dlsym(RTLD_DEFAULT, "rand_u32") == reinterpret_cast<void*>(&rand_u32) &&
                           dlsym(RTLD_DEFAULT, "rand_u64") == reinterpret_cast<void*>(&rand_u64) &&
                           dlsym(RTLD_DEFAULT, "rand_bytes") == reinterpret_cast<void*>(&rand_bytes);
  return ours;
}

}  // namespace parley::adapters

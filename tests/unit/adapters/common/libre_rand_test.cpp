// libre's random numbers from Parley's pool (adapters/common/libre_rand.cpp): libre's
// rand_* resolve to the pooled ones, values are not repeated across pool refills, sizes
// around the pool's edges are filled completely, and each thread has its own pool.
#include "adapters/common/libre_rand.hpp"

#include <doctest/doctest.h>
#include <re.h>

#include <array>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

using namespace parley;

TEST_CASE("libre resolves its random functions to the pooled ones") { CHECK(adapters::libre_rand_pooled()); }

TEST_CASE("rand_u64 does not repeat across many pool refills") {
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 20000; ++i) seen.insert(rand_u64());  // ~310 refills of 512 bytes
  CHECK(seen.size() == 20000);
  std::set<std::uint32_t> small;
  for (int i = 0; i < 1000; ++i) small.insert(rand_u32());
  CHECK(small.size() >= 999);  // 32 bits: a collision among 1,000 is ~1e-4 likely
}

TEST_CASE("rand_bytes fills every byte, below, at and above the pool's direct size") {
  for (std::size_t n : {1u, 7u, 63u, 64u, 65u, 511u, 512u, 513u, 4096u}) {
    CAPTURE(n);
    // Two draws of n bytes differ, and no long run of zeros survives (an unfilled tail).
    std::vector<std::uint8_t> a(n, 0), b(n, 0);
    rand_bytes(a.data(), n);
    rand_bytes(b.data(), n);
    if (n >= 8) CHECK(a != b);
    std::size_t run = 0, longest = 0;
    for (auto x : a) longest = std::max(longest, run = x ? 0 : run + 1);
    CHECK(longest < 8);
  }
  rand_bytes(nullptr, 16);  // libre's contract: ignored
  std::uint8_t one = 0;
  rand_bytes(&one, 0);
  char s[33] = {};
  rand_str(s, sizeof s);  // libre's rand_str draws through rand_bytes
  CHECK(std::string(s).size() == 32);
}

TEST_CASE("threads draw from their own pools") {
  std::array<std::vector<std::uint64_t>, 2> got;
  std::thread t1([&] {
    for (int i = 0; i < 2000; ++i) got[0].push_back(rand_u64());
  });
  std::thread t2([&] {
    for (int i = 0; i < 2000; ++i) got[1].push_back(rand_u64());
  });
  t1.join();
  t2.join();
  std::set<std::uint64_t> all(got[0].begin(), got[0].end());
  all.insert(got[1].begin(), got[1].end());
  CHECK(all.size() == 4000);
}

// AddressLimiter: per-address concurrent and rate limits (protocols/common/address_limiter).
#include "protocols/common/address_limiter.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <vector>

using namespace parley::protocols;
using boost::asio::ip::make_address;
using namespace std::chrono_literals;
using V = AddressLimiter::Verdict;

namespace {
AddressLimiter::Policy policy(std::uint32_t per, double rate, std::uint32_t burst) {
  AddressLimiter::Policy p;
  p.per_address = per;
  p.rate = rate;
  p.burst = burst;
  return p;
}
}  // namespace

TEST_CASE("address limiter: concurrent limit per address, released with the admission") {
  auto l = AddressLimiter::make(policy(3, 0, 1));
  const auto t = AddressLimiter::Clock::now();
  auto a = make_address("192.0.2.1");
  std::vector<AddressLimiter::Admission> held;
  for (int i = 0; i < 3; ++i) {
    auto ad = l->admit(a, t);
    REQUIRE(ad);
    held.push_back(std::move(ad));
  }
  CHECK(l->count(a) == 3);
  auto over = l->admit(a, t);
  CHECK_FALSE(over);
  CHECK(over.verdict() == V::too_many);
  // Another address is not affected.
  CHECK(l->admit(make_address("192.0.2.2"), t));
  held.pop_back();  // one connection closes
  CHECK(l->count(a) == 2);
  CHECK(l->admit(a, t));  // admitted, and released again at once (temporary)
  CHECK(l->count(a) == 2);
  held.clear();
  CHECK(l->count(a) == 0);
}

TEST_CASE("address limiter: rate limit is a token bucket (burst, then rate per second)") {
  auto l = AddressLimiter::make(policy(0, 2, 5));
  auto t = AddressLimiter::Clock::now();
  auto a = make_address("198.51.100.7");
  for (int i = 0; i < 5; ++i) CHECK(l->admit(a, t));  // the burst
  auto over = l->admit(a, t);
  CHECK_FALSE(over);
  CHECK(over.verdict() == V::too_fast);
  CHECK_FALSE(l->admit(a, t + 400ms));  // 0.8 token
  CHECK(l->admit(a, t + 500ms));        // 1 token after 0.5 s at 2/s
  CHECK_FALSE(l->admit(a, t + 600ms));
  // Refused attempts cost nothing: after 10 s the bucket is full again, not more.
  for (int i = 0; i < 5; ++i) CHECK(l->admit(a, t + 10s));
  CHECK_FALSE(l->admit(a, t + 10s));
  CHECK(l->admit(make_address("198.51.100.8"), t));  // per address
}

TEST_CASE("address limiter: the concurrent limit is checked before a token is spent") {
  auto l = AddressLimiter::make(policy(1, 1, 2));
  auto t = AddressLimiter::Clock::now();
  auto a = make_address("203.0.113.9");
  auto first = l->admit(a, t);
  REQUIRE(first);
  for (int i = 0; i < 10; ++i) CHECK(l->admit(a, t).verdict() == V::too_many);
  first.reset();
  CHECK(l->admit(a, t));  // the second token is still there
}

TEST_CASE("address limiter: IPv6 counts per /64, IPv4-mapped as IPv4") {
  auto l = AddressLimiter::make(policy(2, 0, 1));
  auto t = AddressLimiter::Clock::now();
  auto a1 = l->admit(make_address("2001:db8:1:2::1"), t);
  auto a2 = l->admit(make_address("2001:db8:1:2:ffff::9"), t);
  REQUIRE(a1);
  REQUIRE(a2);
  CHECK(l->admit(make_address("2001:db8:1:2:abcd::1"), t).verdict() == V::too_many);  // same /64
  CHECK(l->admit(make_address("2001:db8:1:3::1"), t));                                // next /64
  auto m1 = l->admit(make_address("::ffff:192.0.2.50"), t);
  auto m2 = l->admit(make_address("192.0.2.50"), t);
  REQUIRE(m1);
  REQUIRE(m2);
  CHECK_FALSE(l->admit(make_address("192.0.2.50"), t));
  CHECK(AddressLimiter::key_of(make_address("::ffff:192.0.2.50")) ==
        AddressLimiter::key_of(make_address("192.0.2.50")));
}

TEST_CASE("address limiter: no limits still counts, so a policy change applies to who is connected") {
  auto l = AddressLimiter::make(policy(0, 0, 1));
  auto t = AddressLimiter::Clock::now();
  auto a = make_address("192.0.2.1");
  for (int i = 0; i < 1000; ++i) CHECK(l->admit(a, t));  // each released at once
  CHECK(l->count(a) == 0);
  auto one = l->admit(a, t);
  auto two = l->admit(a, t);
  CHECK(l->count(a) == 2);
  l->set_policy(policy(2, 0, 1));
  CHECK(l->admit(a, t).verdict() == V::too_many);
  l->set_policy(policy(3, 0, 1));
  CHECK(l->admit(a, t));
}

TEST_CASE("address limiter: the table forgets idle addresses (bounded under many addresses)") {
  auto l = AddressLimiter::make(policy(4, 10, 3));
  auto t = AddressLimiter::Clock::now();
  // 5000 addresses connect once and leave: their entries are dropped once their bucket has
  // refilled, so the table does not keep one entry per address ever seen.
  for (int i = 0; i < 5000; ++i) {
    auto a = boost::asio::ip::address_v4(0x0A000000u + static_cast<std::uint32_t>(i));
    auto ad = l->admit(a, t + std::chrono::milliseconds(i));  // 1 ms apart: earlier ones refill
    CHECK(ad);
  }
  CHECK(l->tracked() < 2048);
  // An address with a live connection is never dropped (its admission points at it).
  auto keep = l->admit(make_address("192.0.2.200"), t + 10s);
  for (int i = 0; i < 3000; ++i)
    (void)l->admit(boost::asio::ip::address_v4(0x0B000000u + static_cast<std::uint32_t>(i)), t + 20s);
  CHECK(l->count(make_address("192.0.2.200")) == 1);
  keep.reset();
  CHECK(l->count(make_address("192.0.2.200")) == 0);
}

TEST_CASE("address limiter: an admission outlives the limiter's owner") {
  AddressLimiter::Admission ad;
  {
    auto l = AddressLimiter::make(policy(1, 0, 1));
    ad = l->admit(make_address("192.0.2.1"));
    REQUIRE(ad);
  }  // the last owner is gone; the admission keeps the limiter alive (ASan checks the release)
  CHECK(ad.verdict() == V::admitted);
  ad.reset();
}

// The identd's registry of puppet connections (adapters/gateway/identd.hpp): an answer only
// for the exact pair of endpoints a puppet holds, IPv4-mapped addresses seen as IPv4.
#include "adapters/gateway/identd.hpp"

#include <doctest/doctest.h>

using parley::adapters::gateway::IdentRegistry;
using Endpoint = IdentRegistry::Endpoint;
using boost::asio::ip::make_address;

TEST_CASE("ident registry: exact endpoints only, mapped IPv4 folded, removal") {
  IdentRegistry r;
  const Endpoint local(make_address("192.0.2.1"), 40000), remote(make_address("198.51.100.2"), 6667);
  r.add(local, remote, "alice");
  REQUIRE(r.find(local, remote));
  CHECK(*r.find(local, remote) == "alice");
  // a dual-stack identd sees the same connection with IPv4-mapped addresses
  CHECK(r.find(Endpoint(make_address("::ffff:192.0.2.1"), 40000),
               Endpoint(make_address("::ffff:198.51.100.2"), 6667)));
  // another port, another asker, the sides swapped: not ours
  CHECK_FALSE(r.find(Endpoint(local.address(), 40001), remote));
  CHECK_FALSE(r.find(local, Endpoint(remote.address(), 6697)));
  CHECK_FALSE(r.find(local, Endpoint(make_address("198.51.100.3"), 6667)));
  CHECK_FALSE(r.find(remote, local));
  r.remove(Endpoint(make_address("::ffff:192.0.2.1"), 40000), remote);
  CHECK_FALSE(r.find(local, remote));
  CHECK(r.size() == 0);
}

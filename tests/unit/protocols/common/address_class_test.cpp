// Which addresses irc.open_networks may reach (protocols/common/address_class.hpp).
#include "protocols/common/address_class.hpp"

#include <doctest/doctest.h>

using boost::asio::ip::make_address;
using parley::protocols::is_public_address;

TEST_CASE("is_public_address: special-purpose IPv4 blocks are not public") {
  for (const char* a :
       {"0.0.0.0", "10.1.2.3", "100.64.0.1", "127.0.0.1", "127.255.255.254", "169.254.169.254", "172.16.0.1",
        "172.31.255.255", "192.0.0.8", "192.0.2.1", "192.168.1.1", "198.18.0.1", "198.51.100.7",
        "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255"})
    CHECK_MESSAGE(!is_public_address(make_address(a)), a);
  for (const char* a : {"1.1.1.1", "8.8.8.8", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1",
                        "192.169.0.1", "198.20.0.1", "223.255.255.255", "130.239.18.160"})
    CHECK_MESSAGE(is_public_address(make_address(a)), a);
}

TEST_CASE("is_public_address: IPv6, and IPv4 carried in IPv6") {
  for (const char* a : {"::", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "fe80::1",
                        "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "2001:db8::1", "64:ff9b::7f00:1",
                        "64:ff9b:1::1", "2002:7f00:1::1", "2002:c0a8:101::1", "2001::1", "100::1"})
    CHECK_MESSAGE(!is_public_address(make_address(a)), a);
  for (const char* a : {"2a01:4f8::1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808",
                        "2002:808:808::1", "2600::1"})
    CHECK_MESSAGE(is_public_address(make_address(a)), a);
}

#pragma once
// Whether an IP address is on the public Internet. A gateway that connects anywhere a user
// names (irc.open_networks) must not reach the operator's own machine or network through
// it: loopback, private (RFC 1918, RFC 4193), shared (RFC 6598), link-local (RFC 3927,
// RFC 4291 §2.5.6), multicast, unspecified, broadcast and other special-purpose blocks
// (IANA special-purpose registries, RFC 6890) are not public. An IPv6 address that carries
// an IPv4 one (mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by
// that IPv4 address.
#include <boost/asio/ip/address.hpp>

namespace parley::protocols {

bool is_public_address(const boost::asio::ip::address& a);

}  // namespace parley::protocols

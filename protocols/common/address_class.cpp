#include "protocols/common/address_class.hpp"

#include <cstdint>

namespace parley::protocols {

namespace {

bool public_v4(std::uint32_t a) {
  auto in = [a](std::uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
  return !(in(0x00000000, 8)       // 0.0.0.0/8 "this network"
           || in(0x0a000000, 8)    // 10/8 private
           || in(0x64400000, 10)   // 100.64/10 shared (CGNAT)
           || in(0x7f000000, 8)    // 127/8 loopback
           || in(0xa9fe0000, 16)   // 169.254/16 link-local
           || in(0xac100000, 12)   // 172.16/12 private
           || in(0xc0000000, 24)   // 192.0.0/24 IETF protocol assignments
           || in(0xc0000200, 24)   // 192.0.2/24 documentation
           || in(0xc0a80000, 16)   // 192.168/16 private
           || in(0xc6120000, 15)   // 198.18/15 benchmarking
           || in(0xc6336400, 24)   // 198.51.100/24 documentation
           || in(0xcb007100, 24)   // 203.0.113/24 documentation
           || in(0xe0000000, 4)    // 224/4 multicast
           || in(0xf0000000, 4));  // 240/4 reserved, 255.255.255.255 broadcast
}

}  // namespace

bool is_public_address(const boost::asio::ip::address& a) {
  if (a.is_v4()) return public_v4(a.to_v4().to_uint());
  const auto b = a.to_v6().to_bytes();
  auto v4_at = [&b](std::size_t i) {
    return (std::uint32_t{b[i]} << 24) | (std::uint32_t{b[i + 1]} << 16) | (std::uint32_t{b[i + 2]} << 8) |
           b[i + 3];
  };
  bool zero80 = true;  // the first 80 bits are zero: ::, ::1, ::ffff:v4, ::v4 (deprecated)
  for (std::size_t i = 0; i < 10; ++i) zero80 = zero80 && b[i] == 0;
  if (zero80) {
    if (b[10] == 0xff && b[11] == 0xff) return public_v4(v4_at(12));  // ::ffff:0:0/96 mapped
    return false;  // ::, ::1, IPv4-compatible and the rest of ::/80: nothing public
  }
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {  // 64:ff9b::/96 NAT64
    bool rest_zero = true;
    for (std::size_t i = 4; i < 12; ++i) rest_zero = rest_zero && b[i] == 0;
    return rest_zero ? public_v4(v4_at(12)) : false;  // 64:ff9b:1::/48 is local-use (RFC 8215)
  }
  if (b[0] == 0x20 && b[1] == 0x02) return public_v4(v4_at(2));  // 2002::/16 6to4
  if ((b[0] & 0xfe) == 0xfc) return false;                       // fc00::/7 unique local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false;       // fe80::/10 link-local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return false;       // fec0::/10 site-local (deprecated)
  if (b[0] == 0xff) return false;                                // ff00::/8 multicast
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
    return false;  // 2001:db8::/32 documentation
  if (b[0] == 0x01 && b[1] == 0x00 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 && b[6] == 0 &&
      b[7] == 0)
    return false;  // 100::/64 discard-only
  // 2001::/23 IETF protocol assignments (Teredo 2001::/32 among them: its embedded address
  // is obfuscated, refused as a whole).
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02) return false;
  return true;
}

}  // namespace parley::protocols

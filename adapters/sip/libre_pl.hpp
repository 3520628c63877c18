#pragma once
// libre's pointer-length strings (struct pl: a view into a decoded message) as C++ text,
// for the SIP adapter's files that read libre's sip_msg.
#include <re.h>

#include <cstring>
#include <string>
#include <string_view>

namespace parley::adapters::sip {

// A copy of p's bytes; empty when p is unset.
inline std::string str(const pl& p) { return p.p ? std::string(p.p, p.l) : std::string(); }

// p's bytes equal s's, exactly (case matters: Call-ID, tags, URIs compared as received).
inline bool pl_is(const pl& p, std::string_view s) {
  return p.l == s.size() && (s.empty() || std::memcmp(p.p, s.data(), s.size()) == 0);
}

}  // namespace parley::adapters::sip

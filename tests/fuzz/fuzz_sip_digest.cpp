// Fuzzes what the SIP plugin parses outside libre: the Authorization header's digest
// credentials, nonce checks and nonce counts, and the text-body cleaning.
// fuzz-sources: protocols/sip/digest.cpp protocols/sip/text.cpp protocols/irc/message.cpp
// fuzz-libs: -lcrypto
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/sip/digest.hpp"
#include "protocols/sip/text.hpp"

using namespace parley::protocols::sip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto c = parse_digest_credentials(in)) {
    if (c->username.size() > kMaxAuthorization || c->uri.size() > kMaxAuthorization) __builtin_trap();
    static const NonceIssuer issuer("fuzz");
    (void)issuer.check(c->nonce, 1000, 300);
    (void)parse_digest_algorithm(c->algorithm);
    if (auto nc = parse_nonce_count(c->nc)) {
      NonceCounts counts(2, 2);
      (void)counts.accept(c->username, c->nonce, 10, *nc);
    }
    (void)digest_challenge(DigestAlgorithm::md5, c->realm, c->nonce, true);
  }
  if (auto body = clean_text_body(in)) {
    for (char ch : *body)
      if (ch == '\r') __builtin_trap();
  }
  auto h = header_safe(in, 64);
  if (h.size() > 64 || h.find('\n') != std::string::npos) __builtin_trap();
  (void)escape_user(in);
  return 0;
}

#include "protocols/psyc/link_proof.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace parley::protocols::psyc {

namespace {
std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}
}  // namespace

std::string make_nonce() {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
  return hex(b, sizeof b);
}

std::string link_proof(std::string_view secret, std::string_view label, std::string_view from,
                       std::string_view to, std::string_view nonce) {
  std::string msg;
  msg.reserve(label.size() + from.size() + to.size() + nonce.size() + 3);
  msg.append(label).push_back('|');
  msg.append(from).push_back('|');
  msg.append(to).push_back('|');
  msg.append(nonce);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &n);
  return hex(md, n);
}

bool proof_matches(std::string_view expected, std::string_view got) {
  return expected.size() == got.size() && !expected.empty() &&
         CRYPTO_memcmp(expected.data(), got.data(), expected.size()) == 0;
}

}  // namespace parley::protocols::psyc

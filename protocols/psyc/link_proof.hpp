#pragma once
// Proofs of a shared secret for node-to-node links (psyc.peers[].secret): the secret never
// crosses the wire. Each side sends a fresh random nonce; the other answers with
// HMAC-SHA-256(secret, label | from | to | nonce) in lower-case hex. The label names the
// direction ("dialer" / "acceptor"), so a proof one side produced is never valid as the
// other side's answer (no reflection).
#include <string>
#include <string_view>

namespace parley::protocols::psyc {

// 32 random bytes as 64 hex digits (OpenSSL RAND_bytes).
std::string make_nonce();
std::string link_proof(std::string_view secret, std::string_view label, std::string_view from,
                       std::string_view to, std::string_view nonce);
// Constant-time comparison of a received proof with the expected one.
bool proof_matches(std::string_view expected, std::string_view got);

}  // namespace parley::protocols::psyc

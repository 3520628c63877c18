#pragma once
// Server side SASL for c2s (RFC 6120 §6) on GNU SASL: SCRAM-SHA-256, SCRAM-SHA-1 (RFC 5802,
// RFC 7677) and PLAIN (RFC 4616).
//
// The credentials live in the core, which runs on another strand, while libgsasl asks for
// them synchronously from a callback. So the exchange is split: scram_username() reads the
// user name out of the client-first-message, the caller fetches that user's stored
// credentials asynchronously, and only then ScramServer runs the gsasl steps with them.
// PLAIN has nothing to compute server side: parse_plain() splits the message and the caller
// verifies the password against the directory (the same asynchronous shape).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace parley::protocols::xmpp {

// Stored SCRAM credentials in the encodings gsasl's server expects.
struct ScramSecrets {
  std::string salt;        // raw bytes
  std::uint32_t iterations = 0;
  std::string stored_key;  // raw bytes
  std::string server_key;  // raw bytes
};

std::optional<std::string> base64_decode(std::string_view b64);  // nullopt on bad input
std::string base64_encode(std::string_view raw);

// The username of a SCRAM client-first-message ("n,,n=user,r=nonce"), with =2C and =3D
// unescaped. nullopt if malformed or if channel binding is required ("p=").
std::optional<std::string> scram_username(std::string_view client_first);
// The authzid of a SCRAM gs2-header ("n,a=alice@d,..."), unescaped; empty if none, nullopt
// if the header is malformed.
std::optional<std::string> scram_authzid(std::string_view client_first);

struct PlainCredentials {
  std::string authzid;
  std::string authcid;
  std::string password;
};
std::optional<PlainCredentials> parse_plain(std::string_view message);

class ScramServer {
 public:
  enum class Result : std::uint8_t { challenge, success, failure };
  struct Step {
    Result result = Result::failure;
    std::string data;  // raw (not base64) challenge or additional success data
  };

  // mechanism: "SCRAM-SHA-1" or "SCRAM-SHA-256".
  ScramServer(std::string_view mechanism, ScramSecrets secrets);
  ~ScramServer();
  ScramServer(const ScramServer&) = delete;
  ScramServer& operator=(const ScramServer&) = delete;

  Step step(std::string_view client_data);

  struct Impl;  // public so that the gsasl callback can reach it through the session hook

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::protocols::xmpp

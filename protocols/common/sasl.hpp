#pragma once
// SASL mechanisms on GNU SASL, one copy for every protocol that carries SASL (XMPP c2s,
// RFC 6120 §6; IRC AUTHENTICATE, IRCv3 sasl-3.1/3.2): SCRAM-SHA-256, SCRAM-SHA-1 (RFC 5802,
// RFC 7677) and PLAIN (RFC 4616), server side, and the client side the IRC gateway uses to
// log in to other networks. Protocol framing (base64 in <auth/>, 400-byte AUTHENTICATE
// lines) stays with each protocol.
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

namespace parley::protocols::sasl {

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
// The PLAIN message a client sends: authzid NUL authcid NUL password (RFC 4616 §2).
std::string plain_message(std::string_view authzid, std::string_view authcid, std::string_view password);

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

// The client side of SCRAM (RFC 5802 §3): step("") gives the client-first-message, the
// server-first gives the client-final; the server-final yields success only when the
// server's signature verifies (a server that does not know the password cannot fake it).
class ScramClient {
 public:
  using Result = ScramServer::Result;
  using Step = ScramServer::Step;

  ScramClient(std::string_view mechanism, std::string_view authcid, std::string_view password,
              std::string_view authzid = {});
  ~ScramClient();
  ScramClient(const ScramClient&) = delete;
  ScramClient& operator=(const ScramClient&) = delete;

  Step step(std::string_view server_data);

 private:
  void* session_ = nullptr;  // Gsasl_session
  bool started_ = false;
};

}  // namespace parley::protocols::sasl

#include <doctest/doctest.h>
#include <gsasl.h>

#include <string>
#include <utility>

#include "core/services/directory.hpp"
#include "protocols/common/sasl.hpp"

using namespace parley::protocols::sasl;

namespace {

// Runs a gsasl client against ScramServer with credentials derived by the core directory.
bool scram_login(const char* mech, parley::core::ScramHash hash, const char* password_stored,
                 const char* password_tried) {
  auto creds = parley::core::Directory::derive(hash, password_stored, "0123456789ab", 4096);
  Gsasl* ctx = nullptr;
  REQUIRE(gsasl_init(&ctx) == GSASL_OK);
  Gsasl_session* client = nullptr;
  REQUIRE(gsasl_client_start(ctx, mech, &client) == GSASL_OK);
  gsasl_property_set(client, GSASL_AUTHID, "alice");
  gsasl_property_set(client, GSASL_PASSWORD, password_tried);
  char* out = nullptr;
  size_t out_len = 0;
  REQUIRE(gsasl_step(client, nullptr, 0, &out, &out_len) == GSASL_NEEDS_MORE);
  std::string first(out, out_len);
  gsasl_free(out);
  auto user = scram_username(first);
  REQUIRE(user);
  CHECK(*user == "alice");
  ScramServer server(mech, ScramSecrets{creds.salt, creds.iterations, creds.stored_key, creds.server_key});
  auto s1 = server.step(first);
  REQUIRE(s1.result == ScramServer::Result::challenge);
  int rc = gsasl_step(client, s1.data.data(), s1.data.size(), &out, &out_len);
  REQUIRE(rc == GSASL_NEEDS_MORE);
  std::string final_msg(out, out_len);
  gsasl_free(out);
  auto s2 = server.step(final_msg);
  bool ok = s2.result == ScramServer::Result::success;
  if (ok) {
    rc = gsasl_step(client, s2.data.data(), s2.data.size(), &out, &out_len);
    CHECK(rc == GSASL_OK);  // the client verified the server signature
    gsasl_free(out);
  }
  gsasl_finish(client);
  gsasl_done(ctx);
  return ok;
}

}  // namespace

TEST_CASE("SCRAM server accepts the right password and refuses a wrong one") {
  CHECK(scram_login("SCRAM-SHA-256", parley::core::ScramHash::sha256, "secret", "secret"));
  CHECK(scram_login("SCRAM-SHA-1", parley::core::ScramHash::sha1, "secret", "secret"));
  CHECK(!scram_login("SCRAM-SHA-256", parley::core::ScramHash::sha256, "secret", "wrong"));
}

TEST_CASE("SASL helpers") {
  CHECK(scram_username("n,,n=al=2Cice=3D,r=abc") == std::optional<std::string>("al,ice="));
  CHECK(!scram_username("p=tls-unique,,n=a,r=b"));
  CHECK(!scram_username("n,,r=b"));
  CHECK(scram_authzid("n,,n=a,r=b") == std::optional<std::string>(""));
  CHECK(scram_authzid("n,a=bob=3Dx=2C,n=a,r=b") == std::optional<std::string>("bob=x,"));
  CHECK(scram_authzid("y,a=bob,n=a,r=b") == std::optional<std::string>("bob"));
  CHECK(!scram_authzid("n,b=bob,n=a,r=b"));
  CHECK(!scram_authzid("n,a=b=4,n=a,r=b"));
  auto p = parse_plain(std::string("\0alice\0pw", 9));
  REQUIRE(p);
  CHECK(p->authcid == "alice");
  CHECK(p->password == "pw");
  CHECK(!parse_plain(std::string("alice\0pw", 8)));
  CHECK(base64_decode(base64_encode("hello")) == std::optional<std::string>("hello"));
  CHECK(!base64_decode("!!!"));
}

TEST_CASE("SCRAM client and server complete an exchange and both verify") {
  for (auto [mech, hash] : {std::pair{"SCRAM-SHA-256", parley::core::ScramHash::sha256},
                            std::pair{"SCRAM-SHA-1", parley::core::ScramHash::sha1}}) {
    CAPTURE(mech);
    auto creds = parley::core::Directory::derive(hash, "pencil", "saltsaltsalt", 4096);
    auto run = [&](const char* password) {
      ScramClient client(mech, "user", password);
      auto c1 = client.step("");
      REQUIRE(c1.result == ScramClient::Result::challenge);
      CHECK(scram_username(c1.data) == std::optional<std::string>("user"));
      ScramServer server(mech, ScramSecrets{creds.salt, creds.iterations, creds.stored_key, creds.server_key});
      auto s1 = server.step(c1.data);
      REQUIRE(s1.result == ScramServer::Result::challenge);
      auto c2 = client.step(s1.data);
      REQUIRE(c2.result == ScramClient::Result::challenge);
      auto s2 = server.step(c2.data);
      if (s2.result != ScramServer::Result::success) return std::pair{false, false};
      auto c3 = client.step(s2.data);  // the client checks the server signature
      return std::pair{true, c3.result == ScramClient::Result::success};
    };
    CHECK(run("pencil") == std::pair{true, true});
    CHECK(run("pen").first == false);
  }
}

TEST_CASE("SCRAM client refuses a server that does not know the password") {
  auto real = parley::core::Directory::derive(parley::core::ScramHash::sha256, "pencil", "saltsaltsalt", 4096);
  ScramClient client("SCRAM-SHA-256", "user", "pencil");
  ScramServer honest("SCRAM-SHA-256", ScramSecrets{real.salt, real.iterations, real.stored_key, real.server_key});
  auto c1 = client.step("");
  auto s1 = honest.step(c1.data);
  auto c2 = client.step(s1.data);
  auto s2 = honest.step(c2.data);
  REQUIRE(s2.result == ScramServer::Result::success);
  // A forged server-final ("v=" with another key's signature) must not verify.
  std::string forged = "v=" + base64_encode(std::string(32, 'x'));
  CHECK(client.step(forged).result == ScramClient::Result::failure);
}

TEST_CASE("PLAIN message round trip") {
  auto m = plain_message("", "alice", "pw");
  CHECK(m == std::string("\0alice\0pw", 9));
  auto p = parse_plain(m);
  REQUIRE(p);
  CHECK(p->authcid == "alice");
  CHECK(p->password == "pw");
  CHECK(parse_plain(plain_message("bob", "alice", "pw"))->authzid == "bob");
}

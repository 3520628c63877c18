#include <doctest/doctest.h>
#include <gsasl.h>

#include <string>

#include "core/services/directory.hpp"
#include "protocols/xmpp/sasl.hpp"

using namespace parley::protocols::xmpp;

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

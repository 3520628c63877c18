#include "daemon/tls.hpp"

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "unit/fakes/temp_dir.hpp"

using namespace parley;

namespace {

X509* read_cert(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  REQUIRE(f);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return x;
}

}  // namespace

TEST_CASE("a generated self-signed certificate and key load into a TLS server context") {
  test::TempDir dir;
  auto files = daemon::ensure_self_signed(dir.file("tls"), "chat.example.org");
  REQUIRE_MESSAGE(files.ok(), files.error().text);
  CHECK(files->generated);
  CHECK(std::filesystem::exists(files->cert));

  struct stat st{};
  REQUIRE(::stat(files->key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto ctx = daemon::make_server_tls(files.value());
  REQUIRE_MESSAGE(ctx.ok(), ctx.error().text);

  X509* cert = read_cert(files->cert);
  REQUIRE(cert);
  CHECK(X509_check_host(cert, "chat.example.org", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(cert, "other.example.org", 0, 0, nullptr) != 1);
  // Valid now, and still valid nine years from now.
  CHECK(X509_cmp_current_time(X509_get0_notBefore(cert)) <= 0);
  time_t nine_years = std::time(nullptr) + 9L * 365 * 24 * 3600;
  CHECK(X509_cmp_time(X509_get0_notAfter(cert), &nine_years) > 0);
  X509_free(cert);
}

TEST_CASE("an existing pair is kept and not regenerated") {
  test::TempDir dir;
  auto first = daemon::ensure_self_signed(dir.dir(), "localhost");
  REQUIRE(first.ok());
  auto second = daemon::ensure_self_signed(dir.dir(), "localhost");
  REQUIRE(second.ok());
  CHECK_FALSE(second->generated);
  CHECK(second->cert == first->cert);
}

TEST_CASE("an IP address domain gets an IP subjectAltName") {
  test::TempDir dir;
  auto files = daemon::ensure_self_signed(dir.dir(), "127.0.0.1");
  REQUIRE(files.ok());
  X509* cert = read_cert(files->cert);
  REQUIRE(cert);
  CHECK(X509_check_ip_asc(cert, "127.0.0.1", 0) == 1);
  X509_free(cert);
}

TEST_CASE("a certificate that does not match its key is refused") {
  test::TempDir dir;
  auto a = daemon::ensure_self_signed(dir.file("a"), "localhost");
  auto b = daemon::ensure_self_signed(dir.file("b"), "localhost");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto ctx = daemon::make_server_tls(daemon::TlsFiles{a->cert, b->key, false});
  CHECK_FALSE(ctx.ok());
  auto missing = daemon::make_server_tls(daemon::TlsFiles{dir.file("none.pem"), b->key, false});
  CHECK_FALSE(missing.ok());
}

TEST_CASE("TLS 1.3 picks ChaCha20-Poly1305 even when the client lists AES-GCM first") {
  test::TempDir dir;
  auto files = daemon::ensure_self_signed(dir.dir(), "localhost");
  REQUIRE(files.ok());
  auto server_ctx = daemon::make_server_tls(files.value());
  REQUIRE(server_ctx.ok());
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(cctx);
  // OpenSSL's default client order, spelled out: AES-256-GCM first.
  REQUIRE(SSL_CTX_set_ciphersuites(cctx, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256") == 1);
  SSL* client = SSL_new(cctx);
  SSL* server = SSL_new(server_ctx.value()->native_handle());
  BIO *cb = nullptr, *sb = nullptr;
  REQUIRE(BIO_new_bio_pair(&cb, 0, &sb, 0) == 1);
  SSL_set_bio(client, cb, cb);
  SSL_set_bio(server, sb, sb);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  int rc_client = 0, rc_server = 0;
  for (int i = 0; i < 10 && (rc_client != 1 || rc_server != 1); ++i) {
    if (rc_client != 1) rc_client = SSL_do_handshake(client);
    if (rc_server != 1) rc_server = SSL_do_handshake(server);
  }
  CHECK(rc_client == 1);
  CHECK(rc_server == 1);
  CHECK(std::string(SSL_get_version(server)) == "TLSv1.3");
  CHECK(std::string(SSL_CIPHER_get_name(SSL_get_current_cipher(server))) == "TLS_CHACHA20_POLY1305_SHA256");
  SSL_free(client);
  SSL_free(server);
  SSL_CTX_free(cctx);
}

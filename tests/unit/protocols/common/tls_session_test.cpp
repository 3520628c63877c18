// TlsSession (protocols/common/tls_session.hpp) over memory: a client and a server session
// handshake by passing their records to each other, with no socket.
#include "protocols/common/tls_session.hpp"

#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "daemon/tls.hpp"
#include "unit/fakes/temp_dir.hpp"

using namespace parley;
using protocols::TlsSession;

namespace {

struct ClientCtx {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ClientCtx() { SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr); }
  ~ClientCtx() { SSL_CTX_free(ctx); }
};

// A client and a server session, handshaken; `to_client` holds what the server sent after
// the handshake (TLS 1.3 session tickets), for the client's first read.
struct Pair {
  TlsSession server, client;
  std::string to_client;

  Pair(SSL_CTX* server_ctx, SSL_CTX* client_ctx)
      : server(server_ctx), client(client_ctx, "localhost", false) {
    std::string to_server;
    auto cst = TlsSession::Status::want_read, sst = TlsSession::Status::want_read;
    for (int round = 0; round < 10 && !(cst == TlsSession::Status::done && sst == TlsSession::Status::done);
         ++round) {
      if (cst != TlsSession::Status::done) {
        std::string_view in(to_client);
        cst = client.handshake(in, to_server);
        to_client.erase(0, to_client.size() - in.size());
      }
      if (sst != TlsSession::Status::done) {
        std::string_view in(to_server);
        std::string out;
        sst = server.handshake(in, out);
        to_server.erase(0, to_server.size() - in.size());
        to_client += out;
      }
    }
    REQUIRE(cst == TlsSession::Status::done);
    REQUIRE(sst == TlsSession::Status::done);
  }
};

}  // namespace

TEST_CASE("tls session: a read inside another session's read leaves the outer plaintext intact") {
  // The gateway's witness reads a follower's socket while its leader's lines are being
  // handled (shared_reads.hpp); both are TLS on one thread. The inner read used to decrypt
  // into the buffer the outer lines still lay in: the leader then handled the follower's
  // lines as its own (its user saw its own messages twice).
  test::TempDir dir;
  REQUIRE(dir.ok());
  auto files = daemon::ensure_self_signed(dir.dir(), "localhost");
  REQUIRE(files.ok());
  auto server_ctx = daemon::make_server_tls(files.value());
  REQUIRE(server_ctx.ok());
  ClientCtx client_ctx;
  Pair leader(server_ctx.value()->native_handle(), client_ctx.ctx);
  Pair follower(server_ctx.value()->native_handle(), client_ctx.ctx);

  const std::string a(300, 'a'), b(300, 'b');
  std::string leader_in = leader.to_client, follower_in = follower.to_client;
  REQUIRE(leader.server.write(a, leader_in));
  REQUIRE(follower.server.write(b, follower_in));

  std::string got_a, got_b, unused;
  std::string_view lin(leader_in);
  const auto st = leader.client.read(lin, unused, [&](const char* p, std::size_t n) {
    got_a.append(p, n / 2);
    std::string_view fin(follower_in);
    follower.client.read(fin, unused, [&](const char* q, std::size_t k) {
      got_b.append(q, k);
      return true;
    });
    got_a.append(p + n / 2, n - n / 2);  // the rest of what the outer read was handed
    return true;
  });
  CHECK(st == TlsSession::Status::want_read);
  CHECK(got_b == b);
  CHECK(got_a == a);

  // And the outer buffer is the outer's again afterwards: a later read nests nothing.
  std::string more_in;
  REQUIRE(leader.server.write("line\r\n", more_in));
  std::string got;
  std::string_view min(more_in);
  leader.client.read(min, unused, [&](const char* p, std::size_t n) {
    got.append(p, n);
    return true;
  });
  CHECK(got == "line\r\n");
}

// The outbound connector (protocols/common/connector.hpp) and Reconnector against real
// loopback peers: a TLS server with a generated self-signed certificate, a refused port, a
// listener whose backlog is full (SYNs dropped: a deterministic loopback blackhole), and a
// name in the reserved .invalid TLD (RFC 6761 §6.4: never resolves).
#include "protocols/common/connector.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/tls.hpp"
#include "protocols/common/reconnector.hpp"
#include "unit/fakes/run_until.hpp"
#include "unit/fakes/temp_dir.hpp"

using namespace parley;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using protocols::ConnectError;
using protocols::tcp;
using test::run_until;

namespace {

// A TLS server on 127.0.0.1: sends "hello\n", then answers one line "x\n" with "echo:x\n".
struct TlsServer {
  asio::io_context& io;
  std::shared_ptr<asio::ssl::context> ctx;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::vector<std::shared_ptr<asio::ssl::stream<tcp::socket>>> streams;
  int accepted = 0;
  int handshakes = 0;

  TlsServer(asio::io_context& io_, std::shared_ptr<asio::ssl::context> c) : io(io_), ctx(std::move(c)) {
    accept();
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++accepted;
      auto st = std::make_shared<asio::ssl::stream<tcp::socket>>(std::move(s), *ctx);
      streams.push_back(st);
      st->async_handshake(asio::ssl::stream_base::server, [this, st](boost::system::error_code hec) {
        if (hec) return;
        ++handshakes;
        asio::async_write(
            *st, asio::buffer(std::string_view("hello\n")), [st](boost::system::error_code, std::size_t) {
              auto buf = std::make_shared<asio::streambuf>();
              asio::async_read_until(*st, *buf, '\n', [st, buf](boost::system::error_code rec, std::size_t) {
                if (rec) return;
                std::istream is(buf.get());
                std::string line;
                std::getline(is, line);
                auto reply = std::make_shared<std::string>("echo:" + line + "\n");
                asio::async_write(*st, asio::buffer(*reply),
                                  [st, reply](boost::system::error_code, std::size_t) {});
              });
            });
      });
      accept();
    });
  }
};

struct Fixture {
  test::TempDir dir;
  daemon::TlsFiles files;
  asio::io_context io;
  protocols::Strand strand = asio::make_strand(io);
  std::shared_ptr<asio::ssl::context> server_ctx;

  Fixture() {
    auto f = daemon::ensure_self_signed(dir.dir(), "localhost");
    REQUIRE_MESSAGE(f.ok(), f.error().text);
    files = f.value();
    auto c = daemon::make_server_tls(files);
    REQUIRE(c.ok());
    server_ctx = c.value();
  }

  protocols::ConnectResult connect(const std::string& host, std::uint16_t port, protocols::ConnectOptions o) {
    std::optional<protocols::ConnectResult> out;
    protocols::connect(strand, host, port, std::move(o),
                       [&](protocols::ConnectResult r) { out = std::move(r); });
    REQUIRE(run_until(
        io, [&] { return out.has_value(); }, 10'000ms));
    return std::move(*out);
  }

  protocols::ConnectOptions tls_options() const {
    protocols::ConnectOptions o;
    o.tls = true;
    o.server_name = "localhost";
    o.ca_file = files.cert;
    o.attempt_timeout = 2000ms;
    o.overall_timeout = 5000ms;
    return o;
  }
};

std::string file_sha256(const std::string& pem_path) {
  std::FILE* f = std::fopen(pem_path.c_str(), "r");
  REQUIRE(f);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(x);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(x, EVP_sha256(), md, &n);
  X509_free(x);
  std::ostringstream os;
  for (unsigned i = 0; i < n; ++i) {
    char b[4];
    std::snprintf(b, sizeof b, "%02X:", md[i]);
    os << b;
  }
  std::string s = os.str();
  s.pop_back();
  return s;  // upper case with colons, as `openssl x509 -fingerprint -sha256` prints it
}

class LineClient : public protocols::Connection {
 public:
  using Connection::Connection;
  std::string got;
  std::string closed_reason;
  bool closed_flag = false;

 protected:
  std::size_t on_data(std::string_view d) override {
    got.append(d);
    if (got == "hello\n") send("ping\n");
    return d.size();
  }
  void on_close(std::string_view reason) override {
    closed_flag = true;
    closed_reason = reason;
  }
};

// A loopback port nothing listens on.
std::uint16_t closed_port(asio::io_context& io) {
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto p = a.local_endpoint().port();
  a.close();
  return p;
}

// A listener whose accept queue is full: Linux drops further SYNs (net/ipv4/tcp_input.c,
// tcp_conn_request: "sk_acceptq_is_full"), so a connect to it hangs until its timeout.
struct Blackhole {
  tcp::acceptor acceptor;
  std::vector<tcp::socket> fillers;
  explicit Blackhole(asio::io_context& io) : acceptor(io) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(ep.protocol());
    acceptor.bind(ep);
    acceptor.listen(0);  // backlog 0: one queued connection fills it
    fillers.emplace_back(io);
    fillers.back().connect(acceptor.local_endpoint());
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
};

}  // namespace

TEST_CASE("TLS connect verifies against the configured CA and hands a working stream to a Connection") {
  Fixture fx;
  TlsServer server(fx.io, fx.server_ctx);
  auto r = fx.connect("127.0.0.1", server.port(), fx.tls_options());
  REQUIRE_MESSAGE(r.ok(), r.error.reason);
  CHECK(r.stream->tls.valid());
  CHECK(r.stream->peer.port() == server.port());
  CHECK(protocols::normalize_fingerprint(file_sha256(fx.files.cert)) == r.stream->fingerprint);

  // The stream becomes a bounded Connection on the same strand; bytes flow both ways.
  std::shared_ptr<LineClient> c;
  asio::post(fx.strand, [&] {
    c = std::make_shared<LineClient>(std::move(r.stream->socket), std::move(r.stream->tls),
                                     std::move(r.stream->pending), protocols::Connection::Limits{});
    c->start();
  });
  CHECK(run_until(fx.io, [&] { return c && c->got == "hello\necho:ping\n"; }));
  CHECK_FALSE(c->closed_flag);
  asio::post(fx.strand, [&] { c->close("done"); });
  run_until(fx.io, [&] { return c->closed_flag; });
}

TEST_CASE("TLS connect against the system CAs fails on a self-signed server with OpenSSL's reason") {
  Fixture fx;
  TlsServer server(fx.io, fx.server_ctx);
  auto o = fx.tls_options();
  o.ca_file.clear();
  auto r = fx.connect("127.0.0.1", server.port(), o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error.kind == ConnectError::Kind::tls_verify);
  CHECK_MESSAGE(r.error.reason.find("self-signed certificate") != std::string::npos, r.error.reason);
  CHECK(server.handshakes == 0);
}

TEST_CASE("TLS connect refuses a trusted certificate for another name") {
  Fixture fx;
  TlsServer server(fx.io, fx.server_ctx);
  auto o = fx.tls_options();
  o.server_name = "irc.example.org";
  auto r = fx.connect("127.0.0.1", server.port(), o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error.kind == ConnectError::Kind::tls_verify);
  CHECK_MESSAGE(r.error.reason.find("hostname mismatch") != std::string::npos, r.error.reason);
}

TEST_CASE("fingerprint pinning: a match connects without CA verification, a mismatch fails") {
  Fixture fx;
  TlsServer server(fx.io, fx.server_ctx);
  auto o = fx.tls_options();
  o.verify = false;
  o.ca_file.clear();
  o.fingerprint = file_sha256(fx.files.cert);
  auto ok = fx.connect("127.0.0.1", server.port(), o);
  CHECK_MESSAGE(ok.ok(), ok.error.reason);

  std::string wrong = protocols::normalize_fingerprint(o.fingerprint);
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  o.fingerprint = wrong;
  auto bad = fx.connect("127.0.0.1", server.port(), o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error.kind == ConnectError::Kind::pin_mismatch);
  CHECK(bad.error.reason.find("pinned") != std::string::npos);

  // Pinned and verified: both must hold (verify on, system CAs: the chain check fails).
  o.verify = true;
  o.fingerprint = file_sha256(fx.files.cert);
  auto both = fx.connect("127.0.0.1", server.port(), o);
  CHECK(both.error.kind == ConnectError::Kind::tls_verify);

  o.fingerprint = "not-hex";
  auto invalid = fx.connect("127.0.0.1", server.port(), o);
  CHECK(invalid.error.kind == ConnectError::Kind::invalid);
}

TEST_CASE("plain connect, a refused port, and an unresolvable name") {
  Fixture fx;
  tcp::acceptor open_port(fx.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  protocols::ConnectOptions o;
  auto ok = fx.connect("127.0.0.1", open_port.local_endpoint().port(), o);
  CHECK(ok.ok());
  CHECK_FALSE(ok.stream->tls.valid());

  auto refused = fx.connect("127.0.0.1", closed_port(fx.io), o);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error.kind == ConnectError::Kind::refused);
  CHECK(refused.error.reason.find("127.0.0.1:") == 0);

  auto unresolved = fx.connect("nonexistent.invalid", 6667, o);
  REQUIRE_FALSE(unresolved.ok());
  CHECK(unresolved.error.kind == ConnectError::Kind::resolve);
  CHECK(unresolved.error.reason.find("nonexistent.invalid") == 0);
}

TEST_CASE("connect timeouts: per attempt and overall, against a full backlog") {
  Fixture fx;
  Blackhole hole(fx.io);
  protocols::ConnectOptions o;
  o.attempt_timeout = 150ms;
  o.overall_timeout = 5000ms;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = fx.connect("127.0.0.1", hole.port(), o);
  const auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(r.ok());
  CHECK(r.error.kind == ConnectError::Kind::timeout);
  CHECK_MESSAGE(r.error.reason.find("connect timed out after 150 ms") != std::string::npos, r.error.reason);
  CHECK(took >= 140ms);
  CHECK(took < 3000ms);

  o.attempt_timeout = 5000ms;
  o.overall_timeout = 150ms;
  auto overall = fx.connect("127.0.0.1", hole.port(), o);
  CHECK(overall.error.kind == ConnectError::Kind::timeout);
  CHECK(overall.error.reason.find("no connection within 150 ms") != std::string::npos);

  o.attempt_timeout = 0ms;
  CHECK(fx.connect("127.0.0.1", hole.port(), o).error.kind == ConnectError::Kind::invalid);
}

TEST_CASE("a TLS handshake to a server that never answers ends at the overall deadline") {
  Fixture fx;
  tcp::acceptor silent(
      fx.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));  // accepts in the kernel, says nothing
  auto o = fx.tls_options();
  o.overall_timeout = 200ms;
  auto r = fx.connect("127.0.0.1", silent.local_endpoint().port(), o);
  CHECK(r.error.kind == ConnectError::Kind::timeout);
}

TEST_CASE("cancel ends a connect with Kind::cancelled, once") {
  Fixture fx;
  Blackhole hole(fx.io);
  protocols::ConnectOptions o;
  int calls = 0;
  ConnectError::Kind kind{};
  auto c = protocols::connect(fx.strand, "127.0.0.1", hole.port(), o, [&](protocols::ConnectResult r) {
    ++calls;
    kind = r.error.kind;
  });
  run_until(
      fx.io, [] { return false; }, 50ms);
  asio::post(fx.strand, [c] { c->cancel(); });
  REQUIRE(run_until(fx.io, [&] { return calls > 0; }));
  run_until(
      fx.io, [] { return false; }, 50ms);
  CHECK(calls == 1);
  CHECK(kind == ConnectError::Kind::cancelled);
}

TEST_CASE("Reconnector: failures back off within the policy and give up after max_failures") {
  Fixture fx;
  protocols::BackoffPolicy p;
  p.min = 20ms;
  p.max = 60ms;
  p.factor = 2.0;
  p.max_failures = 4;
  std::vector<std::optional<std::chrono::milliseconds>> retries;
  std::vector<std::chrono::steady_clock::time_point> at;
  auto r = protocols::Reconnector::make(
      fx.strand, "127.0.0.1", closed_port(fx.io), {}, p,
      {.on_connected = [](protocols::ConnectedStream) { FAIL("connected to a closed port"); },
       .on_failed =
           [&](const ConnectError& e, std::optional<std::chrono::milliseconds> retry) {
             CHECK(e.kind == ConnectError::Kind::refused);
             retries.push_back(retry);
             at.push_back(std::chrono::steady_clock::now());
           }},
      42);
  asio::post(fx.strand, [r] { r->start(); });
  REQUIRE(run_until(fx.io, [&] { return retries.size() == 4; }));
  CHECK(retries[0] >= 20ms);
  CHECK(retries[0] <= 20ms);  // the first ceiling is min
  CHECK(*retries[1] <= 40ms);
  CHECK(*retries[2] <= 60ms);
  CHECK_FALSE(retries[3].has_value());
  for (std::size_t i = 1; i < at.size(); ++i) CHECK(at[i] - at[i - 1] >= *retries[i - 1]);
  CHECK(r->state() == protocols::Reconnector::State::stopped);
}

TEST_CASE("Reconnector: reconnects after a lost connection and stop() ends a pending wait") {
  Fixture fx;
  tcp::acceptor server(fx.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  protocols::BackoffPolicy p;
  p.min = 10ms;
  p.max = 20ms;
  int connected = 0;
  int failed = 0;
  std::shared_ptr<protocols::Reconnector> r = protocols::Reconnector::make(
      fx.strand, "127.0.0.1", server.local_endpoint().port(), {}, p,
      {.on_connected = [&](protocols::ConnectedStream) { ++connected; },
       .on_failed = [&](const ConnectError&, std::optional<std::chrono::milliseconds>) { ++failed; }},
      7);
  asio::post(fx.strand, [r] { r->start(); });
  REQUIRE(run_until(fx.io, [&] { return connected == 1; }));
  asio::post(fx.strand, [r] { r->connection_lost(); });
  REQUIRE(run_until(fx.io, [&] { return connected == 2; }));
  asio::post(fx.strand, [r] {
    r->connection_lost();
    r->stop();  // while waiting: the timer is cancelled, nothing more happens
  });
  run_until(
      fx.io, [] { return false; }, 100ms);
  CHECK(connected == 2);
  CHECK(failed == 0);
  CHECK(r->state() == protocols::Reconnector::State::stopped);
}

TEST_CASE("public_only: loopback is refused before any connect, by literal and by name") {
  Fixture fx;
  tcp::acceptor open_port(fx.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  protocols::ConnectOptions o;
  o.public_only = true;
  for (const char* host : {"127.0.0.1", "localhost"}) {
    auto r = fx.connect(host, open_port.local_endpoint().port(), o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error.kind == ConnectError::Kind::forbidden);
    CHECK(r.error.reason.find("not a public address") != std::string::npos);
  }
  // Nothing reached the listener: the refusal comes before the TCP handshake.
  open_port.non_blocking(true);
  boost::system::error_code ec;
  tcp::socket s(fx.io);
  open_port.accept(s, ec);
  CHECK(ec == asio::error::would_block);
  o.public_only = false;
  CHECK(fx.connect("127.0.0.1", open_port.local_endpoint().port(), o).ok());
}

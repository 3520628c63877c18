// The exception firewall of C2sConnection::post_core / to_core: a core task that throws ends
// only its own stream, with <internal-server-error/> (RFC 6120 §4.9.3.8), and the io thread
// and the other streams go on. Real loopback sockets, no TLS: the connections are driven
// only through post_core, never through input.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "adapters/xmpp/c2s_connection.hpp"
#include "unit/core/fixture.hpp"

using namespace parley::adapters::xmpp;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct C2sFixture : parley::test::CoreFixture {
  asio::io_context io;
  parley::adapters::Runtime rt{io, asio::make_strand(io), *core, nullptr};
  Context ctx{rt, Domains{"localhost", "conference.localhost"}, px::FramerLimits{}};
  tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};

  // A started C2sConnection and the client end of its socket.
  std::pair<std::shared_ptr<C2sConnection>, tcp::socket> connect() {
    tcp::socket client(io);
    client.connect(acceptor.local_endpoint());
    parley::protocols::Socket server(asio::make_strand(io));
    acceptor.accept(server);
    auto c = std::make_shared<C2sConnection>(std::move(server), nullptr, ctx);
    c->start();
    return {std::move(c), std::move(client)};
  }

  void run(std::chrono::milliseconds d = std::chrono::milliseconds(300)) {
    io.restart();
    io.run_for(d);
  }
};

// Everything the server sent until it closed the connection.
std::string read_to_eof(tcp::socket& s) {
  std::string out;
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(out), ec);
  return out;
}

}  // namespace

TEST_CASE_FIXTURE(C2sFixture,
                  "c2s: a core task that throws ends only its stream with internal-server-error") {
  auto [bad, bad_client] = connect();
  auto [good, good_client] = connect();
  bool ran_after = false;
  bad->to_core("test: throws", [] { throw std::runtime_error("boom"); });
  good->post_core("test: fine", [&] { ran_after = true; });
  run();
  CHECK(ran_after);        // the core strand went on after the throw
  REQUIRE(bad->closed());  // (else read_to_eof would wait forever)
  const std::string out = read_to_eof(bad_client);
  CHECK(out.find("<stream:error><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                 "</stream:error></stream:stream>") != std::string::npos);
  CHECK(out.rfind("<?xml version='1.0'?><stream:stream ", 0) == 0);  // the header came first
  // The other stream is untouched: open, and nothing was sent to it.
  CHECK_FALSE(good->closed());
  CHECK(good_client.available() == 0);
  // A task that does not throw ends nothing.
  good->to_core("test: fine again", [] {});
  run();
  CHECK_FALSE(good->closed());
  CHECK(good_client.available() == 0);
}

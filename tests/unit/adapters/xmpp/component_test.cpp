// adapters/xmpp/component.hpp against a loopback XEP-0114 server played by the test (a
// thread with a blocking socket): a stanza whose handling throws is answered with an error
// and the stream stays attached for everyone else's stanzas.
#include "adapters/xmpp/component.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters/xmpp/component_stream.hpp"
#include "unit/fakes/run_until.hpp"

using namespace parley;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using protocols::tcp;
using test::run_until;
namespace px = protocols::xmpp;

namespace {

// Takes the stanzas addressed to it; throws on a body "boom".
struct Client : adapters::xmpp::ComponentClient {
  std::vector<std::string> ids;
  bool attached = false;
  bool on_component_stanza(px::Stanza& s, const px::Jid&) override {
    if (std::string_view(s.child("body").child_value()) == "boom")
      throw std::runtime_error("boom in a client");
    ids.emplace_back(s.attr("id"));
    return true;
  }
  void on_component_attached(bool a) override { attached = a; }
};

// The XMPP server's side of one component stream: its header, the handshake, `stanzas`; then
// it reads what the component writes until `until` shows up (or 5 s pass).
struct FakeServer {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::string received;
  std::atomic<bool> done{false};     // `until` came (or the wait ended)
  std::atomic<bool> release{false};  // the test looked: the stream may close
  std::thread thread;

  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  void run(std::string secret, std::string stanzas, std::string until) {
    thread = std::thread(
        [this, secret = std::move(secret), stanzas = std::move(stanzas), until = std::move(until)] {
          try {
            tcp::socket s(io);
            acceptor.accept(s);
            s.non_blocking(false);
            const auto read_until = [&](std::string_view what) {
              const auto end = std::chrono::steady_clock::now() + 5s;
              char buf[4096];
              while (received.find(what) == std::string::npos && std::chrono::steady_clock::now() < end) {
                boost::system::error_code ec;
                const std::size_t n = s.read_some(asio::buffer(buf), ec);
                if (ec) return;
                received.append(buf, n);
              }
            };
            read_until("jabber:component:accept");
            read_until(">");
            asio::write(
                s, asio::buffer(std::string(
                       "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                       "xmlns='jabber:component:accept' from='comp.test' id='s1'>")));
            read_until("</handshake>");
            CHECK(received.find(adapters::xmpp::component_handshake("s1", secret)) != std::string::npos);
            asio::write(s, asio::buffer(std::string("<handshake/>") + stanzas));
            read_until(until);
            done = true;
            const auto end = std::chrono::steady_clock::now() + 5s;
            while (!release && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(5ms);
          } catch (const std::exception&) {
          }
          done = true;
        });
  }
  ~FakeServer() {
    release = true;
    if (thread.joinable()) thread.join();
  }
};

}  // namespace

TEST_CASE("Component: a stanza that throws is answered with internal-server-error, and the stream stays") {
  FakeServer server;
  server.run(
      "sekrit",
      "<message from='a@example.org/r' to='bot@comp.test' id='m1'><body>boom</body></message>"
      "<message from='a@example.org/r' to='bot@comp.test' id='m2' type='error'><body>boom</body></message>"
      "<iq from='a@example.org/r' to='bot@comp.test' id='i1' type='result'><body>boom</body></iq>"
      "<message from='b@example.org/r' to='bot@comp.test' id='m3'><body>fine</body></message>",
      "id='m1'");
  asio::io_context io;
  adapters::xmpp::ComponentOptions o;
  o.domain = "comp.test";
  o.host = "127.0.0.1";
  o.port = server.port();
  o.secret = "sekrit";
  auto component = std::make_shared<adapters::xmpp::Component>(protocols::Lane::direct(io), o);
  Client client;
  component->add_client(&client);
  component->start(nullptr);
  REQUIRE(run_until(io, [&] { return client.ids.size() == 1; }));
  CHECK(client.ids == std::vector<std::string>{"m3"});  // the next stanza, after three that threw
  REQUIRE(run_until(io, [&] { return server.done.load(); }));
  CHECK(component->attached());
  CHECK(client.attached);
  // One error, to the sender of m1: none to an error or a result (RFC 6120 §8.3.1).
  const std::string& r = server.received;
  const auto at = r.find("id='m1'");
  REQUIRE(at != std::string::npos);
  const auto start = r.rfind("<message", at);
  CHECK(r.substr(start, r.find("</message>", at) - start).find("type='error'") != std::string::npos);
  CHECK(r.find("to='a@example.org/r'", start) != std::string::npos);
  CHECK(r.find("<internal-server-error", start) != std::string::npos);
  CHECK(r.find("id='m2'") == std::string::npos);
  CHECK(r.find("id='i1'") == std::string::npos);
  server.release = true;
  component->stop();
  io.restart();
  io.run_for(50ms);
}

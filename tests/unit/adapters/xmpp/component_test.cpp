// adapters/xmpp/component.hpp against a loopback XEP-0114 server played by the test (a
// thread with a blocking socket): a stanza whose handling throws is logged and the stream
// stays attached for everyone else's stanzas; the answer the gateway's would get
// (failure_reply) is tested in errors_test.cpp, and here that an iq gets it only if the
// gateway had not answered before it threw (RFC 6120 §8.2.3).
#include "adapters/xmpp/component.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters/gateway/gateway.hpp"
#include "adapters/xmpp/component_stream.hpp"
#include "unit/fakes/run_until.hpp"

using namespace parley;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using protocols::tcp;
using test::run_until;
namespace px = protocols::xmpp;

namespace {

// Takes the stanzas addressed to it; throws on a body "boom"; answers "fine" with a message
// "done" (written after anything the component wrote for the stanzas before it).
struct Client : adapters::xmpp::ComponentClient {
  adapters::xmpp::Component* component = nullptr;
  std::vector<std::string> ids;
  bool attached = false;
  bool on_component_stanza(px::Stanza& s, const px::Jid&) override {
    const std::string_view body = s.child("body").child_value();
    if (body == "boom") throw std::runtime_error("boom in a client");
    ids.emplace_back(s.attr("id"));
    if (body == "fine") component->send("<message from='bot@comp.test' to='b@example.org/r' id='done'/>");
    return true;
  }
  void on_component_attached(bool a) override { attached = a; }
};

// The XMPP server's side of one component stream: its header, the handshake, `stanzas`; then
// it reads what the component writes until `until` shows up (5 s at most per wait: a
// component that never comes or never writes fails the test instead of hanging it).
struct FakeServer {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::string received;              // written by the thread until `done`, read after it
  std::atomic<bool> done{false};     // `until` came (or a wait ended)
  std::atomic<bool> release{false};  // the test looked: the stream may close
  std::thread thread;

  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  void serve(const std::string& secret, const std::string& stanzas, const std::string& until) {
    tcp::socket s(io);
    acceptor.non_blocking(true);
    const auto accept_end = std::chrono::steady_clock::now() + 5s;
    boost::system::error_code ec;
    while (acceptor.accept(s, ec), ec && std::chrono::steady_clock::now() < accept_end)
      std::this_thread::sleep_for(5ms);
    if (ec) return;
    s.non_blocking(false);
    const timeval tv{.tv_sec = 0, .tv_usec = 200'000};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const auto read_until = [&](std::string_view what) {
      const auto end = std::chrono::steady_clock::now() + 5s;
      char buf[4096];
      while (received.find(what) == std::string::npos && std::chrono::steady_clock::now() < end) {
        const std::size_t n = s.read_some(asio::buffer(buf), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) continue;  // SO_RCVTIMEO
        if (ec) return false;
        received.append(buf, n);
      }
      return received.find(what) != std::string::npos;
    };
    if (!read_until("jabber:component:accept") || !read_until(">")) return;
    asio::write(s,
                asio::buffer(std::string("<?xml version='1.0'?><stream:stream "
                                         "xmlns:stream='http://etherx.jabber.org/streams' "
                                         "xmlns='jabber:component:accept' from='comp.test' id='s1'>")),
                ec);
    if (!read_until("</handshake>")) return;
    CHECK(received.find(adapters::xmpp::component_handshake("s1", secret)) != std::string::npos);
    asio::write(s, asio::buffer(std::string("<handshake/>") + stanzas), ec);
    read_until(until);
    done = true;
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (!release && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(5ms);
  }

  void run(std::string secret, std::string stanzas, std::string until) {
    thread = std::thread(
        [this, secret = std::move(secret), stanzas = std::move(stanzas), until = std::move(until)] {
          serve(secret, stanzas, until);
          done = true;
        });
  }
  ~FakeServer() {
    release = true;
    if (thread.joinable()) thread.join();
  }
};

// The component of domain comp.test, secret "sekrit", attaching to `server`.
adapters::xmpp::ComponentOptions options(const FakeServer& server) {
  adapters::xmpp::ComponentOptions o;
  o.domain = "comp.test";
  o.host = "127.0.0.1";
  o.port = server.port();
  o.secret = "sekrit";
  return o;
}

}  // namespace

TEST_CASE("Component: a stanza that throws is logged and the stream stays up for the next ones") {
  FakeServer server;
  server.run("sekrit",
             "<message from='a@example.org/r' to='bot@comp.test' id='m1'><body>boom</body></message>"
             "<presence from='a@example.org/r' to='bot@comp.test/x' id='p1'><body>boom</body></presence>"
             "<iq from='a@example.org/r' to='bot@comp.test' id='i1' type='get'><body>boom</body></iq>"
             "<message from='b@example.org/r' to='bot@comp.test' id='m3'><body>fine</body></message>",
             "id='done'");
  asio::io_context io;
  auto component = std::make_shared<adapters::xmpp::Component>(protocols::Lane::direct(io), options(server));
  Client client;
  client.component = component.get();
  component->add_client(&client);
  component->start(nullptr);
  REQUIRE(run_until(io, [&] { return server.done.load(); }));
  CHECK(client.ids == std::vector<std::string>{"m3"});  // the next stanza, after three that threw
  CHECK(component->attached());
  CHECK(client.attached);
  const std::string& r = server.received;
  CHECK(r.find("id='done'") != std::string::npos);
  // A client's stanzas are a bridge's MUC traffic: no error from its occupant (a MUC kicks an
  // occupant for one), whatever their kind.
  CHECK(r.find("type='error'") == std::string::npos);
  CHECK(r.find("internal-server-error") == std::string::npos);
  server.release = true;
  component->stop();
  io.restart();
  io.run_for(50ms);
}

TEST_CASE("Component: an iq the gateway answered before it threw gets no second answer") {
  FakeServer server;
  // i1: the gateway answers (disco#info), then its output throws; i2: its output throws before
  // anything is sent; i3: answered as usual, the end of the test's traffic.
  const std::string disco = "<query xmlns='http://jabber.org/protocol/disco#info'/>";
  server.run("sekrit",
             "<iq from='a@example.org/r' to='comp.test' id='i1' type='get'>" + disco +
                 "</iq>"
                 "<iq from='a@example.org/r' to='comp.test' id='i2' type='get'>" +
                 disco +
                 "</iq>"
                 "<iq from='a@example.org/r' to='comp.test' id='i3' type='get'>" +
                 disco + "</iq>",
             "id='i3'");
  asio::io_context io;
  const auto strand = protocols::Lane::direct(io);
  auto component = std::make_shared<adapters::xmpp::Component>(strand, options(server));
  adapters::gateway::GatewayOptions g;
  g.domain = "comp.test";
  auto out = component->output();
  adapters::gateway::Gateway gateway(strand, g, [&](std::string_view to, std::string xml) {
    const bool first = xml.find("id='i1'") != std::string::npos,
               second = xml.find("id='i2'") != std::string::npos;
    if (second) throw std::runtime_error("the output failed before the answer");
    out(to, xml);
    if (first) throw std::runtime_error("the output failed after the answer");
  });
  component->start(&gateway);
  REQUIRE(run_until(io, [&] { return server.done.load(); }));
  const std::string& r = server.received;
  const auto count = [&](std::string_view what) {
    std::size_t n = 0;
    for (auto at = r.find(what); at != std::string::npos; at = r.find(what, at + 1)) ++n;
    return n;
  };
  // i1: the gateway's result, and nothing from the firewall
  CHECK(count("id='i1'") == 1);
  CHECK(r.find("<iq type='result' from='comp.test' to='a@example.org/r' id='i1'") != std::string::npos);
  // i2: the firewall's error, once
  CHECK(count("id='i2'") == 1);
  const auto i2 = r.find("id='i2'");
  REQUIRE(i2 != std::string::npos);
  CHECK(r.find("internal-server-error", i2) != std::string::npos);
  const auto i2_start = r.rfind("<iq", i2);
  REQUIRE(i2_start != std::string::npos);
  CHECK(r.substr(i2_start, r.find('>', i2) - i2_start).find("type='error'") != std::string::npos);
  CHECK(count("internal-server-error") == 1);
  CHECK(count("id='i3'") == 1);
  CHECK(component->attached());
  server.release = true;
  component->stop();
  io.restart();
  io.run_for(50ms);
}

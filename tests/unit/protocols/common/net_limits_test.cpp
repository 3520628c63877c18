// protocols/common/net: the bounds every listener and connection apply whatever the
// protocol — per-address admission at accept, handshake/authentication deadlines, the
// close-flush deadline, and the exception firewall of one connection.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "protocols/common/net.hpp"

using namespace parley::protocols;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// Lines in, upper-cased lines out. "BIG" queues 16 MiB then closes after flushing; "THROW"
// throws from on_data; "LOGIN" clears the handshake deadline.
class Probe : public Connection {
 public:
  using Connection::Connection;
  std::mutex mu;
  std::string closed_reason;

 protected:
  std::size_t on_data(std::string_view d) override {
    std::size_t used = 0;
    while (true) {
      auto nl = d.find('\n', used);
      if (nl == std::string_view::npos) return used;
      std::string line(d.substr(used, nl - used));
      used = nl + 1;
      if (line == "THROW") throw std::runtime_error("boom");
      if (line == "LOGIN") {
        clear_deadline();
        send("OK\n");
        continue;
      }
      if (line == "BIG") {
        send(std::string(16 << 20, 'x'));
        close_after_flush("big");
        return used;
      }
      for (auto& c : line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      send(line + "\n");
    }
  }
  void on_close(std::string_view reason) override {
    std::lock_guard lock(mu);
    closed_reason = std::string(reason);
  }
};

struct Server {
  asio::io_context io;
  ConnectionManager manager;
  Connection::Limits limits;
  std::mutex mu;
  std::vector<std::shared_ptr<Probe>> conns;
  std::unique_ptr<Listener> listener;
  std::thread thread;
  std::atomic<int> refused{0};

  explicit Server(Connection::Limits l, std::shared_ptr<AddressLimiter> limiter = nullptr) : limits(l) {
    listener = std::make_unique<Listener>(io, ListenAddress{Transport::tcp, "127.0.0.1", 0},
                                          [this](Socket s, bool, Admission admission) {
                                            auto c = std::make_shared<Probe>(std::move(s), nullptr, limits);
                                            c->keep_admission(std::move(admission));
                                            {
                                              std::lock_guard lock(mu);
                                              conns.push_back(c);
                                            }
                                            manager.add(c);
                                            c->start();
                                          });
    if (limiter)
      listener->set_limiter(limiter, [](AddressLimiter::Verdict v) -> std::string {
        return v == AddressLimiter::Verdict::too_many ? "FULL\n" : "SLOW\n";
      });
    listener->set_notify([this](Listener::Event e, std::string_view) {
      if (e == Listener::Event::refused) ++refused;
    });
    REQUIRE_FALSE(listener->open());
    listener->start();
    thread = std::thread([this] { io.run_for(30s); });
  }
  ~Server() {
    listener->stop();
    io.stop();
    thread.join();
  }
  std::uint16_t port() const { return listener->local_endpoint().port(); }
  // The close reason of the i-th accepted connection, once it has one (on_close runs just
  // after the socket is closed, so the peer may see the close first).
  std::string reason(std::size_t i) {
    for (int k = 0; k < 200; ++k) {
      {
        std::lock_guard lock(mu);
        if (i < conns.size()) {
          std::lock_guard l2(conns[i]->mu);
          if (!conns[i]->closed_reason.empty()) return conns[i]->closed_reason;
        }
      }
      std::this_thread::sleep_for(10ms);
    }
    return "?";
  }
  std::size_t accepted() {
    std::lock_guard lock(mu);
    return conns.size();
  }
  bool wait_empty(std::chrono::milliseconds max) {
    auto until = std::chrono::steady_clock::now() + max;
    while (manager.size() > 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
    return manager.size() == 0;
  }
};

tcp::socket dial(asio::io_context& io, std::uint16_t port) {
  tcp::socket c(io);
  c.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  return c;
}

std::string line_of(tcp::socket& c) {
  asio::streambuf buf;
  boost::system::error_code ec;
  asio::read_until(c, buf, "\n", ec);
  if (ec) return "<" + ec.message() + ">";
  std::string s(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
  return s.substr(0, s.find('\n'));
}

bool closed_by_peer(tcp::socket& c) {
  char b[64];
  boost::system::error_code ec;
  for (;;) {
    c.read_some(asio::buffer(b), ec);
    if (ec) return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
}

}  // namespace

TEST_CASE("net: per-address limit refuses the excess with the listener's text, admits again after a close") {
  AddressLimiter::Policy p;
  p.per_address = 2;
  p.rate = 0;
  Server srv({}, AddressLimiter::make(p));
  asio::io_context cio;
  auto a = dial(cio, srv.port());
  auto b = dial(cio, srv.port());
  asio::write(a, asio::buffer(std::string("hi\n")));
  CHECK(line_of(a) == "HI");
  asio::write(b, asio::buffer(std::string("hi\n")));
  CHECK(line_of(b) == "HI");
  auto c = dial(cio, srv.port());
  CHECK(line_of(c) == "FULL");
  CHECK(closed_by_peer(c));
  CHECK(srv.refused == 1);
  a.close();
  // The server notices the close and releases the count.
  std::string got;
  for (int i = 0; i < 100 && got != "HI"; ++i) {
    auto d = dial(cio, srv.port());
    asio::write(d, asio::buffer(std::string("hi\n")));
    got = line_of(d);
    if (got != "HI") std::this_thread::sleep_for(20ms);
  }
  CHECK(got == "HI");
}

TEST_CASE("net: connection rate limit per address") {
  AddressLimiter::Policy p;
  p.per_address = 0;
  p.rate = 1;
  p.burst = 3;
  Server srv({}, AddressLimiter::make(p));
  asio::io_context cio;
  for (int i = 0; i < 3; ++i) {
    auto s = dial(cio, srv.port());
    asio::write(s, asio::buffer(std::string("x\n")));
    CHECK(line_of(s) == "X");
  }
  auto s = dial(cio, srv.port());
  CHECK(line_of(s) == "SLOW");
  std::this_thread::sleep_for(1100ms);
  auto t = dial(cio, srv.port());
  asio::write(t, asio::buffer(std::string("y\n")));
  CHECK(line_of(t) == "Y");
}

TEST_CASE("net: handshake deadline closes a silent connection, a cleared one stays") {
  Connection::Limits l;
  l.handshake_timeout_ms = 300;
  Server srv(l);
  asio::io_context cio;
  auto silent = dial(cio, srv.port());
  auto good = dial(cio, srv.port());
  asio::write(good, asio::buffer(std::string("LOGIN\n")));
  CHECK(line_of(good) == "OK");
  auto t0 = std::chrono::steady_clock::now();
  CHECK(closed_by_peer(silent));
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(srv.reason(0) == "Handshake timeout");
  std::this_thread::sleep_for(400ms);
  asio::write(good, asio::buffer(std::string("still\n")));
  CHECK(line_of(good) == "STILL");
}

TEST_CASE("net: close_after_flush to a peer that never reads ends at the close deadline") {
  Connection::Limits l;
  l.max_write_queue = 32 << 20;
  l.close_timeout_ms = 300;
  Server srv(l);
  asio::io_context cio;
  tcp::socket c(cio);
  c.open(tcp::v4());
  c.set_option(asio::socket_base::receive_buffer_size(4096));
  c.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), srv.port()));
  asio::write(c, asio::buffer(std::string("BIG\n")));  // 16 MiB back; never read
  for (int i = 0; i < 200 && srv.accepted() == 0; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(srv.accepted() == 1);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(srv.wait_empty(5s));
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(srv.reason(0) == "big (flush timeout)");
}

TEST_CASE("net: an exception in on_data closes that connection only") {
  Server srv({});
  asio::io_context cio;
  auto bad = dial(cio, srv.port());
  auto good = dial(cio, srv.port());
  asio::write(good, asio::buffer(std::string("a\n")));
  CHECK(line_of(good) == "A");
  asio::write(bad, asio::buffer(std::string("THROW\n")));
  CHECK(closed_by_peer(bad));
  CHECK(srv.reason(0) == "Internal error");
  asio::write(good, asio::buffer(std::string("b\n")));
  CHECK(line_of(good) == "B");
}

// protocols/common networking: Connection::when_written runs once the bytes sent so far are
// with the kernel, and never when the connection dies first (offline messages are deleted
// from storage on that signal).
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "protocols/common/net.hpp"

using namespace parley::protocols;

namespace {

constexpr std::size_t kBig = 16 * 1024 * 1024;  // more than the kernel buffers of a non-reader

class Marking : public Connection {
 public:
  using Connection::Connection;
  std::atomic<int> fired{0};
  std::atomic<bool> gone{false};

 protected:
  std::size_t on_data(std::string_view d) override {
    auto nl = d.find('\n');
    if (nl == std::string_view::npos) return 0;
    std::string_view line = d.substr(0, nl);
    if (line == "BIG")
      send(std::string(kBig, 'x'));
    else
      send("ok\n");
    auto self = std::static_pointer_cast<Marking>(shared_from_this());
    when_written([self] { ++self->fired; });
    return nl + 1;
  }
  void on_close(std::string_view) override { gone = true; }
};

template <class F>
bool wait_for(F&& f, int ms = 3000) {
  for (int i = 0; i < ms / 10; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return f();
}

}  // namespace

TEST_CASE("net: when_written fires once the bytes left, never if the connection dies first") {
  boost::asio::io_context io;
  ConnectionManager manager;
  std::shared_ptr<Marking> last;
  Connection::Limits limits;
  limits.max_write_queue = 2 * kBig;
  Listener l(io, ListenAddress{Transport::tcp, "127.0.0.1", 0}, [&](Socket s, bool, Admission) {
    auto c = std::make_shared<Marking>(std::move(s), nullptr, limits);
    manager.add(c);
    std::atomic_store(&last, c);
    c->start();
  });
  REQUIRE_FALSE(l.open());
  l.start();
  const tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), l.local_endpoint().port());
  auto work = boost::asio::make_work_guard(io);
  std::thread t([&] { io.run_for(std::chrono::seconds(20)); });

  auto connect_small = [&](tcp::socket& c) {
    c.open(tcp::v4());
    c.set_option(boost::asio::socket_base::receive_buffer_size(4096));
    c.connect(ep);
  };

  {  // small reply: fires at once
    tcp::socket c(io);
    connect_small(c);
    boost::asio::write(c, boost::asio::buffer(std::string("SMALL\n")));
    char b[3];
    boost::asio::read(c, boost::asio::buffer(b));
    REQUIRE(wait_for([&] { return std::atomic_load(&last) != nullptr; }));
    CHECK(wait_for([&] { return std::atomic_load(&last)->fired == 1; }));
  }
  REQUIRE(wait_for([&] { return manager.size() == 0; }));
  std::atomic_store(&last, std::shared_ptr<Marking>());

  {  // a reader that falls behind: only once it has read everything
    tcp::socket c(io);
    connect_small(c);
    boost::asio::write(c, boost::asio::buffer(std::string("BIG\n")));
    REQUIRE(wait_for([&] { return std::atomic_load(&last) != nullptr; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(std::atomic_load(&last)->fired == 0);
    std::string got(kBig, '\0');
    boost::asio::read(c, boost::asio::buffer(got));
    CHECK(wait_for([&] { return std::atomic_load(&last)->fired == 1; }));
  }
  REQUIRE(wait_for([&] { return manager.size() == 0; }));
  std::atomic_store(&last, std::shared_ptr<Marking>());

  {  // a peer that never reads and goes away: never
    tcp::socket c(io);
    connect_small(c);
    boost::asio::write(c, boost::asio::buffer(std::string("BIG\n")));
    REQUIRE(wait_for([&] { return std::atomic_load(&last) != nullptr; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    c.set_option(boost::asio::socket_base::linger(true, 0));  // RST: the server's write fails
    c.close();
    auto conn = std::atomic_load(&last);
    CHECK(wait_for([&] { return conn->gone.load(); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(conn->fired == 0);
  }
  l.stop();
  work.reset();
  io.stop();
  t.join();
}

// protocols/common networking: a loopback round trip through
// Listener + Connection (bounded read buffer, write queue, close_after_flush).
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "protocols/common/net.hpp"

using namespace parley::protocols;

namespace {

// Echoes complete lines upper-cased; "QUIT" closes after flushing.
class Echo : public Connection {
 public:
  using Connection::Connection;
  std::string closed_reason;

 protected:
  std::size_t on_data(std::string_view d) override {
    std::size_t used = 0;
    while (true) {
      auto nl = d.find('\n', used);
      if (nl == std::string_view::npos) return used;
      std::string line(d.substr(used, nl + 1 - used));
      used = nl + 1;
      if (line == "QUIT\n") {
        send("BYE\n");
        close_after_flush("quit");
        return used;
      }
      for (auto& c : line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      send(line);
    }
  }
  void on_close(std::string_view reason) override { closed_reason = std::string(reason); }
};

}  // namespace

TEST_CASE("net: listener and connection round trip, overflow closes") {
  boost::asio::io_context io;
  ConnectionManager manager;
  std::shared_ptr<Echo> last;
  Connection::Limits limits;
  limits.max_read_buffer = 1024;
  Listener l(io, ListenAddress{Transport::tcp, "127.0.0.1", 0}, [&](Socket s, bool, Admission) {
    last = std::make_shared<Echo>(std::move(s), nullptr, limits);
    manager.add(last);
    last->start();
  });
  REQUIRE_FALSE(l.open());
  l.start();
  auto port = l.local_endpoint().port();
  std::thread t([&] { io.run_for(std::chrono::seconds(10)); });
  {
    tcp::socket c(io);
    c.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    boost::asio::write(c, boost::asio::buffer(std::string("hel")));
    boost::asio::write(c, boost::asio::buffer(std::string("lo\nQUIT\n")));
    boost::asio::streambuf buf;
    boost::asio::read_until(c, buf, "BYE\n");
    std::string got(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data()));
    CHECK(got == "HELLO\nBYE\n");
  }
  {
    tcp::socket c(io);
    c.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    boost::asio::write(c, boost::asio::buffer(std::string(4096, 'x')));  // no newline: overflow
    char b[16];
    boost::system::error_code ec;
    c.read_some(boost::asio::buffer(b), ec);  // the server closes
    CHECK(ec);
  }
  for (int i = 0; i < 100 && manager.size() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(manager.size() == 0);
  l.stop();
  io.stop();
  t.join();
}

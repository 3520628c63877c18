// protocols/common networking: a loopback round trip through
// Listener + Connection (bounded read buffer, write queue, close_after_flush).
#include "protocols/common/net.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <future>
#include <thread>

using namespace parley::protocols;

namespace {

// Echoes complete lines upper-cased; "QUIT" closes after flushing; a line ending in "hush"
// gets no answer.
class Echo : public Connection {
 public:
  using Connection::Connection;
  std::string closed_reason;
  std::atomic<int> hushed{0};

 protected:
  std::size_t on_data(std::string_view d) override {
    std::size_t used = 0;
    while (true) {
      auto nl = d.find('\n', used);
      if (nl == std::string_view::npos) return used;
      std::string line(d.substr(used, nl + 1 - used));
      used = nl + 1;
      if (line.ends_with("hush\n")) {
        ++hushed;
        continue;
      }
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

// A listener on 127.0.0.1 whose connections are Echo with `limits`, served by one io
// thread for at most 10 s; `last` is the newest connection.
struct EchoServer {
  // direct: each connection on a direct lane of `io` (one thread runs it), as the core's
  // connections are with server.threads >= 2 (lane.hpp).
  explicit EchoServer(Connection::Limits l, bool direct = false)
      : limits(l),
        listener(io, ListenAddress{Transport::tcp, "127.0.0.1", 0},
                 [this, direct](Socket s, bool, Admission) {
                   if (direct) s = rehome(std::move(s), Lane::direct(io));
                   last = std::make_shared<Echo>(std::move(s), nullptr, limits);
                   manager.add(last);
                   last->start();
                 }) {
    REQUIRE_FALSE(listener.open());
    listener.start();
    port = listener.local_endpoint().port();
    thread = std::thread([this] { io.run_for(std::chrono::seconds(10)); });
  }
  ~EchoServer() {
    listener.stop();
    io.stop();
    thread.join();
  }
  tcp::socket connect() {
    tcp::socket c(io);
    c.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    return c;
  }
  // Runs f on the server's thread, and waits for it.
  template <class F>
  void on_io(F f) {
    std::promise<void> done;
    boost::asio::post(io, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
  bool all_closed() {  // waits up to 2 s
    for (int i = 0; i < 100 && manager.size() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return manager.size() == 0;
  }

  boost::asio::io_context io;
  ConnectionManager manager;
  std::shared_ptr<Echo> last;
  Connection::Limits limits;
  Listener listener;
  std::uint16_t port = 0;
  std::thread thread;
};

}  // namespace

TEST_CASE("net: listener and connection round trip, overflow closes") {
  Connection::Limits limits;
  limits.max_read_buffer = 1024;
  EchoServer srv(limits);
  {
    auto c = srv.connect();
    boost::asio::write(c, boost::asio::buffer(std::string("hel")));
    boost::asio::write(c, boost::asio::buffer(std::string("lo\nQUIT\n")));
    boost::asio::streambuf buf;
    boost::asio::read_until(c, buf, "BYE\n");
    std::string got(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data()));
    CHECK(got == "HELLO\nBYE\n");
  }
  {
    auto c = srv.connect();
    boost::asio::write(c, boost::asio::buffer(std::string(4096, 'x')));  // no newline: overflow
    char b[16];
    boost::system::error_code ec;
    c.read_some(boost::asio::buffer(b), ec);  // the server closes
    CHECK(ec);
  }
  CHECK(srv.all_closed());
}

namespace {

std::string read_until(tcp::socket& c, const std::string& end) {
  boost::asio::streambuf buf;
  boost::system::error_code ec;
  boost::asio::read_until(c, buf, end, ec);
  return {boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data())};
}

// Limits::read_ahead: reads go into the connection's own (here tiny) buffer; what does not
// fit is drained through the shared one; a hold set while a read is queued keeps the bytes it
// brought (the rest stays in the kernel, as without read_ahead).
// On a direct lane the reads go through ReactorRead (reactor_read.hpp), on a strand through
// async_read_some: the same behaviour either way.
void read_ahead_scenario(bool direct) {
  Connection::Limits limits;
  limits.max_read_buffer = 4096;
  limits.read_ahead = 8;
  EchoServer srv(limits, direct);
  auto& last = srv.last;
  {
    auto c = srv.connect();
    boost::asio::write(c, boost::asio::buffer(std::string("abc")));
    boost::asio::write(c, boost::asio::buffer(std::string("defghijklmnop\nq\n")));  // 16: fills 8, drains 8
    CHECK(read_until(c, "Q\n") == "ABCDEFGHIJKLMNOP\nQ\n");
    const std::string big(3000, 'y');
    boost::asio::write(c, boost::asio::buffer(big + "\n"));
    CHECK(read_until(c, "\n") == std::string(3000, 'Y') + "\n");

    // Held while its read is queued: the next bytes wait in the connection, then come out
    // in order when the hold ends.
    srv.on_io([&] { last->hold_input(true); });
    boost::asio::write(c, boost::asio::buffer(std::string("held\n")));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    c.non_blocking(true);
    char b[16];
    boost::system::error_code ec;
    CHECK(c.read_some(boost::asio::buffer(b), ec) == 0);  // nothing echoed while held
    CHECK(ec == boost::asio::error::would_block);
    c.non_blocking(false);
    srv.on_io([&] { last->hold_input(false); });
    CHECK(read_until(c, "HELD\n") == "HELD\n");

    c.shutdown(tcp::socket::shutdown_send);  // EOF: the server closes its side
    std::size_t n = c.read_some(boost::asio::buffer(b), ec);
    CHECK(n == 0);
    CHECK(ec == boost::asio::error::eof);
  }
  CHECK(srv.all_closed());
  CHECK(last->closed_reason == "Connection closed");
}

// SO_RCVLOWAT (the gateway's followers, shared_reads.hpp): below the mark the kernel does not
// wake the reader for small writes; lowering the mark wakes it at once for what is queued,
// and a mark reached wakes it too.
// An echo connection (read_ahead 64) whose receive low-water mark is 16 KiB after one
// round trip, and "b\n" written below it: nobody was woken for it.
struct BelowMark {
  EchoServer srv;
  tcp::socket c;
  static Connection::Limits limits() {
    Connection::Limits l;
    l.max_read_buffer = 4096;
    l.read_ahead = 64;
    return l;
  }
  explicit BelowMark(bool direct) : srv(limits(), direct), c(srv.connect()) {
    boost::asio::write(c, boost::asio::buffer(std::string("a\n")));
    CHECK(read_until(c, "A\n") == "A\n");
    bool set = false;
    srv.on_io([&] { set = srv.last->set_receive_low_water(16384); });
    REQUIRE(set);
    boost::asio::write(c, boost::asio::buffer(std::string("b\n")));
    CHECK(nothing_echoed());
  }
  bool nothing_echoed() {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    c.non_blocking(true);
    char b[16];
    boost::system::error_code ec;
    const std::size_t n = c.read_some(boost::asio::buffer(b), ec);
    c.non_blocking(false);
    return n == 0 && ec == boost::asio::error::would_block;
  }
};

void low_water_scenario(bool direct) {
  BelowMark t(direct);
  auto& srv = t.srv;
  auto& c = t.c;
  boost::asio::write(c, boost::asio::buffer(std::string("c\n")));
  CHECK(t.nothing_echoed());
  srv.on_io([&] { srv.last->set_receive_low_water(1); });  // wakes the reader: "b" and "c" are queued
  CHECK(read_until(c, "C\n") == "B\nC\n");
  srv.on_io([&] { srv.last->set_receive_low_water(32); });
  boost::asio::write(c, boost::asio::buffer(std::string(40, 'e') + "\n"));  // past the mark
  CHECK(read_until(c, "\n") == std::string(40, 'E') + "\n");
  c.shutdown(tcp::socket::shutdown_send);  // end of file wakes the reader below the mark too
  char b[16];
  boost::system::error_code ec;
  CHECK(c.read_some(boost::asio::buffer(b), ec) == 0);
  CHECK(ec == boost::asio::error::eof);
  CHECK(srv.all_closed());
}

// Connection::read_queued (the gateway's read tick): with the mark up, what the kernel
// holds is read at once and in order, and is not read again when the mark comes down. Only a
// direct lane's ReactorRead can tell that no read is on its way; elsewhere it declines.
void read_queued_scenario(bool direct) {
  BelowMark t(direct);
  auto& srv = t.srv;
  auto& c = t.c;
  bool read = true;
  srv.on_io([&] { read = srv.last->read_queued(); });
  CHECK(read == direct);
  if (!direct) {
    srv.on_io([&] { srv.last->set_receive_low_water(1); });
    CHECK(read_until(c, "B\n") == "B\n");
    return;
  }
  CHECK(read_until(c, "B\n") == "B\n");
  // More than one buffer (64 bytes) at once: every line, in order.
  std::string many, upper;
  for (char ch = 'c'; ch <= 'p'; ++ch) {
    many += std::string(7, ch) + "\n";
    upper += std::string(7, char(ch - 32)) + "\n";
  }
  boost::asio::write(c, boost::asio::buffer(many));
  CHECK(t.nothing_echoed());
  srv.on_io([&] { read = srv.last->read_queued(); });
  CHECK(read);
  CHECK(read_until(c, "PPPPPPP\n") == upper);
  srv.on_io([&] { read = srv.last->read_queued(); });  // nothing queued: nothing happens
  CHECK(read);
  srv.on_io([&] { srv.last->set_receive_low_water(1); });  // what was read is not read again
  CHECK(t.nothing_echoed());
  boost::asio::write(c, boost::asio::buffer(std::string("q\n")));
  CHECK(read_until(c, "Q\n") == "Q\n");
  srv.on_io([&] { srv.last->set_receive_low_water(16384); });
  c.shutdown(tcp::socket::shutdown_send);
  srv.on_io([&] { srv.last->read_queued(); });  // end of file read here closes
  char b[16];
  boost::system::error_code ec;
  CHECK(c.read_some(boost::asio::buffer(b), ec) == 0);
  CHECK(ec == boost::asio::error::eof);
  CHECK(srv.all_closed());
}

// Segments the server sent this client so far: data and pure ACKs alike. TCP_INFO's
// tcpi_segs_in (Linux >= 4.2, byte 140 of linux/tcp.h's struct tcp_info; glibc's
// netinet/tcp.h copy stops before it, and the two headers do not mix).
std::uint32_t segments_in(tcp::socket& c) {
  unsigned char info[256] = {};
  socklen_t len = sizeof info;
  REQUIRE(::getsockopt(c.native_handle(), IPPROTO_TCP, TCP_INFO, info, &len) == 0);
  REQUIRE(len >= 144);
  std::uint32_t segs_in = 0;
  std::memcpy(&segs_in, info + 140, sizeof segs_in);
  return segs_in;
}

// An echo server whose connections acknowledge at once (Limits::quick_ack), the ACK riding
// on the answer or not, and a client past 40 answered lines: past the kernel's first quick
// ACKs, its socket holds an ACK for the answer (Linux "pingpong").
struct AckedEcho {
  static Connection::Limits limits(bool rides) {
    Connection::Limits l;
    l.max_read_buffer = 4096;
    l.quick_ack = true;
    l.ack_rides_answer = rides;
    return l;
  }
  explicit AckedEcho(bool rides) : srv(limits(rides)), c(srv.connect()) {
    for (int i = 0; i < 40; ++i) round();
  }
  void round() {
    boost::asio::write(c, boost::asio::buffer(std::string("x\n")));
    REQUIRE(read_until(c, "X\n") == "X\n");
  }
  EchoServer srv;
  tcp::socket c;
};

// The segments the server sends for 20 lines it answers at once.
std::uint32_t answered_segments(bool rides) {
  AckedEcho t(rides);
  const std::uint32_t before = segments_in(t.c);
  for (int i = 0; i < 20; ++i) t.round();
  return segments_in(t.c) - before;
}

// A line the server does not answer is still acknowledged when its read ends: one segment
// (the ACK) has reached the client by then, not ~40 ms later (Linux's delayed ACK). The first
// comes after answers (the socket may hold ACKs: TCP_QUICKACK sends it); those after it
// follow no write, and the kernel acknowledges them as they are read (Connection::ack_now
// makes no system call for them), but for a line of 496 bytes or more (segments that large
// may not be acknowledged at the read).
void unanswered_is_acknowledged(bool rides) {
  AckedEcho t(rides);
  auto& srv = t.srv;
  auto& c = t.c;
  auto quick_acks = [&] {  // read on the server's thread
    std::uint64_t n = 0;
    srv.on_io([&] { n = srv.last->quick_acks(); });
    return n;
  };
  for (int line = 1; line <= 6; ++line) {
    const std::uint32_t before = segments_in(c);
    const std::uint64_t calls = quick_acks();  // TCP_QUICKACK system calls so far
    const bool large = line == 6;
    boost::asio::write(c, boost::asio::buffer(std::string(large ? 600 : 0, '.') + "hush\n"));
    for (int i = 0; i < 200 && srv.last->hushed < line; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(srv.last->hushed == line);
    srv.on_io([] {});  // that read's handler is done
    // Loopback usually delivers the ACK inside the server's system call; a softirq deferred
    // to ksoftirqd takes a moment more, still far below the 40 ms of a delayed ACK.
    for (int i = 0; i < 20 && segments_in(c) == before; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    CHECK(segments_in(c) - before == 1);
    CHECK(quick_acks() - calls == (line == 1 || large ? 1u : 0u));  // lines 2-5: the kernel did
  }
  t.round();  // and answered again after that
}

// A peer that writes its last line and closes at once, both arriving while the server is
// busy: the one read takes the line and the FIN behind it, and no edge comes for the FIN
// (reactor_read.hpp). ReactorRead's sweep probes the quiet socket and the connection closes.
struct ShortSweep {  // ReactorRead's sweep interval for one test
  ShortSweep() { ReactorRead::set_sweep_interval(std::chrono::milliseconds(50)); }
  ~ShortSweep() { ReactorRead::set_sweep_interval(std::chrono::milliseconds(1000)); }
};

void hidden_eof_scenario(bool direct, std::uint16_t read_ahead) {
  ShortSweep sweep;
  Connection::Limits limits;
  limits.max_read_buffer = 4096;
  limits.read_ahead = read_ahead;
  EchoServer srv(limits, direct);
  auto c = srv.connect();
  boost::asio::write(c, boost::asio::buffer(std::string("a\n")));
  CHECK(read_until(c, "A\n") == "A\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // its next read waits in the reactor
  std::promise<void> release;
  std::promise<void> busy;
  boost::asio::post(srv.io, [&] {  // the server is busy while both come
    busy.set_value();
    release.get_future().wait();
  });
  busy.get_future().wait();
  boost::asio::write(c, boost::asio::buffer(std::string("b\n")));
  c.shutdown(tcp::socket::shutdown_send);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release.set_value();
  CHECK(read_until(c, "B\n") == "B\n");
  CHECK(srv.all_closed());  // within 2 s: a sweep or two (without it: never)
  CHECK(srv.last->closed_reason == "Connection closed");
}

}  // namespace

TEST_CASE("net: a FIN that came with the last line closes the connection (ReactorRead's sweep)") {
  hidden_eof_scenario(true, 64);
  hidden_eof_scenario(false, 64);  // async_read_some: Boost's own read tries again until EOF
  hidden_eof_scenario(true, 0);    // wait, then read what is there (drain)
  hidden_eof_scenario(false, 0);
}

TEST_CASE("net: with ack_rides_answer a read answered at once sends the answer alone, no ACK before it") {
  // 20 answers; a delayed ACK (40 ms) that fires while a loaded machine holds the server
  // back adds a segment, and a few after it may be acknowledged apart until the socket
  // holds ACKs again.
  CHECK(answered_segments(true) <= 28);
  CHECK(answered_segments(false) >= 32);  // the count sees the separate ACKs: one per read
}

TEST_CASE("net: with ack_rides_answer a read not answered is acknowledged when it ends") {
  unanswered_is_acknowledged(true);
}

TEST_CASE("net: with quick_ack every read is acknowledged when it ends, after answers and after none") {
  unanswered_is_acknowledged(false);
}

TEST_CASE("net: read_queued reads what a high low-water mark holds back, once and in order") {
  read_queued_scenario(true);
  read_queued_scenario(false);
}

TEST_CASE("net: a receive low-water mark holds back wake-ups until it is reached or lowered") {
  low_water_scenario(false);
  low_water_scenario(true);
}

TEST_CASE("net: read_ahead carries split and oversized lines, holds queued input, closes at EOF") {
  read_ahead_scenario(false);
}

TEST_CASE("net: read_ahead on a direct lane (ReactorRead) carries, holds and closes the same") {
  read_ahead_scenario(true);
}

// protocols/common/reactor_read.hpp: a read on a direct lane that reports a short read as
// draining the socket, so the next read waits for epoll's edge without a recv that would
// fail; full reads, end of file, a close while queued and an io_context destroyed with a
// read queued behave as Boost's own read does.
#include "protocols/common/reactor_read.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "protocols/common/net.hpp"

using namespace parley::protocols;
namespace asio = boost::asio;

namespace {

struct Result {
  std::optional<boost::system::error_code> ec;
  std::size_t n = 0;
  int probes = 0;
};

void on_done(void* owner, const boost::system::error_code& ec, std::size_t n) {
  auto* r = static_cast<Result*>(owner);
  r->ec = ec;
  r->n = n;
}

bool on_probe(void* owner) {
  ++static_cast<Result*>(owner)->probes;
  return true;
}

// A loopback pair: `reader` on a direct lane of `io` (the test's thread runs io, the one
// thread a direct lane allows), `writer` a plain blocking socket.
struct Pair {
  asio::io_context io{1};
  Socket reader{Lane::direct(io)};
  asio::io_context other;
  tcp::socket writer{other};

  Pair() {
    tcp::acceptor acceptor(other, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    writer.connect(acceptor.local_endpoint());
    tcp::socket accepted(other);
    acceptor.accept(accepted);
    const auto protocol = accepted.local_endpoint().protocol();
    reader = Socket(Lane::direct(io), protocol, accepted.release());
  }
  void write(const std::string& s) { asio::write(writer, asio::buffer(s)); }
  // Runs io until the read completed (at most 2 s).
  bool run_until(const Result& r) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!r.ec && std::chrono::steady_clock::now() < end) {
      io.restart();
      io.run_one_for(std::chrono::milliseconds(50));
    }
    return r.ec.has_value();
  }
};

// A Pair with a ReactorRead on its reader, a buffer and the owner the read keeps alive.
struct Reader : Pair {
  Result r;
  ReactorRead read{&r, &on_done, &on_probe};
  char buf[16] = {};
  std::shared_ptr<int> keep = std::make_shared<int>(0);
  bool start() { return read.start(reader, buf, sizeof buf, keep); }
  // Runs io for about `ms` (its timers and reads), or until r.probes reaches `probes`.
  void run_for(int ms, int probes = 1 << 30) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end && r.probes < probes) {
      io.restart();
      io.run_one_for(std::chrono::milliseconds(10));
    }
  }
};

// The sweep interval of these tests, restored after each.
struct ShortSweep {
  ShortSweep() { ReactorRead::set_sweep_interval(std::chrono::milliseconds(40)); }
  ~ShortSweep() { ReactorRead::set_sweep_interval(std::chrono::milliseconds(1000)); }
};

}  // namespace

TEST_CASE("ReactorRead: after a short read the next read waits for data without a recv") {
  Reader p;
  auto& r = p.r;
  auto& read = p.read;
  auto& buf = p.buf;
  auto& keep = p.keep;

  REQUIRE(p.start());
  CHECK(read.recv_calls() == 1);  // the first read is tried at once: nothing there yet
  p.write("abc");
  REQUIRE(p.run_until(r));
  CHECK_FALSE(*r.ec);
  CHECK(std::string(buf, r.n) == "abc");
  CHECK(read.recv_calls() == 2);

  // Short read: drained. The next read is queued without trying recv.
  r = {};
  REQUIRE(p.start());
  CHECK(read.recv_calls() == 2);
  p.write("defg");
  REQUIRE(p.run_until(r));
  CHECK(std::string(buf, r.n) == "defg");
  CHECK(read.recv_calls() == 3);

  // A full buffer may leave more in the kernel: the next read tries at once and gets it.
  r = {};
  REQUIRE(p.start());
  p.write(std::string(16, 'x') + "tail");
  REQUIRE(p.run_until(r));
  CHECK(r.n == 16);
  r = {};
  const auto before = read.recv_calls();
  REQUIRE(p.start());
  CHECK(read.recv_calls() == before + 1);
  REQUIRE(p.run_until(r));
  CHECK(std::string(buf, r.n) == "tail");

  // End of file.
  r = {};
  REQUIRE(p.start());
  p.writer.shutdown(tcp::socket::shutdown_send);
  REQUIRE(p.run_until(r));
  CHECK(*r.ec == asio::error::eof);
  CHECK(r.n == 0);
  CHECK(keep.use_count() == 1);  // released with the completion
}

TEST_CASE("ReactorRead: a close while the read is queued completes it as aborted and lets go of its owner") {
  Reader p;
  REQUIRE(p.start());
  CHECK(p.keep.use_count() == 2);
  p.reader.close();
  REQUIRE(p.run_until(p.r));
  CHECK(*p.r.ec == asio::error::operation_aborted);
  CHECK(p.keep.use_count() == 1);
}

TEST_CASE("ReactorRead: an io_context destroyed with a read queued releases the owner, no callback") {
  Result r;
  auto read = std::make_unique<ReactorRead>(&r, &on_done);
  char buf[16];
  auto keep = std::make_shared<int>(0);
  std::weak_ptr<int> watch = keep;
  {
    auto p = std::make_unique<Pair>();
    REQUIRE(read->start(p->reader, buf, sizeof buf, std::move(keep)));
    CHECK_FALSE(watch.expired());
    p.reset();  // socket, then io_context: the queued read is abandoned
  }
  CHECK(watch.expired());
  CHECK_FALSE(r.ec.has_value());
}

TEST_CASE("ReactorRead: not on a strand lane (its completions must pass through the strand)") {
  asio::io_context io;
  Socket s{Lane(asio::make_strand(io))};
  Result r;
  ReactorRead read(&r, &on_done);
  char buf[4];
  CHECK_FALSE(read.start(s, buf, sizeof buf, std::make_shared<int>(0)));
}

// The peer wrote and closed at once: the short read takes the bytes and the FIN behind them,
// and no edge ever comes for the FIN, so the next read would wait forever. The sweep asks the
// owner to probe once, after a whole interval with no read.
TEST_CASE("ReactorRead: a FIN taken with a short read's bytes is probed for once, a sweep later") {
  ShortSweep sweep;
  Reader p;
  // A first short read, and the read after it queued (drained: no recv) in the reactor.
  p.write("x");
  REQUIRE(p.start());
  REQUIRE(p.run_until(p.r));
  p.r.ec.reset();
  REQUIRE(p.start());
  p.run_for(20);
  REQUIRE_FALSE(p.r.ec.has_value());
  // Both come while the io_context is not running: one edge, one read takes both.
  p.write("ab");
  p.writer.shutdown(tcp::socket::shutdown_send);
  REQUIRE(p.run_until(p.r));
  CHECK(std::string(p.buf, p.r.n) == "ab");
  p.r.ec.reset();
  p.r.probes = 0;                   // the first read may have been probed meanwhile
  REQUIRE(p.start());               // queued: the short read counted as drained
  p.run_for(3000, 1);
  CHECK(p.r.probes == 1);
  p.run_for(200);                   // five intervals more
  CHECK_FALSE(p.r.ec.has_value());  // the edge never comes (the hole the sweep covers)
  CHECK(p.r.probes == 1);           // once: the probe settled it
  p.reader.close();
  REQUIRE(p.run_until(p.r));
}

// A full read leaves nothing unsure (the reactor tries the next read at once), nor does end
// of file; neither is probed.
TEST_CASE("ReactorRead: a full read or an end of file is never probed") {
  ShortSweep sweep;
  Reader p;
  p.write(std::string(16, 'x'));
  REQUIRE(p.start());
  REQUIRE(p.run_until(p.r));
  CHECK(p.r.n == 16);
  p.r.ec.reset();
  REQUIRE(p.start());
  p.run_for(200);
  CHECK_FALSE(p.r.ec.has_value());
  CHECK(p.r.probes == 0);
  p.writer.shutdown(tcp::socket::shutdown_send);
  REQUIRE(p.run_until(p.r));
  CHECK(*p.r.ec == asio::error::eof);
  p.run_for(200);
  CHECK(p.r.probes == 0);
}

// A probe that cannot read now (say, input held) is asked again at the next sweep.
TEST_CASE("ReactorRead: a probe that declines is asked again") {
  ShortSweep sweep;
  struct Declining : Result {
    int declines = 2;
  };
  Declining r;
  auto decline = [](void* owner) {
    auto* d = static_cast<Declining*>(static_cast<Result*>(owner));
    ++d->probes;
    return --d->declines < 0;
  };
  Pair p;
  ReactorRead read(static_cast<Result*>(&r), &on_done, decline);
  char buf[16];
  auto keep = std::make_shared<int>(0);
  p.write("ab");
  REQUIRE(read.start(p.reader, buf, sizeof buf, keep));
  REQUIRE(p.run_until(r));
  r.ec.reset();
  REQUIRE(read.start(p.reader, buf, sizeof buf, keep));
  auto run_for = [&](int ms, int probes) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end && r.probes < probes) {
      p.io.restart();
      p.io.run_one_for(std::chrono::milliseconds(10));
    }
  };
  run_for(5000, 3);
  CHECK(r.probes == 3);  // declined twice, then settled
  run_for(200, 4);
  CHECK(r.probes == 3);
  p.reader.close();
  REQUIRE(p.run_until(r));
}

// The sweep's timer runs only while a read is unsure: once its owner settles it (a close),
// nothing keeps the io_context busy (a daemon's shutdown waits for its io_context to finish).
TEST_CASE("ReactorRead: a settled read leaves the sweep, whose timer then lets the io_context finish") {
  Reader p;  // the default interval, 1 s
  p.write("ab");
  REQUIRE(p.start());
  REQUIRE(p.run_until(p.r));  // short: watched, the sweep's timer armed
  p.read.settle();
  const auto start = std::chrono::steady_clock::now();
  p.io.restart();
  p.io.run_for(std::chrono::seconds(5));  // returns once nothing is pending
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));
  CHECK(p.r.probes == 0);
}

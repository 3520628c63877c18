// adapters/common/listener_set + server_tls: typed addresses open listeners, TLS is checked
// at start with a clear error, SIGHUP's swap reaches new connections, reload re-binds.
#include "adapters/common/listener_set.hpp"

#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "adapters/common/metrics_exposition.hpp"
#include "core/core.hpp"
#include "core/store/memory_store.hpp"
#include "daemon/tls.hpp"
#include "unit/fakes/adapter_runtime.hpp"
#include "unit/fakes/temp_dir.hpp"

using namespace parley;
using adapters::ListenerSet;
using adapters::ServerTls;
using protocols::ListenAddress;
using protocols::Transport;

namespace {

ListenAddress loopback(Transport t = Transport::tcp) { return ListenAddress{t, "127.0.0.1", 0, false}; }

struct World : test::AdapterRuntime {
  // What each accepted connection was handed: its TLS context (null for plain).
  std::vector<std::shared_ptr<boost::asio::ssl::context>> accepted;

  ListenerSet::Options options(bool starttls = false) {
    ListenerSet::Options o;
    o.protocol = "test";
    o.key = "test.listen";
    o.starttls = starttls;
    o.accept = [this](protocols::Socket s, std::shared_ptr<boost::asio::ssl::context> tls,
                      protocols::Admission) {
      accepted.push_back(std::move(tls));
      boost::system::error_code ec;
      s.close(ec);
    };
    return o;
  }

  // Connects to port and runs the loop until one more socket was accepted.
  void connect(std::uint16_t port) {
    std::size_t before = accepted.size();
    boost::asio::ip::tcp::socket c(io);
    c.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    for (int i = 0; i < 200 && accepted.size() == before; ++i) io.run_for(std::chrono::milliseconds(10));
    REQUIRE(accepted.size() == before + 1);
  }
};

}  // namespace

TEST_CASE("server_tls: a missing or mismatched pair is refused with a message naming the file") {
  test::TempDir dir;
  auto a = daemon::ensure_self_signed(dir.file("a"), "localhost");
  auto b = daemon::ensure_self_signed(dir.file("b"), "localhost");
  REQUIRE(a.ok());
  REQUIRE(b.ok());

  const std::string none = dir.file("none.pem");
  auto missing = ServerTls::load(none, a->key);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().text.find("cannot load certificate " + none) != std::string::npos);

  auto mismatched = ServerTls::load(a->cert, b->key);
  REQUIRE_FALSE(mismatched.ok());
  // OpenSSL finds the mismatch while loading the key ("key values mismatch") or at the check.
  CHECK(mismatched.error().text.find("key " + b->key) != std::string::npos);

  auto good = ServerTls::load(a->cert, a->key);
  REQUIRE(good.ok());
  auto before = good.value()->current();
  REQUIRE(before);
  // A bad reload keeps the running context; a good one replaces it.
  CHECK_FALSE(good.value()->reload(a->cert, b->key));
  CHECK(good.value()->current() == before);
  CHECK(good.value()->cert_file() == a->cert);
  REQUIRE(good.value()->reload(b->cert, b->key));
  CHECK(good.value()->current() != before);
  CHECK(good.value()->cert_file() == b->cert);
}

TEST_CASE("listener_set: tls: listeners and STARTTLS protocols need a loaded certificate") {
  World w;
  {
    ListenerSet set(w.rt, w.options());
    auto st = set.start({loopback(), loopback(Transport::tls)});
    REQUIRE_FALSE(st);
    CHECK(st.error().text.find("test.listen tls:127.0.0.1:0: TLS needs a certificate") != std::string::npos);
    CHECK(set.size() == 0);  // nothing stays open
  }
  {
    ListenerSet set(w.rt, w.options(/*starttls=*/true));
    auto st = set.start({loopback()});
    REQUIRE_FALSE(st);
    CHECK(st.error().text.find("test.listen: TLS needs a certificate") != std::string::npos);
  }
  {
    ListenerSet set(w.rt, w.options());
    CHECK(set.start({loopback()}));  // plain only: no certificate needed
    CHECK(set.size() == 1);
  }
}

TEST_CASE("listener_set: opens plain and tls listeners, new connections get the context current at accept") {
  test::TempDir dir;
  auto a = daemon::ensure_self_signed(dir.file("a"), "localhost");
  auto b = daemon::ensure_self_signed(dir.file("b"), "localhost");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  World w;
  auto tls = ServerTls::load(a->cert, a->key);
  REQUIRE(tls.ok());
  w.rt.tls = tls.value();

  ListenerSet set(w.rt, w.options());
  REQUIRE(set.start({loopback(), loopback(Transport::tls)}));
  auto eps = set.endpoints();
  REQUIRE(eps.size() == 2);
  CHECK(eps[0].port() != 0);

  w.connect(eps[0].port());
  CHECK(w.accepted.back() == nullptr);
  w.connect(eps[1].port());
  auto first = w.accepted.back();
  CHECK(first == w.rt.tls->current());

  REQUIRE(w.rt.tls->reload(b->cert, b->key));  // what the daemon does on SIGHUP
  w.connect(eps[1].port());
  CHECK(w.accepted.back() == w.rt.tls->current());
  CHECK(w.accepted.back() != first);
}

TEST_CASE("listener_set: reload keeps unchanged addresses, closes removed ones, opens new ones") {
  World w;
  ListenerSet set(w.rt, w.options());
  // Concrete ports (reload compares addresses): take two free ones from the kernel.
  auto free_port = [&] {
    boost::asio::ip::tcp::acceptor probe(w.io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return probe.local_endpoint().port();
  };
  ListenAddress one = loopback(), two = loopback();
  one.port = free_port();
  two.port = free_port();
  REQUIRE(one.port != two.port);

  REQUIRE(set.start({one}));
  w.connect(one.port);
  set.reload({one, two});
  CHECK(set.size() == 2);
  w.connect(two.port);
  set.reload({two});
  REQUIRE(set.size() == 1);
  CHECK(set.endpoints()[0].port() == two.port);
  boost::asio::ip::tcp::socket c(w.io);
  boost::system::error_code ec;
  c.connect({boost::asio::ip::make_address("127.0.0.1"), one.port}, ec);
  CHECK(ec);  // closed
  // An address that cannot be bound is logged and skipped; the others stay.
  ListenAddress bad = two;
  bad.host = "192.0.2.1";  // TEST-NET-1: not a local address
  set.reload({two, bad});
  CHECK(set.size() == 1);
  set.stop();
  CHECK(set.size() == 0);
}

TEST_CASE("listener_set: the sweep runs on the core strand until stop") {
  World w;
  ListenerSet set(w.rt, w.options());
  REQUIRE(set.start({}));
  int runs = 0;
  set.sweep_every(std::chrono::milliseconds(5), [&] {
    CHECK(w.rt.core_strand.running_in_this_thread());
    if (++runs == 3) set.stop();
  });
  w.io.run_for(std::chrono::seconds(2));
  CHECK(runs == 3);
}

TEST_CASE("a listener set without a tag names no protocol, so it cannot rename another plugin's") {
  // The HTTP plugin opens no sessions of its own; it used to rename the line plugin's
  // `local` tag to "http" in every metric.
  World w;
  auto line = w.options();
  line.protocol = "line";
  line.tag = core::Protocol::local;
  ListenerSet line_set(w.rt, line);
  auto http = w.options();
  http.protocol = "http";
  ListenerSet http_set(w.rt, http);
  const auto text = adapters::metrics_exposition(w.core.metrics().registry());
  CHECK(text.find("parley_sessions{protocol=\"line\"}") != std::string::npos);
  CHECK(text.find("protocol=\"http\"") == std::string::npos);
}

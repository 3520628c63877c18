// adapters/sip/libre_udp_intercept.cpp against the libre it runs with: the udp_listen and
// fd_listen interpositions record SIP's UDP socket with libre's handlers; a UdpReceiver
// offers every datagram to its consumer first, hands the rest to libre's SIP stack
// unchanged (a request reaches sip_listen's handler), and gives the descriptor back to
// libre's own read handler when it is destroyed.
#include "adapters/sip/libre_udp_intercept.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <re.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "adapters/common/libre_bridge.hpp"
#include "unit/fakes/on_libre.hpp"

using namespace parley;
using parley::adapters::sip::UdpListenCapture;
using parley::adapters::sip::UdpPort;
using parley::adapters::sip::UdpReceiver;
using parley::testing::on_libre;

namespace {

struct World {
  struct sip* sip = nullptr;
  sip_lsnr* lsnr = nullptr;
  UdpPort port;
  std::size_t captured = 0;
  std::uint16_t udp_port = 0;
  std::unique_ptr<UdpReceiver> rx;
  int requests = 0;     // reached libre's SIP stack (sip_listen)
  int consumed = 0;     // taken by the consumer
  std::size_t due = 0;  // what busy() answers
  // The remote tick (set_remote_tick): how often it was armed, for how long, and whether
  // it takes the arming.
  int remote_arms = 0;
  std::uint64_t remote_us = 0;
  bool remote_takes = true;
};

bool remote_arm(void* arg, std::uint64_t us) {
  auto* w = static_cast<World*>(arg);
  ++w->remote_arms;
  w->remote_us = us;
  return w->remote_takes;
}

// Runs fn on this (test) thread under the libre loop's lock, as the core strand does
// (bounded: the libre thread is idle between datagrams).
template <class F>
bool here(adapters::LibreLoop& loop, F f) {
  std::function<void()> fn = f;
  for (int i = 0; i < 400; ++i) {
    if (loop.try_run_here(fn)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

bool on_request(const sip_msg* msg, void* arg) {
  auto* w = static_cast<World*>(arg);
  ++w->requests;
  (void)sip_reply(w->sip, msg, 200, "OK");
  return true;
}

bool consume(void* arg, int, const struct sa&, std::string_view d) {
  auto* w = static_cast<World*>(arg);
  if (d.substr(0, 8) != "SIP/2.0 ") return false;
  ++w->consumed;
  return true;
}

std::size_t busy(void* arg) { return static_cast<World*>(arg)->due; }

std::string options(int n) {
  return "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKt" +
         std::to_string(n) + "\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c" +
         std::to_string(n) + "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
}

const char* kResponse =
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKpF0000000000000001\r\n"
    "CSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n";

// Waits (bounded) until pred() holds on the libre thread.
template <class P>
bool eventually(adapters::LibreLoop& loop, P pred) {
  for (int i = 0; i < 400; ++i) {
    if (on_libre(loop, pred)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

}  // namespace

TEST_CASE("SIP's UDP socket: captured, read by the receiver, given back to libre") {
  adapters::LibreLoop loop;
  REQUIRE(loop.start().empty());
  World w;
  bool ok = on_libre(loop, [&] {
    if (!adapters::sip::udp_listen_interposed()) return false;
    if (sip_alloc(&w.sip, nullptr, 64, 64, 64, "test", nullptr, nullptr)) return false;
    struct sa laddr {};
    (void)sa_set_str(&laddr, "127.0.0.1", 0);
    {
      UdpListenCapture cap;
      if (sip_transp_add(w.sip, SIP_TRANSP_UDP, &laddr)) return false;
      w.captured = cap.taken().size();
      if (w.captured) w.port = cap.taken().front();
    }
    if (sip_listen(&w.lsnr, w.sip, true, &on_request, &w)) return false;
    struct sa local {};
    if (!w.port.us || udp_local_get(w.port.us, &local)) return false;
    w.udp_port = sa_port(&local);
    w.rx = UdpReceiver::attach(w.port, &consume, &busy, &w);
    return w.rx != nullptr;
  });
  REQUIRE(ok);
  CHECK(w.captured == 1);
  CHECK(w.port.fd >= 0);
  CHECK(static_cast<bool>(w.port.read_h));
  CHECK(w.port.read_arg == w.port.us);

  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(s >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(w.udp_port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto send = [&](const std::string& d) {
    return ::sendto(s, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
           static_cast<ssize_t>(d.size());
  };

  SUBCASE("requests reach libre, responses the consumer, in any number per wake-up") {
    for (int i = 0; i < 40; ++i) {
      REQUIRE(send(options(i)));
      REQUIRE(send(kResponse));
    }
    CHECK(eventually(loop, [&] { return w.requests == 40 && w.consumed == 40; }));
    // Answers due: reading goes by tick and still delivers everything.
    on_libre(loop, [&] { return w.due = 100; });
    for (int i = 40; i < 80; ++i) {
      REQUIRE(send(options(i)));
      REQUIRE(send(kResponse));
    }
    CHECK(eventually(loop, [&] { return w.requests == 80 && w.consumed == 80; }));
    on_libre(loop, [&] { return w.due = 0; });
    REQUIRE(send(options(80)));
    CHECK(eventually(loop, [&] { return w.requests == 81; }));
  }

  SUBCASE("a small fan-out's answers go by the short tick, then back to waking per datagram") {
    on_libre(loop, [&] { return w.due = UdpReceiver::kSmallAt; });
    for (int i = 0; i < 40; ++i) {
      REQUIRE(send(options(i)));
      REQUIRE(send(kResponse));
    }
    CHECK(eventually(loop, [&] { return w.requests == 40 && w.consumed == 40; }));
    // The wake-up that read them saw answers due and armed the short tick; it fires 500 µs
    // later, possibly after everything was read (all 80 datagrams in one drain), so wait.
    CHECK(eventually(loop, [&] { return w.rx->ticks() > 0; }));
    // Nothing due: the next tick (or the next wake-up) puts the descriptor back on epoll.
    on_libre(loop, [&] { return w.due = 0; });
    REQUIRE(send(options(40)));
    CHECK(eventually(loop, [&] { return w.requests == 41; }));
    const auto ticks = on_libre(loop, [&] { return w.rx->ticks(); });
    REQUIRE(send(options(41)));
    CHECK(eventually(loop, [&] { return w.requests == 42; }));
    CHECK(on_libre(loop, [&] { return w.rx->ticks(); }) == ticks);  // a wake-up, not a tick
  }

  SUBCASE("expect: a small batch about to leave is read by the short tick, not by wake-ups") {
    // The datagrams are sent from the libre thread right after expect() (loopback: queued
    // when sendto returns), so the 500 µs tick cannot fire first, find nothing and go back
    // to waking (seen under CI load when the test thread sent them later).
    bool sent = false;
    const auto woke = on_libre(loop, [&] {
      w.rx->expect(UdpReceiver::kSmallAt);  // before the NOTIFYs leave: off epoll at once
      sent = send(options(0)) && send(kResponse);
      return w.rx->wakeups();
    });
    REQUIRE(sent);
    CHECK(eventually(loop, [&] { return w.requests == 1 && w.consumed == 1; }));
    CHECK(on_libre(loop, [&] { return w.rx->ticks(); }) >= 1);
    CHECK(on_libre(loop, [&] { return w.rx->wakeups(); }) == woke);  // no wake-up read them
    // Fewer coming than kSmallAt (or kBusyAt and more, the 1 ms tick's case): no tick.
    const auto ticks = on_libre(loop, [&] {
      w.rx->expect(UdpReceiver::kSmallAt - 1);
      w.rx->expect(UdpReceiver::kBusyAt);
      return w.rx->ticks();
    });
    REQUIRE(send(options(1)));
    CHECK(eventually(loop, [&] { return w.requests == 2; }));
    CHECK(on_libre(loop, [&] { return w.rx->ticks(); }) == ticks);
    CHECK(on_libre(loop, [&] { return w.rx->wakeups(); }) > woke);
  }

  SUBCASE("remote tick: a batch sent by another thread has its answers read by that thread") {
    on_libre(loop, [&] {
      w.rx->set_remote_tick(&remote_arm, &w);
      return w.due = UdpReceiver::kSmallAt;
    });
    const auto woke = on_libre(loop, [&] { return w.rx->wakeups(); });
    REQUIRE(here(loop, [&] { w.rx->expect(UdpReceiver::kSmallAt, true); }));
    CHECK(on_libre(loop, [&] { return w.remote_arms; }) == 1);
    CHECK(on_libre(loop, [&] { return w.remote_us; }) == UdpReceiver::kSmallPollUs);
    // The answers and a request arrive (loopback: queued when sendto returns); the other
    // thread's timer expires and drains them there (or, were it 5 ms late, the guard).
    REQUIRE(send(kResponse));
    REQUIRE(send(options(0)));
    REQUIRE(here(loop, [&] { w.rx->remote_tick(false); }));
    CHECK(eventually(loop, [&] { return w.requests == 1 && w.consumed == 1; }));
    CHECK(on_libre(loop, [&] { return w.rx->wakeups(); }) == woke);  // the libre thread slept
    // Nothing due any more: back to waking on the descriptor.
    on_libre(loop, [&] { return w.due = 0; });
    REQUIRE(here(loop, [&] { w.rx->remote_tick(false); }));  // a late one (or the re-armed one)
    // Under load the guard may have fired first and left a 500 µs tick of the libre
    // thread's own running: wait for the tick that finds nothing due.
    CHECK(eventually(loop, [&] { return !w.rx->polling(); }));
    REQUIRE(send(options(1)));
    CHECK(eventually(loop, [&] { return w.requests == 2; }));
    CHECK(on_libre(loop, [&] { return w.rx->wakeups(); }) > woke);
  }

  SUBCASE("remote tick: never run, the libre thread's guard reads the answers; refused, its own tick") {
    on_libre(loop, [&] {
      w.rx->set_remote_tick(&remote_arm, &w);
      return w.due = UdpReceiver::kSmallAt;
    });
    const auto woke = on_libre(loop, [&] { return w.rx->wakeups(); });
    REQUIRE(here(loop, [&] { w.rx->expect(UdpReceiver::kSmallAt, true); }));
    REQUIRE(send(kResponse));
    CHECK(eventually(loop, [&] { return w.consumed == 1; }));  // the 5 ms guard's tick
    CHECK(on_libre(loop, [&] { return w.rx->ticks(); }) >= 1);
    CHECK(on_libre(loop, [&] { return w.rx->wakeups(); }) == woke);
    on_libre(loop, [&] { return w.due = 0; });
    CHECK(eventually(loop, [&] { return w.rx->ticks() >= 2; }));  // the guard's ticks go on, then stop
    const auto ticks = on_libre(loop, [&] { return w.rx->ticks(); });
    REQUIRE(here(loop, [&] { w.rx->remote_tick(false); }));  // late: the guard took over
    CHECK(on_libre(loop, [&] { return w.rx->ticks(); }) == ticks);
    // A remote timer that cannot be armed: the libre thread's own short tick.
    on_libre(loop, [&] {
      w.remote_takes = false;
      return w.due = UdpReceiver::kSmallAt;
    });
    const auto arms = on_libre(loop, [&] { return w.remote_arms; });
    REQUIRE(here(loop, [&] { w.rx->expect(UdpReceiver::kSmallAt, true); }));
    CHECK(on_libre(loop, [&] { return w.remote_arms; }) == arms + 1);
    REQUIRE(send(kResponse));
    CHECK(eventually(loop, [&] { return w.consumed == 2; }));
    CHECK(on_libre(loop, [&] { return w.rx->wakeups(); }) == woke);
    on_libre(loop, [&] { return w.due = 0; });
  }

  SUBCASE("detached: libre reads the socket itself again (responses too)") {
    on_libre(loop, [&] {
      w.rx.reset();
      return true;
    });
    REQUIRE(send(kResponse));  // libre: no transaction for it, dropped
    REQUIRE(send(options(1)));
    CHECK(eventually(loop, [&] { return w.requests == 1; }));
    CHECK(on_libre(loop, [&] { return w.consumed; }) == 0);
  }

  ::close(s);
  on_libre(loop, [&] {
    w.rx.reset();
    w.lsnr = static_cast<sip_lsnr*>(mem_deref(w.lsnr));
    sip_close(w.sip, true);
    w.sip = static_cast<struct sip*>(mem_deref(w.sip));
    return true;
  });
  loop.stop();
}

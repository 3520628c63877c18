// LocalEndpoint's members are core sessions whose sinks live on the core strand; a member
// that was kicked or killed waits for its rejoin timer. The timer's handler must not touch
// a member that the endpoint destroyed (LocalEndpoint::stop, at shutdown) after the wait
// had already expired: cancel() cannot recall a handler that is queued on the strand.
#include "adapters/bridge/local_endpoint.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <future>
#include <memory>
#include <thread>

#include "unit/core/fixture.hpp"

using namespace parley::adapters::bridge;
namespace core = parley::core;
namespace asio = boost::asio;

namespace {

struct BridgeFixture : parley::test::CoreFixture {
  asio::io_context io;
  parley::adapters::Runtime rt{io, asio::make_strand(io), *core, nullptr};
  Bridge bridge{[] {
                  parley::config::BridgeConfig c;
                  c.name = "b";
                  return c;
                }(),
                BridgeOptions{}};

  // The bot's core session ("bridge.b"), 0 if it has none.
  core::SessionId bot_session() {
    core::SessionId id = 0;
    core->sessions().for_each([&](const core::SessionInfo& s) {
      if (s.user == core::Address::user("bridge.b")) id = s.id;
    });
    return id;
  }
};

}  // namespace

TEST_CASE("bridge local endpoint: a killed bot rejoins after the delay") {
  BridgeFixture f;
  LocalEndpoint ep(f.bridge, f.rt, "dev", std::chrono::milliseconds(1));
  ep.start();
  const core::SessionId first = f.bot_session();
  REQUIRE(first != 0);
  REQUIRE(f.core->rooms().find("dev") != nullptr);
  f.core->sessions().terminate(first, "killed");
  CHECK(f.bot_session() == 0);
  f.io.run_for(std::chrono::seconds(2));  // until the rejoin timer has run (then out of work)
  const core::SessionId again = f.bot_session();
  CHECK(again != 0);
  CHECK(again != first);
  ep.stop();
  CHECK(f.bot_session() == 0);
}

TEST_CASE("bridge local endpoint: stop() while an expired rejoin wait is queued on the strand") {
  BridgeFixture f;
  LocalEndpoint ep(f.bridge, f.rt, "dev", std::chrono::milliseconds(1));
  ep.start();
  REQUIRE(f.bot_session() != 0);

  // One task on the core strand: the bot is killed (its 1 ms rejoin wait starts), then the
  // task holds the strand until a probe timer armed after the rejoin timer has fired on the
  // other io thread. By then that thread has completed the rejoin wait (timers complete in
  // deadline order) and queued its handler on the busy strand; the task then stops the
  // endpoint, destroying the bot. The queued handler runs after it: it must not touch the
  // member (ASan: heap-use-after-free), and must not open a session whose sink is gone.
  auto work = asio::make_work_guard(f.io);
  std::thread t1([&] { f.io.run(); });
  std::thread t2([&] { f.io.run(); });
  std::promise<void> done;
  asio::post(f.rt.core_strand, [&] {
    f.core->sessions().terminate(f.bot_session(), "killed");  // the bot's retry_later()
    std::promise<void> fired;
    asio::steady_timer probe(f.io, std::chrono::milliseconds(30));
    probe.async_wait([&](const boost::system::error_code&) { fired.set_value(); });
    fired.get_future().wait();
    ep.stop();
    done.set_value();
  });
  done.get_future().wait();
  // The queued rejoin handler runs on the strand after the task above; then nothing is left.
  std::promise<void> after;
  asio::post(f.rt.core_strand, [&] { after.set_value(); });
  after.get_future().wait();
  work.reset();
  t1.join();
  t2.join();
  CHECK(f.bot_session() == 0);
  CHECK(f.core->sessions().size() == 0);
}

// protocols/common/lane.hpp: a strand lane serialises its handlers over any number of
// threads; a direct lane (an io_context one thread runs) is "in this thread" exactly where
// that io_context runs, keeps post() order, runs dispatch() inline there and queues it from
// elsewhere, and carries socket and timer completions like a strand.
#include "protocols/common/lane.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <thread>
#include <vector>

#include "protocols/common/net.hpp"

using namespace parley::protocols;
namespace asio = boost::asio;

TEST_CASE("a direct lane is in this thread only where its io_context runs") {
  asio::io_context io(1);
  const Lane lane = Lane::direct(io);
  CHECK(lane.is_direct());
  CHECK_FALSE(lane.running_in_this_thread());
  bool inside = false, elsewhere = true;
  asio::post(lane, [&] {
    inside = lane.running_in_this_thread();
    std::thread([&] { elsewhere = lane.running_in_this_thread(); }).join();
  });
  io.run();
  CHECK(inside);
  CHECK_FALSE(elsewhere);
}

TEST_CASE("a direct lane keeps post order, runs dispatch inline on its thread and queues it from another") {
  asio::io_context io(1);
  const Lane lane = Lane::direct(io);
  std::vector<int> order;
  asio::post(lane, [&] {
    order.push_back(1);
    asio::post(lane, [&] { order.push_back(3); });
    asio::dispatch(lane, [&] { order.push_back(2); });  // inline: before the post above
  });
  asio::post(lane, [&] { order.push_back(4); });  // posted before the nested post ran
  bool ran_inline = true;
  std::thread([&] {
    asio::dispatch(lane, [&] { order.push_back(5); });
    ran_inline = !order.empty();
  }).join();
  CHECK_FALSE(ran_inline);  // not this thread's io_context: queued
  io.run();
  CHECK(order == std::vector<int>{1, 2, 4, 5, 3});
}

TEST_CASE("a strand lane still serialises its handlers over several threads") {
  asio::io_context io(4);
  const Lane lane(asio::make_strand(io));
  CHECK_FALSE(lane.is_direct());
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false}, outside_strand{false};
  int count = 0;  // touched only inside the lane
  for (int i = 0; i < 2000; ++i)
    asio::post(lane, [&] {
      if (inside.fetch_add(1) != 0) overlapped = true;
      if (!lane.running_in_this_thread()) outside_strand = true;
      ++count;
      inside.fetch_sub(1);
    });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { io.run(); });
  for (auto& t : threads) t.join();
  CHECK_FALSE(overlapped);
  CHECK_FALSE(outside_strand);
  CHECK(count == 2000);
}

TEST_CASE("socket and timer completions on a direct lane run in the lane") {
  asio::io_context io(1);
  const Lane lane = Lane::direct(io);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  Socket client(lane);
  Socket server(Lane(asio::make_strand(io)));
  char buf[8] = {};
  std::size_t got = 0;
  bool read_in_lane = false, timer_in_lane = false, connected = false;
  acceptor.async_accept(Strand(asio::make_strand(io)), [&](boost::system::error_code ec, Socket s) {
    REQUIRE_FALSE(ec);
    server = std::move(s);
    asio::async_write(server, asio::buffer("ping", 4), [](boost::system::error_code, std::size_t) {});
  });
  client.async_connect(acceptor.local_endpoint(), [&](boost::system::error_code ec) {
    connected = !ec;
    client.async_read_some(asio::buffer(buf), [&](boost::system::error_code rec, std::size_t n) {
      if (!rec) got = n;
      read_in_lane = lane.running_in_this_thread();
    });
  });
  StrandTimer timer(lane);
  timer.expires_after(std::chrono::milliseconds(1));
  timer.async_wait([&](boost::system::error_code) { timer_in_lane = lane.running_in_this_thread(); });
  io.run_for(std::chrono::seconds(5));
  CHECK(connected);
  CHECK(got == 4);
  CHECK(std::string_view(buf, got) == "ping");
  CHECK(read_in_lane);
  CHECK(timer_in_lane);
}

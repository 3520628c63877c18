// Micro-benchmark of the core alone: direct messages and room fan-out through fake sinks
// on a MemoryStore. Prints messages/s, deliveries/s and heap allocations per message
// (counted by replacing the global operator new/delete below). Each case runs for about
// half a second, so the whole program finishes in a few seconds.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench/alloc_count.hpp"
#include "core/core.hpp"
#include "core/store/memory_store.hpp"

using namespace parley::core;

namespace {

// A sink that only counts, like an adapter that would post the shared MessagePtr to its
// connection strand.
class CountingSink final : public SessionSink {
 public:
  void on_message(const MessagePtr&) override { ++messages; }
  void on_presence(const PresenceUpdate&) override {}
  void on_room_join(const Room&, const Member&, bool) override {}
  void on_room_leave(const Room&, const Member&, const LeaveReason&, bool) override {}
  void on_terminate(const std::string&) override {}
  std::size_t messages = 0;
};

struct BenchResult {
  double msgs_per_s;
  double deliveries_per_s;
  double allocs_per_msg;
  std::size_t messages;
};

template <class F>
BenchResult run(F&& send_one, const std::vector<std::unique_ptr<CountingSink>>& sinks) {
  using clock = std::chrono::steady_clock;
  constexpr auto budget = std::chrono::milliseconds(500);
  constexpr std::size_t batch = 64;
  constexpr std::size_t max_messages = 5'000'000;
  for (std::size_t i = 0; i < 256; ++i) send_one();  // warm up (history deque, maps)
  std::size_t before_deliveries = 0;
  for (auto& s : sinks) before_deliveries += s->messages;
  std::size_t allocs_before = parley::bench::allocations();
  std::size_t n = 0;
  auto start = clock::now();
  auto now = start;
  while (now - start < budget && n < max_messages) {
    for (std::size_t i = 0; i < batch; ++i) send_one();
    n += batch;
    now = clock::now();
  }
  std::size_t allocs = parley::bench::allocations() - allocs_before;
  std::size_t deliveries = 0;
  for (auto& s : sinks) deliveries += s->messages;
  deliveries -= before_deliveries;
  double secs = std::chrono::duration<double>(now - start).count();
  return {n / secs, deliveries / secs, static_cast<double>(allocs) / static_cast<double>(n), n};
}

void print(const char* name, std::size_t members, const BenchResult& r) {
  std::printf("%-8s %6zu recipients  %12.0f msg/s  %14.0f deliveries/s  %6.2f allocs/msg  (%zu msgs)\n", name,
              members, r.msgs_per_s, r.deliveries_per_s, r.allocs_per_msg, r.messages);
}

SessionId open(Core& core, const std::string& user, bool guest, CountingSink* sink) {
  SessionOpen o;
  o.user = Address::user(user);
  o.guest = guest;
  o.protocol = Protocol::irc;
  o.sink = sink;
  auto id = core.sessions().open(o);
  if (!id) {
    std::fprintf(stderr, "open %s: %s\n", user.c_str(), id.error().text.c_str());
    std::exit(1);
  }
  return *id;
}

void bench_direct() {
  MemoryStore store;
  CoreOptions opt;
  opt.scram_iterations = 16;
  Core core(store, opt);
  (void)core.directory().add("alice", "x");
  (void)core.directory().add("bob", "x");
  std::vector<std::unique_ptr<CountingSink>> sinks;
  sinks.push_back(std::make_unique<CountingSink>());
  sinks.push_back(std::make_unique<CountingSink>());
  SessionId a = open(core, "alice", false, sinks[0].get());
  open(core, "bob", false, sinks[1].get());
  core.presence().publish(a, Tuple{});
  const Address from = Address::user("alice", core.sessions().find(a)->resource);
  const Address to = Address::user("bob");
  auto r = run(
      [&] {
        Message m;
        m.from = from;
        m.to = to;
        m.body = "hello, this is a direct message";
        m.origin.session = a;
        if (!core.router().send(std::move(m))) std::abort();
      },
      sinks);
  print("direct", 1, r);
}

void bench_room(std::size_t members) {
  MemoryStore store;
  Core core(store, CoreOptions{});
  std::vector<std::unique_ptr<CountingSink>> sinks;
  SessionId speaker = 0;
  for (std::size_t i = 0; i < members; ++i) {
    sinks.push_back(std::make_unique<CountingSink>());
    std::string nick = "u" + std::to_string(i);
    SessionId s = open(core, nick, true, sinks.back().get());
    if (!core.rooms().join(s, JoinRequest{"bench", nick, {}, 0})) std::abort();
    if (i == 0) speaker = s;
  }
  auto r = run(
      [&] {
        Message m;
        m.body = "hello, this is a room message";
        if (!core.rooms().say(speaker, "bench", std::move(m))) std::abort();
      },
      sinks);
  print("room", members, r);
}

}  // namespace

int main() {
  std::printf("parley core micro-benchmark (fake counting sinks, MemoryStore)\n");
  bench_direct();
  for (std::size_t n : {1u, 10u, 100u, 1000u}) bench_room(n);
  return 0;
}

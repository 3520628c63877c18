// XMPP c2s workloads: in-band registration, one-to-one messages, MUC room fan-out, logins
// per second, idle sessions. Every client logs in the way RFC 6120 orders it: stream
// header, STARTTLS (any certificate), SASL PLAIN, stream restart, resource binding, the
// legacy session if it is not optional, initial presence.
#include <charconv>

#include "xmpp_session.hpp"

namespace loadgen {
namespace {

std::string user_name(const XmppOpts& x, std::size_t i) { return x.prefix + std::to_string(i); }

struct Flow {
  explicit Flow(asio::io_context& io) : progress(io) {}
  std::uint64_t sent = 0, received = 0, errors = 0, per_message = 1;
  std::int64_t first_send = 0, last_rx = 0;
  bool measuring = false;
  std::string first_error;
  Histogram hist;
  Signal progress;
};

// Counts and times every <message> carrying a "seq ts" body; answers pings.
awaitable<void> message_reader(Flow& st, Session& s) {
  for (;;) {
    auto [kind, z] = co_await s.next();
    if (starts(z, "<message")) {
      if (attr(z, "type") == "error") {
        if (st.first_error.empty()) st.first_error = clip(z);
        ++st.errors;
        continue;
      }
      auto b = z.find("<body>");
      if (b == std::string_view::npos || !st.measuring) continue;
      const char* p = z.data() + b + 6;
      const char* e = z.data() + z.size();
      std::uint64_t seq;
      std::int64_t ts;
      auto r = std::from_chars(p, e, seq);
      if (r.ec != std::errc() || r.ptr == e || *r.ptr != ' ') continue;
      if (std::from_chars(r.ptr + 1, e, ts).ec != std::errc()) continue;
      auto now = now_ns();
      st.hist.record((now - ts) / 1000);
      ++st.received;
      st.last_rx = now;
      st.progress.notify();
      continue;
    }
    s.housekeeping(z);
  }
}

struct Sender {
  Session* session;
  std::string to, type;
};

// The measured phase shared by one-to-one and room runs: fixed rate or windowed max.
awaitable<void> pump(Run& run, Flow& st, std::vector<Sender>& senders, double rate, double seconds,
                     std::uint64_t window, double drain_s, int server_pid, Report& rep) {
  run.phase("sending");
  std::int64_t cpu0 = proc_cpu_us(server_pid), self0 = self_cpu_us();
  st.measuring = true;
  st.first_send = now_ns();
  auto end = st.first_send + static_cast<std::int64_t>(seconds * 1e9);
  std::size_t next_tx = 0;
  std::vector<std::string> batches(senders.size());
  auto add = [&] {
    auto& tx = senders[next_tx];
    char b[160];
    int n = std::snprintf(b, sizeof b, "<message to='%s' type='%s' id='m%llu'><body>%llu %lld</body></message>",
                          tx.to.c_str(), tx.type.c_str(), static_cast<unsigned long long>(st.sent),
                          static_cast<unsigned long long>(st.sent), static_cast<long long>(now_ns()));
    batches[next_tx].append(b, static_cast<std::size_t>(n));
    next_tx = (next_tx + 1) % senders.size();
    ++st.sent;
  };
  auto flush = [&] {
    for (std::size_t i = 0; i < senders.size(); ++i) {
      if (batches[i].empty()) continue;
      senders[i].session->conn->send(batches[i]);
      batches[i].clear();
      if (senders[i].session->conn->dead())
        throw Failure(senders[i].session->user + ": " + senders[i].session->conn->error());
    }
  };
  if (rate > 0) {
    double period = 1e9 / rate;
    for (;;) {
      auto now = now_ns();
      if (now >= end) break;
      auto due = static_cast<std::uint64_t>(static_cast<double>(now - st.first_send) / period) + 1;
      while (st.sent < due) add();
      flush();
      auto next = st.first_send + static_cast<std::int64_t>(static_cast<double>(st.sent) * period);
      co_await sleep_for(std::chrono::nanoseconds(std::max<std::int64_t>(0, next - now_ns())));
    }
  } else {
    std::uint64_t window_deliveries = window * st.per_message;
    for (;;) {
      if (now_ns() >= end) break;
      while (st.sent * st.per_message - st.received < window_deliveries) add();
      flush();
      if (!co_await st.progress.wait_for(std::chrono::milliseconds(5000)))
        throw Failure("no delivery for 5 s: " + std::to_string(st.sent) + " messages sent, " +
                      std::to_string(st.received) + " of " + std::to_string(st.sent * st.per_message) +
                      " deliveries seen" + (st.first_error.empty() ? "" : "; first error: " + st.first_error));
    }
  }
  run.phase("draining");
  auto drain_end = now_ns() + static_cast<std::int64_t>(drain_s * 1e9);
  while (st.received < st.sent * st.per_message && now_ns() < drain_end)
    co_await st.progress.wait_for(std::chrono::milliseconds(200));
  std::int64_t cpu1 = proc_cpu_us(server_pid), self1 = self_cpu_us();
  double elapsed = static_cast<double>(std::max(st.last_rx, st.first_send + 1) - st.first_send) / 1e9;
  std::uint64_t expected = st.sent * st.per_message;
  rep.add("rate", rate > 0 ? rate : 0.0, 0);
  rep.add_int("sent", static_cast<long long>(st.sent));
  rep.add_int("delivered", static_cast<long long>(st.received));
  rep.add_int("lost", static_cast<long long>(expected > st.received ? expected - st.received : 0));
  rep.add_int("error_messages", static_cast<long long>(st.errors));
  rep.add("seconds", elapsed, 2);
  rep.add("stanzas_per_s", static_cast<double>(st.received) / elapsed, 0);
  rep.add("p50_ms", st.hist.percentile_us(50) / 1000, 3);
  rep.add("p99_ms", st.hist.percentile_us(99) / 1000, 3);
  rep.add("max_ms", st.hist.max_us() / 1000, 3);
  if (server_pid > 0) {
    rep.add("server_cpu_s", static_cast<double>(cpu1 - cpu0) / 1e6, 2);
    rep.add("server_us_per_stanza",
            st.received ? static_cast<double>(cpu1 - cpu0) / static_cast<double>(st.received) : NAN, 2);
  }
  rep.add("loadgen_cpu_s", static_cast<double>(self1 - self0) / 1e6, 2);
  if (!st.first_error.empty()) progress("first error message: %s", st.first_error.c_str());
  if (st.received == 0) throw Failure("no message was delivered" +
                                      (st.first_error.empty() ? std::string() : ": " + st.first_error));
}

void close_all(Run& run, std::vector<std::unique_ptr<Session>>& v) {
  run.stopping = true;
  for (auto& s : v) s->bye();
}

awaitable<void> close_after(std::vector<std::unique_ptr<Session>>& v, std::chrono::milliseconds d) {
  co_await sleep_for(d);
  for (auto& s : v) s->conn->close();
}

int xmpp_register(Options& o) {
  auto x = parse_xmpp(o);
  auto count = static_cast<std::size_t>(o.num("count", 100));
  auto concurrency = static_cast<std::size_t>(o.num("concurrency", 10));
  o.check_all_used();
  Run run;
  Report rep("xmpp-register");
  int code = run.run([&]() -> awaitable<void> {
    run.deadline(x.com.setup_timeout_s, "in-band registration");
    auto t0 = now_ns();
    co_await run_bounded(count, concurrency, [&](std::size_t i) -> awaitable<void> {
      Session s(run, user_name(x, i));
      co_await s.register_account(x, x.password);
      co_await sleep_for(std::chrono::milliseconds(20));
      s.conn->close();
    });
    rep.add_int("count", static_cast<long long>(count));
    rep.add("seconds", static_cast<double>(now_ns() - t0) / 1e9, 2);
  });
  if (code == 0) rep.print();
  return code;
}

int xmpp_flow(Options& o, bool room) {
  auto x = parse_xmpp(o);
  auto pairs = static_cast<std::size_t>(o.num("pairs", 1));
  auto members = static_cast<std::size_t>(o.num("members", 10));
  double rate = o.real("rate", 1000);
  double seconds = o.real("seconds", 10);
  auto window = static_cast<std::uint64_t>(o.num("window", room ? 16 : 64));
  double drain_s = o.real("drain", 10);
  auto concurrency = static_cast<std::size_t>(o.num("concurrency", 10));
  std::string room_name = o.str("room", "bench");
  o.check_all_used();
  if (pairs < 1 || pairs > 1000 || members < 1 || members > 10000) throw Failure("--pairs 1..1000, --members 1..10000");
  std::size_t n = room ? members + 1 : 2 * pairs;
  Run run;
  Flow st(run.io);
  st.per_message = room ? members + 1 : 1;
  std::vector<std::unique_ptr<Session>> sessions;
  for (std::size_t i = 0; i < n; ++i) sessions.push_back(std::make_unique<Session>(run, user_name(x, i)));
  std::string room_jid = room_name + "@" + x.muc;
  Report rep(room ? "xmpp-room" : "xmpp-one2one");
  int code = run.run([&]() -> awaitable<void> {
    run.deadline(x.com.setup_timeout_s + seconds + drain_s + 10, "logins");
    progress("logging in %zu sessions", n);
    auto setup = [&](std::size_t i) -> awaitable<void> {
      auto& s = *sessions[i];
      co_await s.login(x, x.password, "lg");
      if (room) co_await muc_join(s, room_jid, s.user);
      Session* sp = &s;
      spawn_guarded(run, s.user, [&st, sp]() { return message_reader(st, *sp); });
    };
    if (room) co_await setup(0);  // the first occupant creates the room
    co_await run_bounded(n - (room ? 1 : 0), concurrency,
                         [&](std::size_t i) -> awaitable<void> { co_await setup(i + (room ? 1 : 0)); });
    co_await sleep_for(std::chrono::milliseconds(500));  // presence storms settle
    std::vector<Sender> senders;
    if (room)
      senders.push_back({sessions[0].get(), room_jid, "groupchat"});
    else
      for (std::size_t i = 0; i < pairs; ++i)
        senders.push_back({sessions[i].get(), user_name(x, pairs + i) + "@" + x.domain + "/lg", "chat"});
    progress("sending for %.1f s at %s", seconds, rate > 0 ? std::to_string(rate).c_str() : "max (windowed)");
    if (room)
      rep.add_int("members", static_cast<long long>(members));
    else
      rep.add_int("pairs", static_cast<long long>(pairs));
    co_await pump(run, st, senders, rate, seconds, window, drain_s, x.com.server_pid, rep);
    close_all(run, sessions);
    co_await close_after(sessions, std::chrono::milliseconds(300));
  });
  if (code == 0) rep.print();
  return code;
}

int xmpp_login(Options& o) {
  auto x = parse_xmpp(o);
  auto count = static_cast<std::size_t>(o.num("count", 200));
  auto accounts = static_cast<std::size_t>(o.num("accounts", static_cast<long long>(count)));
  auto concurrency = static_cast<std::size_t>(o.num("concurrency", 10));
  o.check_all_used();
  if (accounts < 1) throw Failure("--accounts must be >= 1");
  Run run;
  Report rep("xmpp-login");
  int code = run.run([&]() -> awaitable<void> {
    run.deadline(x.com.setup_timeout_s, "logins");
    std::int64_t cpu0 = proc_cpu_us(x.com.server_pid);
    auto t0 = now_ns();
    Histogram hist;
    co_await run_bounded(count, concurrency, [&](std::size_t i) -> awaitable<void> {
      Session s(run, user_name(x, i % accounts));
      auto t = now_ns();
      co_await s.login(x, x.password, "l" + std::to_string(i));
      // The bind reply came back; a ping round trip makes sure initial presence was handled.
      s.conn->send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
      for (;;) {
        auto [kind, z] = co_await s.next();
        if (starts(z, "<iq") && attr(z, "id") == "p1") break;
      }
      hist.record((now_ns() - t) / 1000);
      s.conn->send("</stream:stream>");
      try {
        for (;;) co_await s.next();
      } catch (const Failure&) {
      }
      s.conn->close();
    });
    auto el = static_cast<double>(now_ns() - t0) / 1e9;
    std::int64_t cpu1 = proc_cpu_us(x.com.server_pid);
    rep.add_int("count", static_cast<long long>(count));
    rep.add_int("concurrency", static_cast<long long>(concurrency));
    rep.add("seconds", el, 2);
    rep.add("logins_per_s", static_cast<double>(count) / el, 1);
    rep.add("p50_ms", hist.percentile_us(50) / 1000, 2);
    rep.add("p99_ms", hist.percentile_us(99) / 1000, 2);
    if (x.com.server_pid > 0)
      rep.add("server_ms_per_login", static_cast<double>(cpu1 - cpu0) / 1000.0 / static_cast<double>(count), 2);
  });
  if (code == 0) rep.print();
  return code;
}

int xmpp_idle(Options& o) {
  auto x = parse_xmpp(o);
  auto count = static_cast<std::size_t>(o.num("count", 500));
  double seconds = o.real("seconds", 5);
  double settle = o.real("settle", 1.0);
  auto concurrency = static_cast<std::size_t>(o.num("concurrency", 10));
  auto warmup = o.num("warmup", 1);
  o.check_all_used();
  Run run;
  Report rep("xmpp-idle");
  std::vector<std::unique_ptr<Session>> sessions;
  for (std::size_t i = 0; i < count; ++i) sessions.push_back(std::make_unique<Session>(run, user_name(x, i)));
  int code = run.run([&]() -> awaitable<void> {
    run.deadline(x.com.setup_timeout_s + seconds + settle + 5, "logins");
    // Warm-up logins, ended before the first RSS reading: the first TLS session faults in
    // the TLS library's code and tables and the server's one-time state, which are not a
    // per-session cost (servers whose accounts came by in-band registration were already
    // warm; parleyd's seed accounts were not).
    for (long long w = 0; w < warmup; ++w) {
      Session s(run, user_name(x, 0));
      co_await s.login(x, x.password, "warmup" + std::to_string(w));
      s.conn->send("<iq type='get' id='w1'><ping xmlns='urn:xmpp:ping'/></iq>");
      for (;;) {
        auto [kind, z] = co_await s.next();
        if (starts(z, "<iq") && attr(z, "id") == "w1") break;
      }
      s.conn->send("</stream:stream>");
      try {
        for (;;) co_await s.next();
      } catch (const Failure&) {
      }
      s.conn->close();
    }
    if (warmup > 0) co_await sleep_for(std::chrono::milliseconds(300));
    std::int64_t rss0 = proc_rss_kib(x.com.server_pid);
    auto t0 = now_ns();
    co_await run_bounded(count, concurrency, [&](std::size_t i) -> awaitable<void> {
      auto& s = *sessions[i];
      co_await s.login(x, x.password, "idle");
      Session* sp = &s;
      spawn_guarded(run, s.user, [sp]() -> awaitable<void> {
        for (;;) {
          auto [kind, z] = co_await sp->next();
          sp->housekeeping(z);
        }
      });
    });
    auto el = static_cast<double>(now_ns() - t0) / 1e9;
    run.phase("holding idle sessions");
    co_await sleep_for(std::chrono::milliseconds(static_cast<long long>(settle * 1000)));
    std::int64_t rss1 = proc_rss_kib(x.com.server_pid);
    std::printf("READY %zu\n", count);
    std::fflush(stdout);
    co_await sleep_for(std::chrono::milliseconds(static_cast<long long>(seconds * 1000)));
    for (auto& s : sessions)
      if (s->conn->dead()) throw Failure(s->user + " was disconnected while idle: " + s->conn->error());
    rep.add_int("count", static_cast<long long>(count));
    rep.add_int("warmup", warmup);
    rep.add("login_seconds", el, 2);
    if (x.com.server_pid > 0) {
      rep.add_int("server_rss_before_kib", rss0);
      rep.add_int("server_rss_after_kib", rss1);
      rep.add("kib_per_session", static_cast<double>(rss1 - rss0) / static_cast<double>(count), 2);
    }
    close_all(run, sessions);
    co_await close_after(sessions, std::chrono::milliseconds(300));
  });
  if (code == 0) rep.print();
  return code;
}

}  // namespace

awaitable<void> muc_join(Session& s, const std::string& room_jid, const std::string& nick) {
  std::string self = room_jid + "/" + nick;
  s.conn->send("<presence to='" + self +
               "'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>");
  for (;;) {
    auto [kind, z] = co_await s.next();
    if (!starts(z, "<presence") || attr(z, "from") != self) {
      s.housekeeping(z);
      continue;
    }
    if (attr(z, "type") == "error") throw Failure(s.user + ": joining " + self + " failed: " + clip(z));
    if (contains(z, "code='201'") || contains(z, "code=\"201\""))  // new room: accept the default config
      s.conn->send("<iq type='set' id='cfg1' to='" + room_jid +
                   "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' "
                   "type='submit'/></query></iq>");
    co_return;
  }
}

int xmpp_main(const std::string& cmd, Options& o) {
  if (cmd == "xmpp-register") return xmpp_register(o);
  if (cmd == "xmpp-one2one") return xmpp_flow(o, false);
  if (cmd == "xmpp-room") return xmpp_flow(o, true);
  if (cmd == "xmpp-login") return xmpp_login(o);
  if (cmd == "xmpp-idle") return xmpp_idle(o);
  throw Failure("unknown subcommand " + cmd);
}

}  // namespace loadgen

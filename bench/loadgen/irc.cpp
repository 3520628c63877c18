// IRC workloads: channel fan-out (fixed rate or max throughput with a bounded window),
// registrations per second, idle connections held for memory measurement.
#include <charconv>

#include "irc_client.hpp"
#include "run.hpp"

namespace loadgen {

std::string_view irc_command(std::string_view line) {
  auto skip_word = [&] {
    auto sp = line.find(' ');
    line = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  };
  if (!line.empty() && line.front() == '@') skip_word();
  if (!line.empty() && line.front() == ':') skip_word();
  return line.substr(0, line.find(' '));
}

bool irc_housekeeping(Conn& c, std::string_view cmd, std::string_view line) {
  if (cmd == "PING") {
    auto arg = line.substr(line.find("PING") + 4);
    std::string pong = "PONG";
    pong.append(arg);
    pong.append("\r\n");
    c.send(pong);
    return true;
  }
  if (cmd == "ERROR") throw Failure("server sent " + std::string(line));
  return false;
}

bool is_numeric_error(std::string_view cmd) {
  return cmd.size() == 3 && (cmd[0] == '4' || cmd[0] == '5') && std::isdigit(static_cast<unsigned char>(cmd[1]));
}

awaitable<void> irc_register(Conn& c, const std::string& nick, const std::string& pass,
                             const std::string& caps) {
  std::string hello;
  if (!pass.empty()) hello += "PASS " + pass + "\r\n";
  // CAP REQ suspends registration until CAP END (IRCv3 capability negotiation); a NAK for
  // a capability the server lacks is harmless.
  if (!caps.empty()) hello += "CAP REQ :" + caps + "\r\n";
  hello += "NICK " + nick + "\r\nUSER " + nick + " 0 * :parley loadgen\r\n";
  if (!caps.empty()) hello += "CAP END\r\n";
  c.send(hello);
  for (;;) {
    auto line = co_await c.read_line();
    auto cmd = irc_command(line);
    if (irc_housekeeping(c, cmd, line)) continue;
    if (cmd == "001") co_return;
    if (is_numeric_error(cmd)) throw Failure(nick + ": registration refused: " + std::string(line));
  }
}

awaitable<void> irc_join(Conn& c, const std::string& nick, const std::string& channel) {
  c.send("JOIN " + channel + "\r\n");
  for (;;) {
    auto line = co_await c.read_line();
    auto cmd = irc_command(line);
    if (irc_housekeeping(c, cmd, line)) continue;
    if (cmd == "366") co_return;  // RPL_ENDOFNAMES: the join is complete
    if (is_numeric_error(cmd)) throw Failure(nick + ": JOIN " + channel + " refused: " + std::string(line));
  }
}

namespace {

// "seq ts_ns" at the start of a PRIVMSG's trailing parameter.
bool parse_payload(std::string_view line, std::uint64_t& seq, std::int64_t& ts) {
  auto p = line.find(" PRIVMSG ");
  if (p == std::string_view::npos) return false;
  auto t = line.find(" :", p + 9);
  if (t == std::string_view::npos) return false;
  const char* b = line.data() + t + 2;
  const char* e = line.data() + line.size();
  auto r = std::from_chars(b, e, seq);
  if (r.ec != std::errc() || r.ptr == e || *r.ptr != ' ') return false;
  return std::from_chars(r.ptr + 1, e, ts).ec == std::errc();
}

// OPER as NAME:PASSWORD (wait for 381), then MODE +F: senders of a flood benchmark need the
// servers' flood exemptions (InspIRCd: an oper class with users/flood/no-throttle and
// users/flood/no-fakelag; ngircd: user mode F, "relaxed flood protection", oper-only).
// A 501/472 for +F (a server without that mode) is ignored.
awaitable<void> irc_oper(Conn& c, const std::string& nick, const std::string& oper) {
  auto colon = oper.find(':');
  if (colon == std::string::npos) throw Failure("--oper wants NAME:PASSWORD");
  c.send("OPER " + oper.substr(0, colon) + " " + oper.substr(colon + 1) + "\r\n");
  for (;;) {
    auto line = co_await c.read_line();
    auto cmd = irc_command(line);
    if (irc_housekeeping(c, cmd, line)) continue;
    if (cmd == "381") break;  // RPL_YOUREOPER
    if (is_numeric_error(cmd)) throw Failure(nick + ": OPER refused: " + std::string(line));
  }
  // Whatever the server answers to +F (MODE, 501, nothing) is consumed up to the PONG.
  c.send("MODE " + nick + " +F\r\nPING :loadgen-oper\r\n");
  for (;;) {
    auto line = co_await c.read_line();
    auto cmd = irc_command(line);
    if (cmd == "PONG") co_return;
    irc_housekeeping(c, cmd, line);
  }
}

struct Fanout {
  explicit Fanout(asio::io_context& io) : progress(io), joined_sig(io) {}
  std::size_t members = 0;
  std::uint64_t sent = 0, received = 0, bad = 0;
  std::int64_t first_send = 0, last_rx = 0;
  Histogram hist;
  Signal progress;
  std::size_t joined = 0;
  Signal joined_sig;
  bool measuring = false;
};

struct Client {
  std::shared_ptr<Conn> conn;
  std::string nick;
};

std::string nick_for(const std::string& prefix, std::size_t i) { return prefix + std::to_string(i); }

void make_clients(Run& run, std::vector<Client>& v, std::size_t n, const std::string& prefix) {
  v.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i].conn = std::make_shared<Conn>(run.io, run.tls);
    v[i].nick = nick_for(prefix, i);
  }
}

void quit_all(Run& run, std::vector<Client>& clients) {
  run.stopping = true;
  for (auto& c : clients)
    if (c.conn && !c.conn->dead()) c.conn->send("QUIT :bench done\r\n");
}

awaitable<void> close_all_after(std::vector<Client>& clients, std::chrono::milliseconds d) {
  co_await sleep_for(d);
  for (auto& c : clients)
    if (c.conn) c.conn->close();
}

// Reads forever: PRIVMSG payloads are counted and timed, PINGs answered.
awaitable<void> fanout_reader(Fanout& st, Conn& c) {
  for (;;) {
    auto line = co_await c.read_line();
    auto cmd = irc_command(line);
    if (cmd == "PRIVMSG") {
      std::uint64_t seq;
      std::int64_t ts;
      auto now = now_ns();
      if (!parse_payload(line, seq, ts)) {
        ++st.bad;
        continue;
      }
      if (st.measuring) {
        st.hist.record((now - ts) / 1000);
        ++st.received;
        st.last_rx = now;
        st.progress.notify();
      }
      continue;
    }
    irc_housekeeping(c, cmd, line);
  }
}

int irc_fanout(Options& o) {
  Common com = parse_common(o, 6667);
  auto members = static_cast<std::size_t>(o.num("members", 100));
  double rate = o.real("rate", 100);
  double seconds = o.real("seconds", 10);
  auto window = static_cast<std::uint64_t>(o.num("window", 64));
  // Several senders sidestep per-client command throttles that no config turns off
  // (ngircd); senders are channel members too, so each line reaches members+senders-1.
  auto senders = static_cast<std::size_t>(o.num("senders", 1));
  double drain_s = o.real("drain", 10);
  auto concurrency = static_cast<std::size_t>(o.num("concurrency", 50));
  std::string channel = o.str("channel", "#bench");
  std::string prefix = o.str("nick-prefix", "lg");
  std::string pass = o.str("pass", "");
  std::string oper = o.str("oper", "");
  o.check_all_used();
  if (members < 1 || members > 100000) throw Failure("--members must be 1..100000");
  if (senders < 1 || senders > 64) throw Failure("--senders must be 1..64");
  if (rate < 0 || seconds <= 0 || seconds > 3600) throw Failure("--rate >= 0 and --seconds in (0, 3600] please");

  Run run;
  Fanout st(run.io);
  st.members = members + senders - 1;  // deliveries per line
  std::vector<Client> clients;
  make_clients(run, clients, members + senders, prefix);
  Report rep("irc-fanout");
  int code = run.run([&]() -> awaitable<void> {
    auto ep = com.endpoint();
    run.deadline(com.setup_timeout_s + seconds + drain_s + 10, "registration/join");
    progress("registering and joining %zu clients to %s", clients.size(), channel.c_str());
    co_await run_bounded(clients.size(), concurrency, [&](std::size_t i) -> awaitable<void> {
      auto& cl = clients[i];
      co_await cl.conn->connect(ep);
      co_await irc_register(*cl.conn, cl.nick, pass);
      if (i < senders && !oper.empty()) co_await irc_oper(*cl.conn, cl.nick, oper);
      co_await irc_join(*cl.conn, cl.nick, channel);
      spawn_guarded(run, cl.nick, [&st, &cl]() { return fanout_reader(st, *cl.conn); });
    });
    // Every member has seen its own 366; let the JOIN storm settle before measuring.
    co_await sleep_for(std::chrono::milliseconds(300));
    run.phase("sending");
    progress("sending for %.1f s at %s", seconds, rate > 0 ? std::to_string(rate).c_str() : "max (windowed)");
    std::string batch;
    std::size_t next_tx = 0;
    auto flush = [&] {
      if (batch.empty()) return;
      Conn& tx = *clients[next_tx].conn;
      next_tx = (next_tx + 1) % senders;
      tx.send(batch);
      batch.clear();
      if (tx.dead()) throw Failure("sender: " + tx.error());
    };
    std::int64_t cpu0 = proc_cpu_us(com.server_pid), self0 = self_cpu_us();
    st.measuring = true;
    st.first_send = now_ns();
    auto end = st.first_send + static_cast<std::int64_t>(seconds * 1e9);
    auto add_line = [&] {
      char b[128];
      int n = std::snprintf(b, sizeof b, "PRIVMSG %s :%llu %lld parley-loadgen\r\n", channel.c_str(),
                            static_cast<unsigned long long>(st.sent), static_cast<long long>(now_ns()));
      batch.append(b, static_cast<std::size_t>(n));
      ++st.sent;
    };
    if (rate > 0) {
      auto period = 1e9 / rate;
      for (;;) {
        auto now = now_ns();
        if (now >= end) break;
        auto due = static_cast<std::uint64_t>((static_cast<double>(now - st.first_send)) / period) + 1;
        batch.clear();
        while (st.sent < due) add_line();
        flush();
        auto next = st.first_send + static_cast<std::int64_t>(static_cast<double>(st.sent) * period);
        co_await sleep_for(std::chrono::nanoseconds(std::max<std::int64_t>(0, next - now_ns())));
      }
    } else {
      std::uint64_t window_deliveries = window * st.members;
      auto per_write = std::max<std::uint64_t>(1, window / senders);
      for (;;) {
        if (now_ns() >= end) break;
        batch.clear();
        while (st.sent * st.members - st.received < window_deliveries) {
          add_line();
          if (st.sent % per_write == 0) flush();
        }
        flush();
        if (!co_await st.progress.wait_for(std::chrono::milliseconds(5000)))
          throw Failure("no delivery for 5 s: " + std::to_string(st.sent) + " lines sent, " +
                        std::to_string(st.received) + " of " + std::to_string(st.sent * st.members) +
                        " deliveries seen (server stalled or dropping lines)");
      }
    }
    run.phase("draining");
    auto drain_end = now_ns() + static_cast<std::int64_t>(drain_s * 1e9);
    while (st.received < st.sent * st.members && now_ns() < drain_end)
      co_await st.progress.wait_for(std::chrono::milliseconds(200));
    std::int64_t cpu1 = proc_cpu_us(com.server_pid), self1 = self_cpu_us();
    double elapsed = static_cast<double>(std::max(st.last_rx, st.first_send + 1) - st.first_send) / 1e9;
    std::uint64_t expected = st.sent * st.members;
    rep.add_int("members", static_cast<long long>(members));
    rep.add_int("senders", static_cast<long long>(senders));
    rep.add("rate", rate > 0 ? rate : 0.0, 0);
    rep.add_int("sent", static_cast<long long>(st.sent));
    rep.add_int("delivered", static_cast<long long>(st.received));
    rep.add_int("lost", static_cast<long long>(expected > st.received ? expected - st.received : 0));
    rep.add_int("malformed", static_cast<long long>(st.bad));
    rep.add("seconds", elapsed, 2);
    rep.add("lines_per_s", static_cast<double>(st.received) / elapsed, 0);
    rep.add("p50_ms", st.hist.percentile_us(50) / 1000, 3);
    rep.add("p99_ms", st.hist.percentile_us(99) / 1000, 3);
    rep.add("max_ms", st.hist.max_us() / 1000, 3);
    if (com.server_pid > 0) {
      rep.add("server_cpu_s", static_cast<double>(cpu1 - cpu0) / 1e6, 2);
      // Server CPU seconds per wall second (1.0 = one core busy): tells a server that is
      // saturated from one that is waiting (throttling, timers, or a slow generator).
      rep.add("server_cpu_util", static_cast<double>(cpu1 - cpu0) / 1e6 / elapsed, 2);
      rep.add("server_us_per_line",
              st.received ? static_cast<double>(cpu1 - cpu0) / static_cast<double>(st.received) : NAN, 3);
    }
    rep.add("loadgen_cpu_s", static_cast<double>(self1 - self0) / 1e6, 2);
    quit_all(run, clients);
    co_await close_all_after(clients, std::chrono::milliseconds(200));
  });
  if (code == 0) rep.print();
  return code;
}

int irc_register_cmd(Options& o) {
  Common com = parse_common(o, 6667);
  auto count = static_cast<std::size_t>(o.num("count", 1000));
  auto concurrency = static_cast<std::size_t>(o.num("concurrency", 20));
  std::string prefix = o.str("nick-prefix", "rg");
  std::string pass = o.str("pass", "");
  o.check_all_used();
  if (count < 1 || count > 1000000) throw Failure("--count must be 1..1000000");
  Run run;
  Report rep("irc-register");
  int code = run.run([&]() -> awaitable<void> {
    auto ep = com.endpoint();
    run.deadline(com.setup_timeout_s, "registrations");
    std::int64_t cpu0 = proc_cpu_us(com.server_pid);
    auto t0 = now_ns();
    Histogram hist;
    co_await run_bounded(count, concurrency, [&](std::size_t i) -> awaitable<void> {
      auto cp = std::make_shared<Conn>(run.io, run.tls);
      Conn& c = *cp;
      auto s = now_ns();
      co_await c.connect(ep);
      co_await irc_register(c, nick_for(prefix, i), pass);
      hist.record((now_ns() - s) / 1000);
      c.send("QUIT :bench\r\n");
      // Wait for the server's ERROR/close so the QUIT is processed inside the measurement.
      try {
        for (;;) {
          auto line = co_await c.read_line();
          if (irc_command(line) == "ERROR") break;
        }
      } catch (const Failure&) {
      }
      c.close();
    });
    auto el = static_cast<double>(now_ns() - t0) / 1e9;
    std::int64_t cpu1 = proc_cpu_us(com.server_pid);
    rep.add_int("count", static_cast<long long>(count));
    rep.add_int("concurrency", static_cast<long long>(concurrency));
    rep.add("seconds", el, 2);
    rep.add("registrations_per_s", static_cast<double>(count) / el, 0);
    rep.add("p50_ms", hist.percentile_us(50) / 1000, 3);
    rep.add("p99_ms", hist.percentile_us(99) / 1000, 3);
    if (com.server_pid > 0)
      rep.add("server_us_per_registration", static_cast<double>(cpu1 - cpu0) / static_cast<double>(count), 1);
  });
  if (code == 0) rep.print();
  return code;
}

int irc_idle(Options& o) {
  Common com = parse_common(o, 6667);
  auto count = static_cast<std::size_t>(o.num("count", 1000));
  double seconds = o.real("seconds", 5);
  auto concurrency = static_cast<std::size_t>(o.num("concurrency", 20));
  std::string prefix = o.str("nick-prefix", "id");
  std::string pass = o.str("pass", "");
  double settle = o.real("settle", 1.0);
  o.check_all_used();
  if (count < 1 || count > 100000) throw Failure("--count must be 1..100000");
  Run run;
  Report rep("irc-idle");
  std::vector<Client> clients;
  make_clients(run, clients, count, prefix);
  int code = run.run([&]() -> awaitable<void> {
    auto ep = com.endpoint();
    run.deadline(com.setup_timeout_s + seconds + settle + 5, "registrations");
    std::int64_t rss0 = proc_rss_kib(com.server_pid);
    auto t0 = now_ns();
    co_await run_bounded(count, concurrency, [&](std::size_t i) -> awaitable<void> {
      auto& cl = clients[i];
      co_await cl.conn->connect(ep);
      co_await irc_register(*cl.conn, cl.nick, pass);
      spawn_guarded(run, cl.nick, [&cl]() -> awaitable<void> {
        for (;;) {
          auto line = co_await cl.conn->read_line();
          irc_housekeeping(*cl.conn, irc_command(line), line);
        }
      });
    });
    auto el = static_cast<double>(now_ns() - t0) / 1e9;
    run.phase("holding idle connections");
    co_await sleep_for(std::chrono::milliseconds(static_cast<long long>(settle * 1000)));
    std::int64_t rss1 = proc_rss_kib(com.server_pid);
    std::printf("READY %zu\n", count);
    std::fflush(stdout);
    co_await sleep_for(std::chrono::milliseconds(static_cast<long long>(seconds * 1000)));
    for (auto& c : clients)
      if (c.conn->dead()) throw Failure(c.nick + " was disconnected while idle: " + c.conn->error());
    rep.add_int("count", static_cast<long long>(count));
    rep.add("connect_seconds", el, 2);
    if (com.server_pid > 0) {
      rep.add_int("server_rss_before_kib", rss0);
      rep.add_int("server_rss_after_kib", rss1);
      rep.add("kib_per_connection", static_cast<double>(rss1 - rss0) / static_cast<double>(count), 2);
    }
    quit_all(run, clients);
    co_await close_all_after(clients, std::chrono::milliseconds(300));
  });
  if (code == 0) rep.print();
  return code;
}

}  // namespace

int irc_main(const std::string& cmd, Options& o) {
  if (cmd == "irc-fanout") return irc_fanout(o);
  if (cmd == "irc-register") return irc_register_cmd(o);
  if (cmd == "irc-idle") return irc_idle(o);
  throw Failure("unknown subcommand " + cmd);
}

}  // namespace loadgen

// The honest side of the hostile-load benchmark (bench/hostile.py): IRC guests and XMPP
// account holders chatting in shared rooms and by direct messages at a fixed rate, each
// message to each of its intended recipients counted and timed. Unlike the other
// workloads, a user the server disconnects is not a failure of the run: it is recorded,
// and every message it should have received counts as lost — that is the figure the
// hostile benchmark exists to show.
#include <array>
#include <charconv>

#include "irc_client.hpp"
#include "xmpp_session.hpp"

namespace loadgen {
namespace {

constexpr std::size_t kMaxUsers = 256;  // recipients of one message fit a 256-bit mask

struct User {
  bool xmpp = false;
  std::string name;            // IRC nick, or XMPP account (also its MUC nick)
  std::shared_ptr<Conn> irc;   // IRC users
  std::unique_ptr<Session> x;  // XMPP users
  std::vector<std::size_t> rooms;
  asio::ip::address source;
  bool dead = false;
  Conn& conn() { return xmpp ? *x->conn : *irc; }
};

// One sent message: when, to whom, and which intended recipients have it.
struct Sent {
  std::int64_t ts = 0;
  std::int32_t room = -1;  // -1: a direct message to `target`
  std::uint32_t target = 0;
  std::array<std::uint64_t, kMaxUsers / 64> got{};
};

struct Chat {
  explicit Chat(asio::io_context& io) : progress(io), senders_done(io) {}
  std::vector<User> users;
  std::vector<std::vector<bool>> in_room;  // [room][user]
  std::vector<std::vector<Sent>> sent;     // [sender][seq]
  Histogram all, to_irc, to_xmpp;
  std::uint64_t expected = 0, expected_irc = 0, expected_xmpp = 0;
  std::uint64_t delivered = 0, delivered_irc = 0, delivered_xmpp = 0;
  std::uint64_t duplicates = 0, stray = 0, reflections = 0, foreign = 0, error_messages = 0;
  std::uint64_t not_sent_dead = 0, messages_sent = 0;
  std::size_t disconnected = 0, running_senders = 0;
  std::int64_t last_rx = 0;
  std::string first_error;
  Signal progress, senders_done;

  bool intended(const Sent& m, std::size_t sender, std::size_t r) const {
    if (r == sender) return false;
    return m.room < 0 ? m.target == r : in_room[static_cast<std::size_t>(m.room)][r];
  }

  // A message body seen by receiver r: "HB sender seq send_ns" from an honest user, or
  // anything else (attack traffic in the same rooms), which is only counted.
  void on_body(std::size_t r, std::string_view body) {
    auto now = now_ns();
    if (body.substr(0, 3) != "HB ") {
      ++foreign;
      return;
    }
    const char* p = body.data() + 3;
    const char* e = body.data() + body.size();
    std::size_t s = 0;
    std::uint64_t q = 0;
    std::int64_t ts = 0;
    auto a = std::from_chars(p, e, s);
    if (a.ec != std::errc() || a.ptr == e) return void(++stray);
    auto b = std::from_chars(a.ptr + 1, e, q);
    if (b.ec != std::errc() || b.ptr == e) return void(++stray);
    if (std::from_chars(b.ptr + 1, e, ts).ec != std::errc()) return void(++stray);
    if (s >= sent.size() || q >= sent[s].size()) return void(++stray);
    Sent& m = sent[s][q];
    if (r == s) return void(++reflections);  // an XMPP occupant's own groupchat message
    if (!intended(m, s, r) || ts != m.ts) return void(++stray);
    auto& word = m.got[r / 64];
    auto bit = std::uint64_t{1} << (r % 64);
    if (word & bit) return void(++duplicates);
    word |= bit;
    auto us = (now - ts) / 1000;
    all.record(us);
    (users[r].xmpp ? to_xmpp : to_irc).record(us);
    ++delivered;
    ++(users[r].xmpp ? delivered_xmpp : delivered_irc);
    last_rx = now;
    progress.notify();
  }

  void mark_dead(std::size_t r, const std::string& why) {
    if (users[r].dead) return;
    users[r].dead = true;
    ++disconnected;
    // One line per disconnected user on stdout, for the driver's report.
    std::printf("DISCONNECT %s %s\n", users[r].name.c_str(), why.substr(0, 300).c_str());
    std::fflush(stdout);
    progress.notify();
  }
};

awaitable<void> irc_reader(Chat& st, std::size_t r) {
  Conn& c = *st.users[r].irc;
  for (;;) {
    auto line = co_await c.read_line();
    auto cmd = irc_command(line);
    if (cmd == "PRIVMSG" || cmd == "NOTICE") {
      auto p = line.find(cmd == "PRIVMSG" ? " PRIVMSG " : " NOTICE ");
      auto t = line.find(" :", p + 1);
      if (t != std::string_view::npos) st.on_body(r, line.substr(t + 2));
      continue;
    }
    irc_housekeeping(c, cmd, line);  // PING; ERROR (e.g. "SendQ exceeded") ends the user
  }
}

awaitable<void> xmpp_reader(Chat& st, std::size_t r) {
  Session& s = *st.users[r].x;
  for (;;) {
    auto [kind, z] = co_await s.next();
    if (starts(z, "<message")) {
      if (attr(z, "type") == "error") {
        if (st.first_error.empty()) st.first_error = clip(z);
        ++st.error_messages;
        continue;
      }
      auto b = z.find("<body>");
      if (b == std::string_view::npos) continue;
      auto e = z.find("</body>", b);
      if (e == std::string_view::npos) continue;
      st.on_body(r, z.substr(b + 6, e - b - 6));
      continue;
    }
    s.housekeeping(z);
  }
}

void spawn_reader(Run& run, Chat& st, std::size_t r) {
  asio::co_spawn(
      run.io,
      [&run, &st, r]() -> awaitable<void> {
        try {
          if (st.users[r].xmpp)
            co_await xmpp_reader(st, r);
          else
            co_await irc_reader(st, r);
        } catch (const std::exception& e) {
          if (!run.stopping) st.mark_dead(r, e.what());
        }
      },
      asio::detached);
}

awaitable<void> sleep_until_ns(std::int64_t t) {
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           std::chrono::steady_clock::time_point(std::chrono::nanoseconds(t)));
  co_await timer.async_wait(use_awaitable);
}

struct ChatOpts {
  XmppOpts x;
  int irc_port = 0;
  std::size_t irc_users = 25, xmpp_users = 25, rooms = 5, rooms_per_user = 2, dm_every = 3;
  double rate = 1, seconds = 60, start_delay = 5, drain = 10;
  std::string nick_prefix, caps, room_prefix;
  asio::ip::address_v4 source_base;
  std::size_t concurrency = 10;
};

std::string room_jid(const ChatOpts& o, std::size_t r) {
  return o.room_prefix + std::to_string(r) + "@" + o.x.muc;
}
std::string channel(const ChatOpts& o, std::size_t r) { return "#" + o.room_prefix + std::to_string(r); }

// Message k of user s: every dm_every-th one a direct message (alternately to the user of
// the other protocol half a list away and to the next user), the others to the user's
// rooms in turn.
void send_one(Chat& st, const ChatOpts& o, std::size_t s, std::uint64_t k) {
  User& u = st.users[s];
  const std::size_t n = st.users.size();
  Sent m;
  bool dm = o.dm_every > 0 && k % o.dm_every == o.dm_every - 1;
  if (dm) {
    m.target = static_cast<std::uint32_t>((k / o.dm_every) % 2 == 0 ? (s + n / 2) % n : (s + 1) % n);
    if (m.target == s) dm = false;
  }
  if (!dm) m.room = static_cast<std::int32_t>(u.rooms[k % u.rooms.size()]);
  const std::uint64_t q = st.sent[s].size();
  m.ts = now_ns();
  char body[96];
  std::snprintf(body, sizeof body, "HB %zu %llu %lld", s, static_cast<unsigned long long>(q),
                static_cast<long long>(m.ts));
  for (std::size_t r = 0; r < n; ++r) {
    if (!st.intended(m, s, r)) continue;
    ++st.expected;
    ++(st.users[r].xmpp ? st.expected_xmpp : st.expected_irc);
  }
  st.sent[s].push_back(m);
  ++st.messages_sent;
  std::string out;
  if (!u.xmpp) {
    out = "PRIVMSG " + (dm ? st.users[m.target].name : channel(o, static_cast<std::size_t>(m.room))) + " :" +
          body + "\r\n";
  } else {
    std::string to =
        dm ? st.users[m.target].name + "@" + o.x.domain : room_jid(o, static_cast<std::size_t>(m.room));
    out = "<message to='" + to + "' type='" + (dm ? "chat" : "groupchat") + "' id='hb" + std::to_string(s) +
          "-" + std::to_string(q) + "'><body>" + body + "</body></message>";
  }
  u.conn().send(out);
}

awaitable<void> user_sender(Chat& st, const ChatOpts& o, std::size_t s, std::int64_t t0, std::int64_t end) {
  const double period = 1e9 / o.rate;
  const double offset = static_cast<double>(s) / static_cast<double>(st.users.size());  // spread the users
  for (std::uint64_t k = 0;; ++k) {
    auto due = t0 + static_cast<std::int64_t>((static_cast<double>(k) + offset) * period);
    if (due >= end) break;
    co_await sleep_until_ns(due);
    if (st.users[s].dead || st.users[s].conn().dead()) {
      ++st.not_sent_dead;
      continue;
    }
    send_one(st, o, s, k);
  }
  if (--st.running_senders == 0) st.senders_done.notify();
}

int chat_cmd(Options& opt) {
  ChatOpts o;
  o.x = parse_xmpp(opt);  // --port is the XMPP port
  o.irc_port = static_cast<int>(opt.num("irc-port", 6667));
  o.irc_users = static_cast<std::size_t>(opt.num("irc-users", 25));
  o.xmpp_users = static_cast<std::size_t>(opt.num("xmpp-users", 25));
  o.rooms = static_cast<std::size_t>(opt.num("rooms", 5));
  o.rooms_per_user = static_cast<std::size_t>(opt.num("rooms-per-user", 2));
  o.dm_every = static_cast<std::size_t>(opt.num("dm-every", 3));
  o.rate = opt.real("rate", 1);
  o.seconds = opt.real("seconds", 60);
  o.start_delay = opt.real("start-delay", 5);
  o.drain = opt.real("drain", 10);
  o.nick_prefix = opt.str("nick-prefix", "hi");
  o.room_prefix = opt.str("room-prefix", "hroom");
  o.caps = opt.str("irc-caps", "message-tags server-time");
  o.source_base = asio::ip::make_address_v4(opt.str("source-base", "127.0.1.1"));
  o.concurrency = static_cast<std::size_t>(opt.num("concurrency", 10));
  opt.check_all_used();
  const std::size_t n = o.irc_users + o.xmpp_users;
  if (n < 2 || n > kMaxUsers) throw Failure("--irc-users + --xmpp-users must be 2..256");
  if (o.rooms < 1 || o.rooms_per_user < 1 || o.rooms_per_user > o.rooms)
    throw Failure("need 1 <= --rooms-per-user <= --rooms");
  if (o.rate <= 0 || o.rate > 1000 || o.seconds <= 0 || o.seconds > 3600 || o.start_delay < 0 ||
      o.start_delay > 600 || o.drain < 0 || o.drain > 600)
    throw Failure(
        "--rate in (0, 1000], --seconds in (0, 3600], --start-delay and --drain in [0, 600] please");
  if (!o.source_base.is_loopback()) throw Failure("--source-base must be a loopback address");

  Run run;
  Chat st(run.io);
  st.users.resize(n);
  st.sent.resize(n);
  st.in_room.assign(o.rooms, std::vector<bool>(n, false));
  for (std::size_t i = 0; i < n; ++i) {
    User& u = st.users[i];
    u.xmpp = i >= o.irc_users;
    u.name = u.xmpp ? o.x.prefix + std::to_string(i - o.irc_users) : o.nick_prefix + std::to_string(i);
    if (u.xmpp)
      u.x = std::make_unique<Session>(run, u.name);
    else
      u.irc = std::make_shared<Conn>(run.io, run.tls);
    for (std::size_t j = 0; j < o.rooms_per_user; ++j) {
      std::size_t r = (i + j) % o.rooms;
      u.rooms.push_back(r);
      st.in_room[r][i] = true;
    }
    u.source = asio::ip::address_v4(o.source_base.to_uint() + static_cast<std::uint32_t>(i));
  }
  Report rep("chat");
  int code = run.run([&]() -> awaitable<void> {
    run.deadline(o.x.com.setup_timeout_s + o.start_delay + o.seconds + o.drain + 15, "logins and joins");
    tcp::endpoint irc_ep(asio::ip::make_address(o.x.com.host), static_cast<unsigned short>(o.irc_port));
    progress("%zu IRC and %zu XMPP users joining %zu rooms", o.irc_users, o.xmpp_users, o.rooms);
    // IRC users first: their JOINs create the rooms, so no XMPP occupant has to configure one.
    co_await run_bounded(o.irc_users, o.concurrency, [&](std::size_t i) -> awaitable<void> {
      User& u = st.users[i];
      co_await u.irc->connect(irc_ep, u.source);
      co_await irc_register(*u.irc, u.name, "", o.caps);
      for (auto r : u.rooms) co_await irc_join(*u.irc, u.name, channel(o, r));
      spawn_reader(run, st, i);
    });
    co_await run_bounded(o.xmpp_users, o.concurrency, [&](std::size_t j) -> awaitable<void> {
      std::size_t i = o.irc_users + j;
      User& u = st.users[i];
      co_await u.x->login(o.x, o.x.password, "hb", true, u.source);
      for (auto r : u.rooms) co_await muc_join(*u.x, room_jid(o, r), u.name);
      spawn_reader(run, st, i);
    });
    co_await sleep_for(std::chrono::milliseconds(500));  // join and presence storms settle
    for (std::size_t i = 0; i < n; ++i)
      if (st.users[i].dead) throw Failure(st.users[i].name + " was disconnected before the measurement");
    // The driver starts its attackers on READY; the measurement begins start-delay later.
    std::printf("READY %zu\n", n);
    std::fflush(stdout);
    run.phase("start delay");
    co_await sleep_for(std::chrono::milliseconds(static_cast<long long>(o.start_delay * 1000)));
    run.phase("chatting");
    progress("chatting for %.0f s, %.2f messages/s per user", o.seconds, o.rate);
    std::printf("SENDING\n");
    std::fflush(stdout);
    std::int64_t cpu0 = proc_cpu_us(o.x.com.server_pid), self0 = self_cpu_us();
    auto t0 = now_ns();
    auto end = t0 + static_cast<std::int64_t>(o.seconds * 1e9);
    st.running_senders = n;
    for (std::size_t s = 0; s < n; ++s)
      asio::co_spawn(run.io, user_sender(st, o, s, t0, end), asio::detached);
    while (st.running_senders > 0) co_await st.senders_done.wait_for(std::chrono::milliseconds(500));
    run.phase("draining");
    auto drain_end = now_ns() + static_cast<std::int64_t>(o.drain * 1e9);
    // Ends early once everything arrived, or when users were disconnected (their messages
    // can never arrive) and nothing else has arrived for 2 s.
    while (st.delivered < st.expected && now_ns() < drain_end) {
      if (st.disconnected > 0 && now_ns() - std::max(st.last_rx, end) > 2'000'000'000) break;
      co_await st.progress.wait_for(std::chrono::milliseconds(200));
    }
    std::int64_t cpu1 = proc_cpu_us(o.x.com.server_pid), self1 = self_cpu_us();
    rep.add_int("irc_users", static_cast<long long>(o.irc_users));
    rep.add_int("xmpp_users", static_cast<long long>(o.xmpp_users));
    rep.add_int("rooms", static_cast<long long>(o.rooms));
    rep.add("rate_per_user", o.rate, 2);
    rep.add("seconds", o.seconds, 1);
    rep.add_int("sent", static_cast<long long>(st.messages_sent));
    rep.add_int("not_sent_disconnected", static_cast<long long>(st.not_sent_dead));
    rep.add_int("expected", static_cast<long long>(st.expected));
    rep.add_int("delivered", static_cast<long long>(st.delivered));
    rep.add_int("lost", static_cast<long long>(st.expected - st.delivered));
    rep.add_int("lost_to_irc", static_cast<long long>(st.expected_irc - st.delivered_irc));
    rep.add_int("lost_to_xmpp", static_cast<long long>(st.expected_xmpp - st.delivered_xmpp));
    rep.add_int("duplicates", static_cast<long long>(st.duplicates));
    rep.add_int("stray", static_cast<long long>(st.stray));
    rep.add_int("foreign", static_cast<long long>(st.foreign));
    rep.add_int("error_messages", static_cast<long long>(st.error_messages));
    rep.add_int("disconnected", static_cast<long long>(st.disconnected));
    rep.add("p50_ms", st.all.percentile_us(50) / 1000, 3);
    rep.add("p90_ms", st.all.percentile_us(90) / 1000, 3);
    rep.add("p99_ms", st.all.percentile_us(99) / 1000, 3);
    rep.add("p999_ms", st.all.percentile_us(99.9) / 1000, 3);
    rep.add("max_ms", st.all.max_us() / 1000, 3);
    rep.add("p99_to_irc_ms", st.to_irc.percentile_us(99) / 1000, 3);
    rep.add("p99_to_xmpp_ms", st.to_xmpp.percentile_us(99) / 1000, 3);
    if (o.x.com.server_pid > 0) rep.add("server_cpu_s", static_cast<double>(cpu1 - cpu0) / 1e6, 2);
    rep.add("loadgen_cpu_s", static_cast<double>(self1 - self0) / 1e6, 2);
    if (!st.first_error.empty()) progress("first error message: %s", st.first_error.c_str());
    run.stopping = true;
    for (auto& u : st.users) {
      if (u.dead) continue;
      if (u.xmpp)
        u.x->bye();
      else
        u.irc->send("QUIT :bench done\r\n");
    }
    co_await sleep_for(std::chrono::milliseconds(300));
    for (auto& u : st.users) u.conn().close();
  });
  if (code == 0) rep.print();
  return code;
}

}  // namespace

int chat_main(Options& o) { return chat_cmd(o); }

}  // namespace loadgen

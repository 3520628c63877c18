// XMPP c2s workloads: in-band registration, one-to-one messages, MUC room fan-out, logins
// per second, idle sessions. Every client logs in the way RFC 6120 orders it: stream
// header, STARTTLS (any certificate), SASL PLAIN, stream restart, resource binding, the
// legacy session if it is not optional, initial presence.
#include <charconv>
#include <openssl/evp.h>

#include "run.hpp"

namespace loadgen {
namespace {

// Cuts the stream header and top-level elements out of the XMPP stream. Just enough XML
// for well-behaved servers: tags are scanned with quote tracking, depth is counted.
class Framer {
 public:
  enum class Kind { header, stanza, close };
  struct Item {
    Kind kind;
    std::size_t begin, end;
  };
  void restart() { in_stream_ = false; }

  std::optional<Item> next(std::string_view d) {
    std::size_t i = 0, n = d.size();
    for (;;) {
      while (i < n && d[i] != '<') ++i;  // whitespace keep-alives and text between stanzas
      if (i + 1 >= n) return std::nullopt;
      if (d[i + 1] != '?') break;
      auto e = d.find("?>", i);
      if (e == std::string_view::npos) return std::nullopt;
      i = e + 2;
    }
    std::size_t begin = i;
    if (!in_stream_) {
      auto e = tag_end(d, i);
      if (!e) return std::nullopt;
      in_stream_ = true;
      return Item{Kind::header, begin, *e};
    }
    if (d[i + 1] == '/') {
      auto gt = d.find('>', i);
      if (gt == std::string_view::npos) return std::nullopt;
      return Item{Kind::close, begin, gt + 1};
    }
    int depth = 0;
    for (;;) {
      auto lt = d.find('<', i);
      if (lt == std::string_view::npos || lt + 1 >= n) return std::nullopt;
      if (d[lt + 1] == '/') {
        auto gt = d.find('>', lt);
        if (gt == std::string_view::npos) return std::nullopt;
        i = gt + 1;
        if (--depth == 0) return Item{Kind::stanza, begin, i};
        continue;
      }
      auto e = tag_end(d, lt);
      if (!e) return std::nullopt;
      i = *e;
      if (d[i - 2] == '/') {
        if (depth == 0) return Item{Kind::stanza, begin, i};
      } else {
        ++depth;
      }
    }
  }

 private:
  static std::optional<std::size_t> tag_end(std::string_view d, std::size_t lt) {
    char quote = 0;
    for (std::size_t i = lt + 1; i < d.size(); ++i) {
      char c = d[i];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '>') {
        return i + 1;
      }
    }
    return std::nullopt;
  }
  bool in_stream_ = false;
};

std::string_view start_tag(std::string_view s) { return s.substr(0, s.find('>') + 1); }

// Value of attribute `name` in the start tag of `s` (either quote style); empty if absent.
std::string_view attr(std::string_view s, std::string_view name) {
  auto tag = start_tag(s);
  for (std::size_t p = 0; (p = tag.find(name, p)) != std::string_view::npos; p += name.size()) {
    if (p == 0 || tag[p - 1] != ' ') continue;
    auto q = p + name.size();
    if (q + 1 >= tag.size() || tag[q] != '=') continue;
    char quote = tag[q + 1];
    auto e = tag.find(quote, q + 2);
    if (e == std::string_view::npos) return {};
    return tag.substr(q + 2, e - q - 2);
  }
  return {};
}

bool starts(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool contains(std::string_view s, std::string_view p) { return s.find(p) != std::string_view::npos; }

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string clip(std::string_view s) { return std::string(s.substr(0, 600)); }

struct Account {
  std::string user, password;
};

struct XmppOpts {
  Common com;
  std::string domain, muc, prefix, password;
};

XmppOpts parse_xmpp(Options& o) {
  XmppOpts x{parse_common(o, 5222), "", "", "", ""};
  x.domain = o.str("domain", "localhost");
  x.muc = o.str("muc", "conference." + x.domain);
  x.prefix = o.str("user-prefix", "u");
  x.password = o.str("password", "pw");
  return x;
}

class Session {
 public:
  Session(Run& run, std::string name) : conn(std::make_shared<Conn>(run.io, run.tls)), user(std::move(name)) {}
  std::shared_ptr<Conn> conn;
  std::string user, jid;

  // The next header/stanza; the view lives until the next call. Fails on stream errors.
  awaitable<std::pair<Framer::Kind, std::string_view>> next() {
    for (;;) {
      if (auto it = framer_.next(conn->data())) {
        auto s = conn->data().substr(it->begin, it->end - it->begin);
        conn->consume(it->end);
        if (it->kind == Framer::Kind::close) throw Failure(user + ": server closed the stream");
        if (starts(s, "<stream:error")) throw Failure(user + ": stream error: " + clip(s));
        co_return std::pair{it->kind, s};
      }
      co_await conn->read_more();
    }
  }

  awaitable<std::string_view> expect(std::string_view prefix, const char* what) {
    auto [kind, s] = co_await next();
    if (kind == Framer::Kind::header || !starts(s, prefix))
      throw Failure(user + ": expected " + what + ", got: " + clip(s));
    co_return s;
  }

  awaitable<std::string> open_stream(const std::string& domain) {
    framer_.restart();
    conn->send("<?xml version='1.0'?><stream:stream to='" + domain +
               "' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
    auto [kind, h] = co_await next();
    if (kind != Framer::Kind::header || !starts(h, "<stream:stream"))
      throw Failure(user + ": expected a stream header, got: " + clip(h));
    auto f = co_await expect("<stream:features", "<stream:features/>");
    co_return std::string(f);
  }

  // Waits for the iq reply with `id` (skipping other stanzas); fails on type='error'.
  awaitable<std::string> iq_reply(std::string_view id, const char* what, bool error_ok_if_conflict = false) {
    for (;;) {
      auto [kind, s] = co_await next();
      if (!starts(s, "<iq") || attr(s, "id") != id) continue;
      if (attr(s, "type") == "result") co_return std::string(s);
      if (error_ok_if_conflict && contains(s, "<conflict")) co_return std::string(s);
      throw Failure(user + ": " + what + " failed: " + clip(s));
    }
  }

  // Connect, STARTTLS if offered; returns the features of the (secured) stream.
  awaitable<std::string> connect_tls(const XmppOpts& x) {
    co_await conn->connect(x.com.endpoint());
    auto f = co_await open_stream(x.domain);
    if (contains(f, "<starttls")) {
      conn->send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      co_await expect("<proceed", "<proceed/> to STARTTLS");
      co_await conn->start_tls();
      f = co_await open_stream(x.domain);
    }
    co_return f;
  }

  awaitable<void> login(const XmppOpts& x, const std::string& password, const std::string& resource,
                        bool presence = true) {
    auto f = co_await connect_tls(x);
    if (!contains(f, ">PLAIN<")) throw Failure(user + ": server offers no SASL PLAIN: " + clip(f));
    std::string creds;
    creds.push_back('\0');
    creds += user;
    creds.push_back('\0');
    creds += password;
    conn->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + base64(creds) + "</auth>");
    auto [kind, s] = co_await next();
    if (!starts(s, "<success")) throw Failure(user + ": SASL PLAIN refused: " + clip(s));
    f = co_await open_stream(x.domain);
    conn->send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource +
               "</resource></bind></iq>");
    auto r = co_await iq_reply("bind1", "resource binding");
    auto a = r.find("<jid>"), b = r.find("</jid>");
    jid = (a != std::string::npos && b != std::string::npos) ? r.substr(a + 5, b - a - 5) : "";
    if (contains(f, "urn:ietf:params:xml:ns:xmpp-session") && !contains(f, "<optional")) {
      conn->send("<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
      co_await iq_reply("sess1", "session establishment");
    }
    if (presence) conn->send("<presence/>");
  }

  awaitable<void> register_account(const XmppOpts& x, const std::string& password) {
    co_await connect_tls(x);
    conn->send("<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>" + user +
               "</username><password>" + password + "</password></query></iq>");
    co_await iq_reply("reg1", "in-band registration", true);
    conn->send("</stream:stream>");
  }

  // Answers pings (XEP-0199) from the server; other iqs are ignored.
  void housekeeping(std::string_view s) {
    if (starts(s, "<iq") && attr(s, "type") == "get" && contains(s, "urn:xmpp:ping")) {
      std::string reply = "<iq type='result' id='" + std::string(attr(s, "id")) + "'";
      if (auto from = attr(s, "from"); !from.empty()) reply += " to='" + std::string(from) + "'";
      conn->send(reply + "/>");
    }
  }

  void bye() {
    if (!conn->dead()) conn->send("<presence type='unavailable'/></stream:stream>");
  }

 private:
  Framer framer_;
};

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
    auto join = [&](Session& s) -> awaitable<void> {
      s.conn->send("<presence to='" + room_jid + "/" + s.user +
                   "'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>");
      std::string self = room_jid + "/" + s.user;
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
    };
    auto setup = [&](std::size_t i) -> awaitable<void> {
      auto& s = *sessions[i];
      co_await s.login(x, x.password, "lg");
      if (room) co_await join(s);
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

int xmpp_main(const std::string& cmd, Options& o) {
  if (cmd == "xmpp-register") return xmpp_register(o);
  if (cmd == "xmpp-one2one") return xmpp_flow(o, false);
  if (cmd == "xmpp-room") return xmpp_flow(o, true);
  if (cmd == "xmpp-login") return xmpp_login(o);
  if (cmd == "xmpp-idle") return xmpp_idle(o);
  throw Failure("unknown subcommand " + cmd);
}

}  // namespace loadgen

#include "adapters/line/line_plugin.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "adapters/common/auth.hpp"
#include "adapters/common/listener_set.hpp"
#include "adapters/common/listeners.hpp"
#include "adapters/common/post_guarded.hpp"
#include "core/core.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/common/net.hpp"
#include "protocols/irc/message.hpp"

namespace parley::adapters::line {

namespace asio = boost::asio;

namespace {

// Threading: like IRC, every line connection lives on the core strand (its socket is
// rehome()d there), so the SessionSink calls, which come from the core strand, may send()
// straight away, and on_data may call the core without a post (docs/ARCHITECTURE.md).
class LineConnection final : public protocols::Connection, public core::SessionSink {
 public:
  LineConnection(protocols::Socket s, std::shared_ptr<asio::ssl::context> tls, Limits limits, Runtime& rt,
                 const config::LineConfig& cfg)
      : Connection(std::move(s), std::move(tls), limits), rt_(rt), cfg_(cfg) {}

  // ---- socket side ----
  std::size_t on_data(std::string_view data) override {
    std::size_t used = 0;
    while (used < data.size() && !closed() && !auth_pending_) {
      auto nl = data.find('\n', used);
      if (nl == std::string_view::npos) break;  // the rest waits; max_read_buffer bounds it
      std::string_view l = data.substr(used, nl - used);
      used = nl + 1;
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      if (l.size() > cfg_.max_line) {
        fail_close("line too long");
        break;
      }
      if (!protocols::irc::is_valid_utf8(l)) {
        reply("ERR not UTF-8");
        continue;
      }
      handle(l);
    }
    if (auth_pending_) hold_input(true);  // the verdict releases it (and feeds the rest)
    return used;
  }
  void on_read_overflow() override { fail_close("line too long"); }
  void on_close(std::string_view reason) override {
    // Posted, never inline: a close can happen inside a SessionSink call (a send() over
    // the write-queue bound while the core walks a room's members), and closing the
    // session there would change the room under the core's feet (as IRC and PSYC do).
    if (!session_) return;
    post_guarded(rt_.core_strand, "line: close",
                 [self = shared_from_this(), &core = rt_.core, id = session_, r = std::string(reason)] {
                   core.sessions().close(id, r);
                 });
    session_ = 0;
  }

  // ---- core side (SessionSink), core strand ----
  void on_message(const core::MessagePtr& m) override {
    if (!m->to.is_room() || m->origin.session == session_) return;  // no echo
    reply("MSG " + m->to.id() + " " + m->nick + " " + one_line(m->body));
  }
  void on_presence(const core::PresenceUpdate&) override {}
  void on_room_join(const core::Room& room, const core::Member& m, bool) override {
    reply("JOINED " + room.name + " " + m.nick);
  }
  void on_room_leave(const core::Room& room, const core::Member& m, const core::LeaveReason&, bool) override {
    reply("LEFT " + room.name + " " + m.nick);
  }
  void on_terminate(const std::string& reason) override {
    session_ = 0;  // the core already closed it
    reply("BYE " + reason);
    close_after_flush(reason);
  }

 private:
  void handle(std::string_view l) {
    auto sp = l.find(' ');
    std::string_view cmd = l.substr(0, sp), rest = sp == l.npos ? "" : l.substr(sp + 1);
    auto sp2 = rest.find(' ');
    std::string_view a = rest.substr(0, sp2), b = sp2 == rest.npos ? "" : rest.substr(sp2 + 1);
    if (cmd == "QUIT") return fail_close("quit");
    if (cmd == "LOGIN" || cmd == "GUEST") {
      if (session_) return reply("ERR already logged in");
      if (cmd == "GUEST") return open_session(protocols::ascii_fold(a), a, true);
      return login(protocols::ascii_fold(a), std::string(b));
    }
    if (!session_) return reply("ERR LOGIN or GUEST first");
    std::string room = protocols::ascii_fold(a);
    if (!core::is_valid_local_name(room)) return reply("ERR bad room name");
    if (cmd == "JOIN") {
      auto r = rt_.core.rooms().join(session_, core::JoinRequest{room, nick_, {}, 0});
      if (!r) reply("ERR " + r.error().text);
    } else if (cmd == "PART") {
      if (auto st = rt_.core.rooms().leave(session_, room, "parted"); !st) reply("ERR " + st.error().text);
    } else if (cmd == "MSG") {
      if (b.empty()) return reply("ERR no text");
      core::Message m;
      m.kind = core::MessageKind::room;
      m.body = std::string(b);
      m.origin.protocol = core::Protocol::local;
      if (auto st = rt_.core.rooms().say(session_, room, std::move(m)); !st) reply("ERR " + st.error().text);
    } else {
      reply("ERR unknown command");
    }
  }

  void login(std::string user, std::string password) {
    if (!core::is_valid_local_name(user)) return reply("ERR bad user name");
    auth_pending_ = true;
    auto self = std::static_pointer_cast<LineConnection>(shared_from_this());
    // PBKDF2 runs on the auth pool, the verdict comes back on the core strand (our strand).
    check_account_password(
        rt_, peer_host(), user, std::move(password), rt_.core_strand, [self, user](AuthResult r) {
          self->auth_pending_ = false;
          if (self->closed()) return;
          if (r == AuthResult::ok)
            self->open_session(user, user, false);
          else if (++self->failures_ >= max_auth_failures(self->rt_))
            return self->fail_close("too many failed logins");
          else
            self->reply(r == AuthResult::throttled ? "ERR try again later" : "ERR login failed");
          self->hold_input(false);
        });
  }

  void open_session(const std::string& user, std::string_view nick, bool guest) {
    if (guest && !cfg_.guests) return reply("ERR guests are not allowed: LOGIN");
    if (!core::is_valid_local_name(user)) return reply("ERR bad nick");
    // A guest takes a name no account and no one online has (the IRC adapter's rule).
    if (guest &&
        (rt_.core.directory().exists(user) || rt_.core.sessions().user_online(core::Address::user(user))))
      return reply("ERR nick in use");
    core::SessionOpen o;
    o.user = core::Address::user(user);
    o.protocol = core::Protocol::local;
    o.guest = guest;
    o.host = peer_host();
    o.sink = this;
    auto r = rt_.core.sessions().open(std::move(o));
    if (!r) return reply("ERR " + r.error().text);
    session_ = *r;
    clear_deadline();  // identified: the handshake deadline is over
    nick_ = std::string(nick);
    reply("OK " + nick_);
  }

  // One line out, cut to max_line (a body from another protocol may be long or multi-line).
  // The cut may split a UTF-8 sequence: acceptable for a test and example protocol.
  void reply(std::string text) {
    if (text.size() > cfg_.max_line) text.resize(cfg_.max_line);
    text += "\r\n";
    send(text);
  }
  static std::string one_line(std::string s) {
    for (char& c : s)
      if (c == '\r' || c == '\n') c = ' ';
    return s;
  }
  void fail_close(std::string_view why) {
    reply("BYE " + std::string(why));
    close_after_flush(why);
  }

  Runtime& rt_;
  const config::LineConfig& cfg_;
  core::SessionId session_ = 0;
  std::string nick_;
  bool auth_pending_ = false;
  unsigned failures_ = 0;
};

class LinePlugin final : public core::Plugin {
 public:
  LinePlugin(Runtime& rt, const config::Config& cfg) : rt_(rt), cfg_(cfg) {}
  ~LinePlugin() override { stop(); }
  std::string_view name() const override { return "line"; }

  core::Status start() override {
    listeners_ = std::make_unique<ListenerSet>(
        rt_, ListenerSet::Options{
                 .protocol = "line",
                 .key = "line.listen",
                 // server.connections: per-address count and rate, like every listener.
                 .refusal = [](protocols::AddressLimiter::Verdict) -> std::string {
                   return "BYE too many connections\r\n";
                 },
                 .accept =
                     [this](protocols::Socket s, std::shared_ptr<asio::ssl::context> tls,
                            protocols::Admission admission) {
                       post_guarded(rt_.core_strand, "line: accept",
                                    [this, s = std::move(s), tls = std::move(tls),
                                     admission = std::move(admission)]() mutable {
                                      accept(std::move(s), std::move(tls), std::move(admission));
                                    });
                     },
                 .tag = core::Protocol::local,
             });
    return listeners_->start(cfg_.line.listen);
  }

  core::Status reload() override {
    if (listeners_) listeners_->reload(cfg_.line.listen);
    return {};
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (listeners_) listeners_->stop();
    manager_.close_all("server shutting down");
  }

 private:
  void accept(protocols::Socket s, std::shared_ptr<asio::ssl::context> tls,
              protocols::Admission admission) {  // core strand
    if (stopped_) return;
    protocols::Connection::Limits limits;
    limits.max_read_buffer = cfg_.line.max_line + 2;  // one partial line ("\r\n" included)
    limits.max_write_queue = cfg_.line.sendq;
    // server.connections.handshake_timeout bounds the time until GUEST/LOGIN succeeds.
    limits = connection_limits(limits, cfg_.server.connections);
    auto conn = std::make_shared<LineConnection>(protocols::rehome(std::move(s), rt_.core_strand),
                                                 std::move(tls), limits, rt_, cfg_.line);
    listeners_->adopt(conn, std::move(admission), manager_);
    conn->start();
  }

  Runtime& rt_;
  const config::Config& cfg_;
  std::unique_ptr<ListenerSet> listeners_;
  protocols::ConnectionManager manager_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<core::Plugin> make_line_plugin(adapters::Runtime& rt, const config::Config& cfg) {
  return std::make_unique<LinePlugin>(rt, cfg);
}

}  // namespace parley::adapters::line

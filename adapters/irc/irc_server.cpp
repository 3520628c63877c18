#include "adapters/irc/irc_server.hpp"

#include "adapters/common/post_guarded.hpp"
#include "adapters/irc/commands/commands.hpp"
#include "adapters/irc/modes.hpp"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <ctime>
#include <spdlog/spdlog.h>

#include "core/core.hpp"
#include "parley/version.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

namespace pi = protocols::irc;
using pi::LineWriter;

IrcServer::IrcServer(Runtime& rt, config::IrcConfig cfg)
    : rt_(rt),
      cfg_(std::move(cfg)),
      room_nicks_(*this, rt_.core.rooms(), cfg_),
      render_(*this),
      auth_(*this) {
  created_ = core::to_iso8601(core::Clock::now());
  register_all_commands(commands_);
}

IrcServer::~IrcServer() {
  clients_.clear();
}

// ---------------------------------------------------------------------------------------
// Output

void IrcServer::mark_dirty(IrcClient& c) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(&c);
  if (current_ == nullptr) flush_soon();  // a core event from another adapter's task
}

void IrcServer::flush_soon() {
  if (flush_posted_) return;
  flush_posted_ = true;
  // Behind the reads that the same reactor round made ready, so the output of all of them
  // goes out in one write per member (as an ircd writes once per event-loop iteration) —
  // with several busy senders in a big channel that divides the send() calls per line.
  post_after_ready(rt_.core_strand, "irc: flush", [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->flush();
  });
}

void IrcServer::queue(IrcClient& c, std::string_view bytes) {
  if (c.state == IrcClient::State::closed) return;
  c.out.append(bytes);
  mark_dirty(c);
}

void IrcServer::queue_shared(IrcClient& c, const std::shared_ptr<const std::string>& line) {
  // The line was rendered once for every recipient with the same capabilities; each
  // recipient only copies the bytes into its pending output, which is handed to its
  // connection once per core-strand task (one post and usually one write per recipient
  // per batch of messages, instead of one per message).
  queue(c, *line);
}

void IrcServer::flush() {
  room_nicks_.sweep();
  // Connections share the core strand, so each pending output goes straight to its socket:
  // Connection::send writes at once when nothing is in flight (one syscall per recipient
  // per batch of messages) and queues only what the kernel does not take.
  std::vector<IrcClient*> list;
  list.swap(dirty_);
  for (IrcClient* c : list) {
    c->dirty = false;
    if (!c->conn) continue;  // no socket (tests): output stays in out
    auto conn = c->conn;  // send() may fail and close; the close is reported by a post
    if (!c->out.empty()) {
      conn->send(c->out);
      // A busy room member reuses its buffer (a line or two per batch); anything bigger,
      // like the welcome burst, is released so an idle client holds little.
      if (c->out.capacity() > 512) std::string().swap(c->out);
      else c->out.clear();
    }
    if (!c->stored.empty()) {
      std::vector<std::string> ids = std::move(c->stored);
      c->stored.clear();
      // The marker runs on the connection's strand, which for IRC is the core strand, maybe
      // at once: the next batch it brings is queued and flushed by a later flush().
      conn->when_written([self = shared_from_this(), session = c->session, ids = std::move(ids)] {
        if (auto st = self->rt_.core.router().delivered(session, ids); !st)
          spdlog::error("irc: confirming offline messages: {}", st.error().text);
        self->flush_soon();
      });
    }
  }
  list.clear();
  if (dirty_.empty()) dirty_.swap(list);  // keep the list's capacity for the next batch
}

void IrcServer::numeric(IrcClient& c, int code, std::initializer_list<std::string_view> middle,
                        std::string_view trailing) {
  LineWriter w(c.out);
  w.prefix(cfg_.server_name).numeric(code).param(c.nick_or_star());
  for (auto m : middle) w.param(m);
  w.trailing(trailing);
  w.end();
  mark_dirty(c);
}

void IrcServer::numeric_nt(IrcClient& c, int code, std::initializer_list<std::string_view> middle) {
  LineWriter w(c.out);
  w.prefix(cfg_.server_name).numeric(code).param(c.nick_or_star());
  for (auto m : middle) w.param(m);
  w.end();
  mark_dirty(c);
}

void IrcServer::close_link(IrcClient& c, const std::string& reason) {
  if (c.state == IrcClient::State::closed) return;
  std::string line = "ERROR :Closing Link: " + c.host + " (" + reason + ")\r\n";
  c.out.append(line);
  mark_dirty(c);
  if (c.session) {
    // Close while the client is still known, so others' QUIT shows its real mask.
    core::SessionId s = c.session;
    rt_.core.sessions().close(s, reason);
    c.session = 0;
    by_session_.erase(s);
  }
  if (!c.nick.empty()) {
    auto it = nicks_.find(pi::casefold(c.nick));
    if (it != nicks_.end() && it->second == &c) nicks_.erase(it);
    remember_whowas(c);
    if (c.state == IrcClient::State::registered) monitors_.tell_offline(*this, c.nick);
  }
  monitors_.forget(c);
  c.state = IrcClient::State::closed;
  if (c.conn) {
    std::string data = std::move(c.out);
    c.out.clear();
    post_guarded(c.conn->executor(), "irc: close", [conn = c.conn, data = std::move(data), reason] {
      conn->send(data);
      conn->close_after_flush(reason);
    });
  }
}

// ---------------------------------------------------------------------------------------
// Entry points

void IrcServer::attach(const std::shared_ptr<IrcClient>& c) {
  clients_[c.get()] = c;
}

void IrcServer::detach(IrcClient& c, const std::string& reason) {
  auto keep = clients_.count(&c) ? clients_[&c] : nullptr;
  if (c.state != IrcClient::State::closed) {
    if (c.session) {
      core::SessionId s = c.session;
      for (const auto& rn : rt_.core.rooms().rooms_of(s)) room_nicks_.member_left(rn);
      rt_.core.sessions().close(s, reason);
      c.session = 0;
      by_session_.erase(s);
    }
    if (!c.nick.empty()) {
      auto it = nicks_.find(pi::casefold(c.nick));
      if (it != nicks_.end() && it->second == &c) nicks_.erase(it);
      if (c.state == IrcClient::State::registered) {
        remember_whowas(c);
        monitors_.tell_offline(*this, c.nick);
      }
    }
    c.state = IrcClient::State::closed;
  }
  monitors_.forget(c);
  c.conn.reset();
  c.out.clear();
  std::erase(dirty_, &c);
  clients_.erase(&c);
  flush();
  // `keep` releases the client here; the core no longer knows its sink.
}

void IrcServer::shutdown(const std::string& reason) {
  std::vector<IrcClient*> all;
  for (auto& [p, _] : clients_) all.push_back(p);
  for (auto* c : all) close_link(*c, reason);
  flush();
}

void IrcServer::handle_lines(IrcClient& c, std::vector<Incoming>& lines) {
  for (auto& in : lines) handle_input(c, in);
  flush();
}

void IrcServer::handle_input(IrcClient& c, const Incoming& in) {
  if (c.state == IrcClient::State::closed || !clients_.count(&c)) return;
  if (in.error != pi::ParseError::none) {
    if (in.error == pi::ParseError::line_too_long || in.error == pi::ParseError::tags_too_long)
      numeric(c, 417, {}, "Input line was too long");
    return;
  }
  handle_line(c, in.line, in.converted ? pi::kMaxConvertedBody : pi::kMaxBody);
}

void IrcServer::handle_line(IrcClient& c, std::string_view line, std::size_t max_body) {
  pi::Message m;
  auto err = pi::parse_line(line, m, max_body);
  if (err == pi::ParseError::line_too_long || err == pi::ParseError::tags_too_long) {
    numeric(c, 417, {}, "Input line was too long");
    return;
  }
  // A command word that is neither letters nor three digits is still a command the client
  // expects an answer to: dispatch finds no such command and says 421 (labeled, if asked).
  if (err != pi::ParseError::none && err != pi::ParseError::bad_command) return;  // empty or garbage: ignored
  // message-tags "Size limit": a client's tag data is at most 4094 bytes (4096 with the
  // '@' and the space); the codec admits the 8191 a server may send.
  if (!m.tags.empty() && m.tags.size() + 2 > 4096) {
    numeric(c, 417, {}, "Input line was too long");
    return;
  }
  current_ = &c;
  std::string label;
  if (c.has(cap_labeled_response))
    pi::for_each_tag(m.tags, [&](pi::Tag t) {
      if (t.key == "label") label = pi::unescape_tag_value(t.value);
    });
  std::size_t start = c.out.size();
  try {
    dispatch(c, m);
  } catch (const std::exception& e) {
    // Exception firewall: this client gets an error, everyone else keeps going.
    spdlog::error("irc: command {} failed: {}", std::string(m.command), e.what());
    numeric(c, 400, {protocols::ascii_upper(m.command)}, "Internal error");
  }
  if (!label.empty() && label.size() <= 64 && c.state != IrcClient::State::closed) apply_label(c, start, label);
  if (!c.deferred.empty()) {
    queue(c, c.deferred);
    c.deferred.clear();
  }
  current_ = nullptr;
}

void IrcServer::apply_label(IrcClient& c, std::size_t from, std::string_view label) {
  std::string esc;
  pi::escape_tag_value(label, esc);
  std::string body = c.out.substr(from);
  c.out.resize(from);
  std::vector<std::string_view> lines;
  std::string_view rest = body;
  while (!rest.empty()) {
    auto p = rest.find("\r\n");
    if (p == std::string_view::npos) break;
    lines.push_back(rest.substr(0, p));
    rest.remove_prefix(p + 2);
  }
  auto add_tag = [&](std::string_view line, std::string_view tag) {
    if (line.starts_with('@')) {
      c.out += '@';
      c.out += tag;
      c.out += ';';
      c.out.append(line.substr(1));
    } else {
      c.out += '@';
      c.out += tag;
      c.out += ' ';
      c.out.append(line);
    }
    c.out += "\r\n";
  };
  if (lines.empty()) {
    c.out += "@label=" + esc + " :" + cfg_.server_name + " ACK\r\n";
  } else if (lines.size() == 1) {
    add_tag(lines[0], "label=" + esc);
  } else if (c.has(cap_batch)) {
    static std::uint64_t batch_id = 0;
    std::string ref = "L" + std::to_string(++batch_id);
    c.out += "@label=" + esc + " :" + cfg_.server_name + " BATCH +" + ref + " labeled-response\r\n";
    for (auto l : lines) add_tag(l, "batch=" + ref);
    c.out += ":" + cfg_.server_name + " BATCH -" + ref + "\r\n";
  } else {
    for (auto l : lines) add_tag(l, "label=" + esc);
  }
  mark_dirty(c);
}

void IrcServer::dispatch(IrcClient& c, const pi::Message& m) {
  // The registry's own replies (451, 461, 421) go to the client like any numeric.
  struct Replies final : CommandReplies {
    IrcServer& srv;
    IrcClient& c;
    Replies(IrcServer& s, IrcClient& cl) : srv(s), c(cl) {}
    void reply(int code, std::string_view param, std::string_view text) override {
      if (param.empty())
        srv.numeric(c, code, {}, text);
      else
        srv.numeric(c, code, {param}, text);
    }
  } replies(*this, c);
  if (const Command* cmd = commands_.check(m.command, m.nparams, c.state == IrcClient::State::registered, replies))
    cmd->run(*this, c, m);
}

// ---------------------------------------------------------------------------------------
// Registration

// The five registration commands are thin calls into the socket-free machine
// (protocols/irc/registration.hpp); what needs the server's state (nick table, accounts,
// password checks, the session) stays here.

void IrcServer::cmd_cap(IrcClient& c, const pi::Message& m) {
  std::size_t before = c.out.size();
  bool end = pi::on_cap(c.reg, m, c.state != IrcClient::State::registering, cfg_.server_name, c.nick_or_star(),
                        c.out);
  if (c.out.size() != before) mark_dirty(c);
  if (end) try_register(c);
}

void IrcServer::cmd_pass(IrcClient& c, const pi::Message& m) {
  if (auto r = pi::on_pass(c.reg, m, c.state != IrcClient::State::registering)) numeric(c, r.code, {}, r.text);
}

bool IrcServer::nick_available(IrcClient& c, const std::string& folded, bool& reserved) {
  reserved = false;
  auto it = nicks_.find(folded);
  if (it != nicks_.end() && it->second != &c) return false;
  // An account's name is its owner's nick: guests and other accounts may not take it.
  if (cfg_.reserve_account_nicks && core::is_valid_local_name(folded) && folded != c.account &&
      rt_.core.directory().exists(folded)) {
    // Before registration the client may still log in (SASL or PASS) as that account:
    // try_register checks again once authentication is over.
    if (c.state == IrcClient::State::registering && c.session == 0 && !checking_final_) return true;
    reserved = true;
    return false;
  }
  return true;
}

void IrcServer::cmd_nick(IrcClient& c, const pi::Message& m) {
  if (auto r = pi::check_nick(m, cfg_.nick_length)) {
    if (r.param.empty()) return numeric(c, r.code, {}, r.text);
    return numeric(c, r.code, {r.param}, r.text);
  }
  std::string nick(m.param(0));
  std::string folded = pi::casefold(nick);
  if (nick == c.nick) return;
  bool reserved = false;
  if (!nick_available(c, folded, reserved))
    return numeric(c, 433, {nick}, reserved ? "Nickname is reserved for an account" : "Nickname is already in use");
  if (c.state == IrcClient::State::registering) {
    if (!c.nick.empty()) nicks_.erase(pi::casefold(c.nick));
    c.nick = nick;
    nicks_[folded] = &c;
    try_register(c);
    return;
  }
  if (c.session) {
    if (nick_shown_in_rooms(c, nick)) return numeric(c, 433, {nick}, "Nickname is already in use");
    auto st = rt_.core.rooms().change_nick_everywhere(c.session, nick);
    if (!st) return numeric(c, 433, {nick}, "Nickname is already in use");
  }
  set_nick(c, nick);
}

void IrcServer::set_nick(IrcClient& c, const std::string& nick) {
  std::string old_mask = c.mask();
  std::string old_nick = c.nick;
  remember_whowas(c);
  nicks_.erase(pi::casefold(c.nick));
  c.nick = nick;
  nicks_[pi::casefold(nick)] = &c;
  LineWriter(c.out).prefix(old_mask).command("NICK").trailing(nick).end();
  mark_dirty(c);
  // MONITOR: a nick change is the old nick going offline and the new one coming online;
  // a change of case only is neither (ircv3 monitor, "nick changes").
  if (!pi::equal_fold(old_nick, nick)) {
    monitors_.tell_offline(*this, old_nick);
    monitors_.tell_online(*this, c);
  }
}

void IrcServer::cmd_user(IrcClient& c, const pi::Message& m) {
  if (auto r = pi::on_user(m, c.state != IrcClient::State::registering, c.user, c.realname)) {
    if (r.param.empty()) return numeric(c, r.code, {}, r.text);
    return numeric(c, r.code, {r.param}, r.text);
  }
  try_register(c);
}

void IrcServer::try_register(IrcClient& c) {
  if (c.state != IrcClient::State::registering || !pi::ready_to_register(c.reg, !c.nick.empty(), !c.user.empty()))
    return;
  if (c.auth_pending) return;  // a password check runs: its outcome calls back here
  // PASS: the connection password, or an account login (irc_auth.cpp).
  if ((!cfg_.password.empty() && !c.connection_password_ok) || (c.account.empty() && !c.reg.pass.empty()))
    return auth_.check_pass(c);
  c.reg.pass.clear();
  bool reserved = false;
  checking_final_ = true;
  bool available = nick_available(c, pi::casefold(c.nick), reserved);
  checking_final_ = false;
  if (!available) {
    std::string nick = std::move(c.nick);
    c.nick.clear();
    nicks_.erase(pi::casefold(nick));
    numeric(c, 433, {nick}, reserved ? "Nickname is reserved for an account" : "Nickname is already in use");
    return;
  }
  if (c.account.empty() && !cfg_.guests) {
    numeric(c, 464, {}, "Password required: this server admits accounts only (use SASL or PASS)");
    return close_link(c, "Guests are not allowed");
  }
  core::SessionOpen o;
  bool guest = c.account.empty();
  if (guest) {
    std::string folded = pi::casefold(c.nick);
    // A guest is the user named like its nick unless that name is taken: by someone online,
    // or by an account (whose nick may be open to guests, reserve_account_nicks: false).
    std::string id = core::is_valid_local_name(folded) &&
                             !rt_.core.sessions().user_online(core::Address::user(folded)) &&
                             !rt_.core.directory().exists(folded)
                         ? folded
                         : "guest-" + std::to_string(next_guest_++);
    o.user = core::Address::user(id);
  } else {
    o.user = core::Address::user(c.account);
  }
  o.protocol = core::Protocol::irc;
  o.guest = guest;
  o.host = c.host;
  o.sink = &c;
  auto r = rt_.core.sessions().open(std::move(o));
  if (!r) {
    numeric(c, 400, {"USER"}, r.error().text);
    return close_link(c, "Session refused");
  }
  c.session = *r;
  by_session_[c.session] = &c;
  c.state = IrcClient::State::registered;
  c.signon = std::chrono::steady_clock::now();
  std::size_t local = 0;
  for (auto& [p, cl] : clients_)
    if (cl->state == IrcClient::State::registered) ++local;
  max_local_ = std::max(max_local_, local);
  max_global_ = std::max(max_global_, rt_.core.sessions().size());
  welcome(c);
  monitors_.tell_online(*this, c);
  publish_away(c);
  if (!guest) (void)rt_.core.router().flush_offline(c.session);
}

void IrcServer::welcome(IrcClient& c) {
  numeric(c, 1, {}, "Welcome to the " + cfg_.network_name + " IRC Network " + c.mask());
  numeric(c, 2, {}, "Your host is " + cfg_.server_name + ", running version " + std::string(kServerVersion));
  numeric(c, 3, {}, "This server was created " + created_);
  numeric_nt(c, 4, {cfg_.server_name, kServerVersion, "io", "bhiklmnostv", "bhklov"});
  send_isupport(*this, c);
  send_lusers(c);
  send_motd(*this, c);
  LineWriter(c.out).prefix(c.mask()).command("MODE").param(c.nick).trailing("+i").end();
  mark_dirty(c);
}

std::size_t IrcServer::channel_length() const {
  // '#' and a local room name (core::is_valid_local_name): a longer name cannot be joined.
  return std::min(cfg_.channel_length, core::kMaxLocalName + 1);
}

void IrcServer::send_lusers(IrcClient& c) {
  // Modern IRC "LUSERS": 251 counts every user (visible + invisible), 265/266 give the
  // current and highest counts of this server's IRC clients and of all sessions.
  std::size_t local = 0, invisible = 0, unknown = 0, opers = 0;
  for (auto& [p, cl] : clients_) {
    if (cl->state == IrcClient::State::registering) ++unknown;
    if (cl->state != IrcClient::State::registered) continue;
    ++local;
    if (cl->invisible) ++invisible;
    if (cl->oper) ++opers;
  }
  const std::size_t total = std::max(rt_.core.sessions().size(), local);
  max_local_ = std::max(max_local_, local);
  max_global_ = std::max(max_global_, total);
  numeric(c, 251, {},
          "There are " + std::to_string(total - invisible) + " users and " + std::to_string(invisible) +
              " invisible on 1 servers");
  if (opers) numeric(c, 252, {std::to_string(opers)}, "IRC Operators online");
  if (unknown) numeric(c, 253, {std::to_string(unknown)}, "unknown connection(s)");
  numeric(c, 254, {std::to_string(rt_.core.rooms().list().size())}, "channels formed");
  numeric(c, 255, {}, "I have " + std::to_string(local) + " clients and 0 servers");
  numeric(c, 265, {std::to_string(local), std::to_string(max_local_)},
          "Current local users " + std::to_string(local) + ", max " + std::to_string(max_local_));
  numeric(c, 266, {std::to_string(total), std::to_string(max_global_)},
          "Current global users " + std::to_string(total) + ", max " + std::to_string(max_global_));
}

void IrcServer::remember_whowas(const IrcClient& c) {
  if (c.nick.empty() || c.state != IrcClient::State::registered) return;
  whowas_.push_front({c.nick, c.user, c.host, c.realname});
  if (whowas_.size() > 200) whowas_.pop_back();
}

void IrcServer::sweep_unregistered(std::chrono::seconds timeout) {
  const auto now = std::chrono::steady_clock::now();
  std::vector<IrcClient*> late;
  for (auto& [p, cl] : clients_)
    if (cl->state == IrcClient::State::registering && now - cl->connected > timeout) late.push_back(p);
  for (IrcClient* c : late) close_link(*c, "Registration timeout");
  if (!late.empty()) flush();
}

// ---------------------------------------------------------------------------------------
// Lookups shared by commands, the sink and the nick mapping

IrcClient* IrcServer::client_by_session(core::SessionId s) const {
  auto it = by_session_.find(s);
  return it == by_session_.end() ? nullptr : it->second;
}

IrcClient* IrcServer::client_by_nick(std::string_view nick) const {
  auto it = nicks_.find(pi::casefold(nick));
  if (it == nicks_.end() || it->second->state != IrcClient::State::registered) return nullptr;
  return it->second;
}

std::optional<std::string> IrcServer::room_of(std::string_view chan) const {
  if (!pi::is_valid_channel(chan, channel_length())) return std::nullopt;
  std::string name = pi::casefold(chan.substr(1));
  if (!core::is_valid_local_name(name)) return std::nullopt;
  return name;
}

bool IrcServer::is_irc(core::SessionId s) const { return client_by_session(s) != nullptr; }

bool IrcServer::irc_nick_of_other(std::string_view nick, const core::Address& user) const {
  IrcClient* c = client_by_nick(nick);
  if (!c) return false;
  const auto* info = rt_.core.sessions().find(c->session);
  return !info || info->user != user;
}

bool IrcServer::nick_shown_in_rooms(const IrcClient& c, std::string_view nick, const core::Room* only) {
  const auto* me = rt_.core.sessions().find(c.session);
  return room_nicks_.shown_in_rooms(c.session, me ? &me->user : nullptr, nick, only);
}

void IrcServer::publish_away(IrcClient& c) {
  if (!c.session) return;
  core::Tuple t;
  t.id = rt_.core.sessions().find(c.session) ? rt_.core.sessions().find(c.session)->resource : std::string{};
  t.basic = core::Basic::open;
  t.availability = c.away.empty() ? core::Availability::available : core::Availability::away;
  t.note = c.away;
  t.updated = core::Clock::now();
  rt_.core.presence().publish(c.session, t);
}

}  // namespace parley::adapters::irc

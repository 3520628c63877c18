#include "adapters/gateway/puppet.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <charconv>

#include "adapters/gateway/address.hpp"
#include "adapters/gateway/gateway.hpp"
#include "adapters/gateway/identd.hpp"
#include "adapters/gateway/outgoing.hpp"
#include "adapters/gateway/render.hpp"
#include "adapters/gateway/throttle.hpp"
#include "core/model/time.hpp"
#include "parley/version.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/common/coarse_clock.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::gateway {

namespace irc = protocols::irc;
using protocols::ascii_fold;

namespace {
// A channel event as shared reading's fingerprint takes it (shared_reads.hpp): what every
// member of the channel reads alike, tags aside.
std::uint64_t event_hash(const irc::Message& m) {
  std::uint64_t h = SharedReads::hash(m.command, SharedReads::hash(m.prefix));
  for (std::size_t i = 0; i < m.nparams; ++i) h = SharedReads::hash(m.param(i), h);
  return h;
}

// Servers send commands upper-case: the exact comparison first (a short memcmp), the folded
// one only when that fails (~100 instructions for a PRIVMSG, per puppet copy of each line).
bool is(const irc::Message& m, std::string_view cmd) {
  return m.command == cmd || protocols::ascii_equal_fold(m.command, cmd);
}

// An XMPP nick (any Unicode, spaces...) as an IRC nick (RFC 2812 §2.3.1): other characters
// become '_', a leading digit or '-' gets a '_' before it, at most 30 bytes.
std::string irc_nick_of(std::string_view want) {
  std::string n;
  for (char c : want) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("[]\\`_^{|}-").find(c) != std::string_view::npos;
    n.push_back(ok ? c : '_');
    if (n.size() >= 30) break;
  }
  if (n.empty()) n = "xmpp";
  if ((n[0] >= '0' && n[0] <= '9') || n[0] == '-') n.insert(n.begin(), '_');
  return n.substr(0, 30);
}

// A TOPIC, PART or KICK text fits comfortably in one line after its command and channel.
constexpr std::size_t kMaxReason = 300;

// The <to> of a "PRIVMSG <to> :..." line ("" for any other line).
std::string_view privmsg_target(std::string_view line) {
  constexpr std::string_view head = "PRIVMSG ";
  const auto colon = line.find(" :");
  if (!line.starts_with(head) || colon == std::string_view::npos || colon <= head.size()) return {};
  return line.substr(head.size(), colon - head.size());
}

// A "PRIVMSG <to> :..." line is to `nick`.
bool pm_to(std::string_view line, std::string_view nick) {
  const std::string_view to = privmsg_target(line);
  return !to.empty() && irc::equal_fold(to, nick);
}

// The text of a "PRIVMSG <target> :<text>\r\n" line (privmsg_lines): what an echo of it
// carries as its last parameter.
std::string_view line_text(std::string_view line) {
  const auto colon = line.find(" :");
  if (colon == std::string_view::npos) return {};
  line.remove_prefix(colon + 2);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}
}  // namespace

Puppet::Puppet(Gateway& gw, std::string bare_jid, config::IrcNetwork net, std::string label, std::string nick,
               std::string realname, std::string peer_ip)
    : gw_(gw),
      bare_(std::move(bare_jid)),
      net_(std::move(net)),
      label_(std::move(label)),
      identity_{},
      reg_(irc::ClientIdentity{}),
      pump_wait_(gw.strand()) {
  const std::string first = irc_nick_of(nick);
  identity_.nicks = {first};
  // The user part of the bare JID names who is behind the puppet (WHOIS shows it).
  std::string user = bare_.substr(0, bare_.find('@'));
  identity_.user = irc_nick_of(user).substr(0, 10);
  // A realname from the user's settings was validated there (no CR, LF, NUL: settings.cpp).
  identity_.realname = realname.empty() ? bare_ : std::move(realname);
  identity_.password = net_.password;
  identity_.sasl_user = net_.sasl_user;
  identity_.sasl_password = net_.sasl_password;
  if (!net_.webirc_password.empty() && !peer_ip.empty()) {
    // The hostname is the address itself: no reverse lookup here (the spec's fallback); the
    // network may look it up. An address that does not parse sends no WEBIRC.
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(peer_ip, ec);
    if (!ec)
      identity_.webirc = {.password = net_.webirc_password,
                          .gateway = net_.webirc_gateway,
                          .hostname = a.to_string(),
                          .ip = a.to_string()};
  }
  // IRCv3 echo-message: the user's own channel lines come back from the server, and the
  // reflection waits for them (Sent in puppet.hpp). Puppets only: a relay bot must not hear
  // itself.
  identity_.caps.push_back("echo-message");
  reg_ = irc::ClientRegistration(identity_);
  if (net_.throttle_burst != 0) {
    // Tokens are milliseconds: a line costs interval_ms, burst lines may go at once.
    bucket_ = protocols::TokenBucket(1000, net_.throttle_burst * net_.throttle_interval_ms);
  }
}

Puppet::~Puppet() {
  gw_.undefer_read(this);  // its list entry may outlive deferred_ (a link lost meanwhile)
  for (auto& [_, c] : channels_) leave_shared(c);
  forget_ident();
  if (reconnector_) reconnector_->stop();
  if (link_ && quitting_)
    link_->release();
  else if (link_)
    link_->detach("gateway puppet gone");
  if (keepalive_) keepalive_->cancel();
}

// Checks the link every ping_interval / 2: PING after ping_interval of silence, close after
// ping_timeout (the Reconnector then retries).
void Puppet::arm_keepalive() {
  if (!keepalive_) keepalive_ = std::make_unique<protocols::StrandTimer>(gw_.strand());
  keepalive_->expires_after(gw_.options().ping_interval / 2);
  keepalive_->async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
    if (ec || alive.expired() || !link_) return;
    const auto silent = std::chrono::steady_clock::now() - last_rx_;
    if (silent >= gw_.options().ping_timeout) {
      auto link = link_;  // close() ends in on_irc_closed, which resets link_
      return link->close("Ping timeout");
    }
    if (silent >= gw_.options().ping_interval)
      send_now(std::string(kMarkerPing) + std::string(kKeepaliveToken) + "\r\n");
    answers_overdue();
    regain_nick();
    arm_keepalive();
  });
}

void Puppet::start() {
  protocols::ConnectOptions o;
  o.tls = net_.tls;
  o.verify = net_.verify;
  o.fingerprint = net_.fingerprint;       // pinned: checked with (or, verify off, instead of) the chain
  o.public_only = gw_.public_only(net_);  // an open_networks host: no loopback/private address
  reconnector_ = protocols::Reconnector::make(
      gw_.strand(), net_.host, net_.port, o, gw_.options().backoff,
      {.on_connected = [this](protocols::ConnectedStream s) { on_connected(std::move(s)); },
       .on_failed = [this](const protocols::ConnectError& e,
                           std::optional<std::chrono::milliseconds> retry) { connect_failed(e, retry); }});
  reconnector_->start();
}

// ---- names -----------------------------------------------------------------------------------

std::string Puppet::make_room_jid(const Channel& c) const {
  return gateway_local(c.name, c.label) + "@" + gw_.domain();
}
std::string Puppet::occupant_jid(const Channel& c, std::string_view nick) const {
  std::string jid;
  jid.reserve(c.room.size() + 1 + nick.size());
  jid += c.room;
  jid += '/';
  jid += nick;
  return jid;
}
// The nick resource `r` knows itself by in `c`: that of its last self-presence, else the one
// its join asked for (it has had none yet), else the link's or the wanted one. Never empty:
// before the link is up the registration has no nick, and a presence from "room/" (an empty
// resourcepart, RFC 7622 §3.4) is an invalid JID for which Prosody's mod_component closes
// the component's stream, and with it every user's puppets.
std::string_view Puppet::nick_known_to(const Channel& c, const std::string& r) const {
  if (!c.self_nick.empty() && !c.waiting.count(r)) return c.self_nick;
  if (auto asked = c.requested.find(r); asked != c.requested.end() && !asked->second.empty())
    return asked->second;
  if (!reg_.nick().empty()) return reg_.nick();
  return wanted_nick();
}
// XEP-0045 §7.5: a private chat begun through a room (room/nick) goes on there: the reply
// comes from the JID the user wrote to, while the user and the nick are in that room; else
// from nick%NET.
std::string Puppet::pm_from(std::string_view nick) const {
  auto it = pm_from_.find(ascii_fold(nick));
  if (it == pm_from_.end()) return user_jid(nick);
  const std::string_view jid = it->second;
  const std::size_t slash = jid.find('/');
  if (slash == std::string_view::npos) return it->second;
  for (const auto& [_, c] : channels_)
    if (c.room == jid.substr(0, slash) && !c.resources.empty() && c.occupants.count(ascii_fold(nick)))
      return it->second;
  return user_jid(nick);
}
std::pair<Puppet::Channel&, bool> Puppet::open_channel(const std::string& channel, const std::string& label) {
  auto [it, fresh] = channels_.try_emplace(ascii_fold(channel));
  Channel& c = it->second;
  if (fresh) {
    c.name = channel;
    c.label = label;
    c.room = make_room_jid(c);
    c.lines_slot = ChannelLines::slot_of(c.room);
    c.archive_key = gw_.archive_key_of(net_.name, channel);
  }
  return {c, fresh};
}
// A channel key is one parameter (RFC 2812 §3.2.1): no space, no comma (which would start
// another key), never a leading ':', no control character.
bool Puppet::is_channel_key(std::string_view key) {
  return !key.empty() && key.size() <= kMaxKey && key.front() != ':' &&
         std::none_of(key.begin(), key.end(), [](char ch) {
           return ch == ' ' || ch == ',' || static_cast<unsigned char>(ch) < 0x20;
         });
}
std::string Puppet::join_line(const Channel& c) {
  std::string line;
  irc::LineWriter w(line);
  w.command("JOIN").param(c.name);
  if (!c.key.empty()) w.param(c.key);
  w.end();
  return line;
}
std::string Puppet::user_jid(std::string_view nick) const {
  return gateway_local(ascii_fold(nick), label_) + "@" + gw_.domain();
}
Puppet::Channel* Puppet::find_channel(std::string_view name) {
  // Servers echo the name as joined, already folded: no folded copy for the common case.
  const bool folded = std::none_of(name.begin(), name.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
  auto it = folded ? channels_.find(name) : channels_.find(ascii_fold(name));
  return it == channels_.end() ? nullptr : &it->second;
}
bool Puppet::in_channel(std::string_view channel) const { return channels_.count(ascii_fold(channel)) != 0; }

bool Puppet::joined(const std::string& full_jid, std::string_view channel) const {
  auto it = channels_.find(ascii_fold(channel));
  return it != channels_.end() && it->second.resources.count(full_jid) && !it->second.waiting.count(full_jid);
}
bool Puppet::has_occupant(std::string_view channel, std::string_view nick) const {
  auto it = channels_.find(ascii_fold(channel));
  if (it == channels_.end()) return false;
  // Our own nick counts even while a reconnection has emptied the occupant list.
  return irc::equal_fold(nick, reg_.nick()) || it->second.occupants.count(ascii_fold(nick)) != 0;
}
bool Puppet::hears(std::string_view channel) const {
  auto it = channels_.find(ascii_fold(channel));
  return it != channels_.end() && it->second.in_irc && link_ != nullptr;
}

bool Puppet::has_resource(const std::string& full_jid) const {
  if (pm_resources_.count(full_jid)) return true;
  for (const auto& [_, c] : channels_)
    if (c.resources.count(full_jid)) return true;
  return false;
}

// ---- the IRC connection ----------------------------------------------------------------------

void Puppet::on_connected(protocols::ConnectedStream s) {
  protocols::Connection::Limits limits;
  limits.max_read_buffer = gw_.options().recvq;
  limits.max_write_queue = gw_.options().sendq;
  // Registration must finish in time (cleared at 001), or the link is dropped and retried.
  limits.handshake_timeout_ms = static_cast<std::uint32_t>(gw_.options().registration_timeout.count());
  // Every occupant's puppet reads its own copy of every channel line: one recv per line
  // instead of a wait re-armed with epoll_ctl and then a recv (net.hpp, Limits::read_ahead).
  // A follower's tick reads what a read_tick gathered: at 200 lines/s of the bench's ~65
  // bytes 1.3 KB, which took two recvs of 1024.
  limits.read_ahead = kReadAhead;
  // A puppet that speaks in a channel (its user does) makes Linux hold the ACKs of what it
  // reads, to ride on its answers; InspIRCd keeps Nagle on, so it held its next lines to us
  // until that ACK (~40 ms): a channel's leader then read in batches, and other occupants
  // got an XMPP user's line 24-40 ms late (bench x2i "ref").
  limits.quick_ack = true;
  const auto fb = net_.encoding == "reject" ? irc::Fallback::reject : irc::Fallback::latin1;
  if (auto* ident = gw_.options().ident.get()) {
    // Before the first line goes out: a network asks ident as soon as we connect.
    boost::system::error_code ec;
    const auto local = s.socket.local_endpoint(ec);
    if (!ec) {
      forget_ident();
      ident->add(local, s.peer, identity_.user);
      ident_key_.emplace(local, s.peer);
    }
  }
  // One server orders a channel's events alike for all its clients (shared_reads.hpp).
  server_key_ = s.peer.address().to_string() + " " + std::to_string(s.peer.port()) + " " + net_.encoding;
  lazy_ = false;
  deferred_ = false;
  low_mark_ = true;
  tick_told_ = false;
  defer_told_ = false;
  link_ = std::make_shared<IrcLink>(std::move(s), limits, fb, this);
  reg_ = irc::ClientRegistration(identity_);
  std::string out;
  reg_.start(out);
  auto link = link_;
  link->start();
  send_now(out);
}

void Puppet::connect_failed(const protocols::ConnectError& e,
                            std::optional<std::chrono::milliseconds> retry) {
  spdlog::info("gateway: {} -> {}:{}: {}{}", bare_, net_.host, net_.port, e.reason,
               retry ? fmt::format(" (retry in {} ms)", retry->count()) : std::string());
  // A known-good network, or one the user asked to stay in: keep trying, the queue waits.
  if ((ever_registered_ || has_persistent()) && retry) return;
  // Never reached it: the joins waiting for it fail now rather than hang (XEP-0045 §7.2.7).
  // An internal address behind an open network is a refusal, not an unreachable server.
  const bool forbidden = e.kind == protocols::ConnectError::Kind::forbidden;
  give_up("IRC server " + net_.host + ": " + e.reason +
              (forbidden ? " (irc.open_networks_allow_private is off)" : ""),
          forbidden ? "not-allowed" : "remote-server-not-found");
}

// The network cannot be used (never reached, or it refused us): every join waiting for it
// and every private chat through this puppet gets an error with `text`, what they queued
// is dropped with it (told, not lost without a word), and the puppet retires.
void Puppet::give_up(const std::string& text, std::string_view condition) {
  if (reconnector_) reconnector_->stop();
  // From the nick the join asked for: never registered, the puppet has no nick of its own.
  for (auto& [_, c] : channels_)
    for (const auto& r : c.resources) {
      auto asked = c.requested.find(r);
      const std::string& nick = asked != c.requested.end() ? asked->second : identity_.nicks.front();
      gw_.send(r, render_error("presence", occupant_jid(c, nick), r, {}, "cancel", condition,
                               xml_safe_text(text)));
    }
  const std::string server = label_ + "@" + gw_.domain();
  for (const auto& r : pm_resources_)
    gw_.send(r, render_error("message", server, r, {}, "cancel", condition, xml_safe_text(text)));
  while (!kicks_.empty()) answer_kick(0, "cancel", condition, text);  // a TOPIC still queued
  for (auto& [_, c] : channels_) leave_shared(c);
  channels_.clear();
  pm_resources_.clear();
  queue_.clear();
  unconfirmed_.clear();
  check_empty();
}

void Puppet::send_now(std::string_view bytes) {
  // A local reference: a failing write closes the link, and on_irc_closed resets link_
  // while send() is still running.
  if (auto link = link_; link && !bytes.empty()) link->send(bytes);
}

void Puppet::forget_ident() {
  if (ident_key_ && gw_.options().ident) gw_.options().ident->remove(ident_key_->first, ident_key_->second);
  ident_key_.reset();
}

// The lines to the channel still in queue_ (not written yet): the newest of c.sent.
std::size_t Puppet::queued_lines(const Channel& c) const {
  const std::string head = "PRIVMSG " + c.name + " :";
  return static_cast<std::size_t>(
      std::count_if(queue_.begin(), queue_.end(), [&](const std::string& l) { return l.starts_with(head); }));
}

void Puppet::on_irc_closed(std::string_view reason) {
  spdlog::info("gateway: {} lost {}: {}", bare_, net_.host, reason);
  link_.reset();
  lazy_ = false;
  deferred_ = false;
  nick_change_.reset();  // not answered on this link; the next registration asks wanted_nick()
  // A KICK written is lost with the link; one still queued goes after the reconnection.
  for (std::size_t i = 0; i < kicks_.size();)
    if (std::find(queue_.begin(), queue_.end(), kicks_[i].line) == queue_.end())
      answer_kick(i, "wait", "remote-server-timeout", "the IRC connection was lost");
    else
      ++i;
  forget_ident();
  for (auto& [_, c] : channels_) {
    c.in_irc = false;
    c.echo_skip.clear();  // those echoes will not come
    leave_shared(c);
    if (c.sent.empty()) continue;
    if (echoes_) {
      resend_unechoed(c);
      continue;
    }
    // Without echo-message what was written is not known to have arrived or not: reflected
    // as said (what queue_ still holds is sent after the reconnection). The PRIVMSGs to a
    // channel are queued in order, so the newest entries are the queued ones.
    reflect_unechoed(c, queued_lines(c));
  }
  // After the channels' reflections: what goes again is not theirs to count (queued_lines).
  resend_unconfirmed();
  // In no channel but still chatting privately (pm_resources_): it reconnects as well, or
  // what its user says next would wait in queue_ for a link that never comes.
  if (quitting_ || (channels_.empty() && pm_resources_.empty())) return check_empty();
  // Closed before registering, without an ERROR, by a network never registered with (a TLS
  // port spoken to in plain text, SASL that never answers until the registration deadline):
  // the joins waiting for it fail now, as an unreachable server's do, rather than reconnect
  // for ever with no answer to them (XEP-0045 §7.2.7). A known-good network is retried.
  if (!ever_registered_ && !has_persistent())
    return give_up(
        "IRC server " + net_.host + " closed the connection before registration: " + std::string(reason),
        "remote-server-not-found");
  if (reconnector_) reconnector_->connection_lost();
}

void Puppet::on_registered() {
  ever_registered_ = true;
  if (!reg_.sasl_error().empty()) {
    // The user gave an account for this network and is not logged in (channels that need
    // one answer 477): told, from the server's JID, at each registration it fails.
    const std::string server = label_ + "@" + gw_.domain();
    const std::string text = "SASL login as " + identity_.sasl_user + " on " + net_.host + " failed (" +
                             reg_.sasl_error() + "): connected without an account";
    spdlog::info("gateway: {} on {}: {}", bare_, net_.host, text);
    for (const auto& r : resources()) gw_.send(r, render_message(server, r, "chat", xml_safe_text(text)));
  }
  echoes_ = reg_.caps().enabled("echo-message");
  // A link that echoes ends no channel line kept in unconfirmed_ (only Channel::sent's): not
  // tracked there, or a later loss would send them again after their echo.
  if (echoes_) std::erase_if(unconfirmed_, [](const Unconfirmed& e) { return e.full_jid.empty(); });
  if (!echoes_) {  // this link does not echo: what waited for an echo is reflected now
    for (auto& [_, c] : channels_) reflect_unechoed(c);
  }
  link_->clear_deadline();
  arm_keepalive();
  // Rejoin (or join for the first time) every channel before anything queued for them.
  for (auto it = channels_.rbegin(); it != channels_.rend(); ++it) queue_.push_front(join_line(it->second));
  pump();
}

bool Puppet::enqueue(std::string line, bool front) { return queue_line(std::move(line), front, 0); }

// A JOIN, PART or NICK keeps the channel state true on both sides: refused when the user's
// lines filled the queue, a join hung and a PART was lost (the puppet stayed in the
// channel). They may pass the bound by kControlSlack (they come one per user action).
void Puppet::enqueue_control(std::string line, bool front) {
  queue_line(std::move(line), front, kControlSlack);
}

bool Puppet::queue_line(std::string line, bool front, std::size_t slack) {
  if (queue_.size() >= gw_.options().queue + slack) return false;
  if (front)
    queue_.push_front(std::move(line));
  else
    queue_.push_back(std::move(line));
  pump();
  return true;
}

void Puppet::pump() {
  if (!link_ || !reg_.registered()) return;
  std::string batch;
  auto delay = drain_throttled(queue_, bucket_, net_.throttle_interval_ms, batch);
  if (!batch.empty()) last_written_ = std::chrono::steady_clock::now();
  write_marker(batch, delay);
  send_now(batch);
  if ((queue_.empty() && !marker_owed()) || !link_) return;
  pump_wait_.arm(delay, [this] { pump(); });
}

void Puppet::check_empty() {
  if (!channels_.empty() || !pm_resources_.empty() || retired_) return;
  if (reconnector_) reconnector_->stop();
  retired_ = true;  // first: a send below may close the link and come back here
  if (link_ && !quitting_) {
    quitting_ = true;
    // What the throttle still holds goes first (the user said it before leaving).
    std::string rest;
    if (reg_.registered())
      for (auto& l : queue_) rest += l;
    queue_.clear();
    auto link = link_;  // a failing write closes it and on_irc_closed resets link_
    link->send(rest + "QUIT :Leaving\r\n");
    link->close_after_flush("leaving");
  }
  gw_.retire(this);
}

// The gateway stops: every resource is told it is out of its rooms (XEP-0045 status 332,
// removed because the service is shutting down); a client of another server (component
// mode) stays connected and would look joined until its next self-ping.
void Puppet::shutdown(std::string_view reason) {
  for (auto& [_, c] : channels_) self_gone(c, {110, 332}, reason);
  quit(reason);
}

void Puppet::quit(std::string_view reason) {
  quitting_ = true;
  if (reconnector_) reconnector_->stop();
  // No PINGs after the QUIT: a pending keepalive wait (ping_interval / 2) would keep the
  // io_context busy past the daemon's drain limit at shutdown (Gateway::stop).
  if (keepalive_) keepalive_->cancel();
  if (auto link = link_) {
    std::string line;
    irc::LineWriter(line).command("QUIT").trailing(one_line(reason, kMaxReason)).end();
    link->send(line);
    link->close_after_flush("quit");
  }
}

// ---- XMPP -> IRC -----------------------------------------------------------------------------

void Puppet::join(const std::string& full_jid, const std::string& channel, const std::string& label,
                  const std::string& nick, const std::string& id, const HistoryRequest& history,
                  bool muc_join, std::string_view password) {
  auto [c, fresh] = open_channel(channel, label);
  const std::string want = irc_nick_of(nick);
  // The key goes with the next JOIN: this one's (fresh), or the reconnection's. None is due
  // while the channel is on IRC or its JOIN is on its way: another resource's password does
  // not replace the one that lets us in.
  if ((fresh || (!c.in_irc && !(reg_.registered() && link_))) && is_channel_key(password))
    c.key = std::string(password);
  if (!fresh && c.resources.count(full_jid) && !c.waiting.count(full_jid)) {
    // XEP-0045 §7.6: presence to a new nick in a room already joined changes the nick. It
    // is the nick of every later registration too: a reconnection keeps it, and one asked
    // for while the link is down is taken there (rejoined_as tells the resources).
    // A presence update: to the link's nick, or to the one the room still knows (a rejoin
    // on another nick is told at the end of its NAMES).
    if ((reg_.registered() && irc::equal_fold(want, reg_.nick())) || irc::equal_fold(want, c.self_nick)) {
      // A join (<x/>) from a resource in the room already: a client that lost its state
      // (a web client reloaded on the same full JID, a stream resumed elsewhere) waits for
      // the whole join sequence again (XEP-0045 §7.2.3): occupants, self-presence, history,
      // subject; once the channel is back on IRC if the link is down.
      if (!muc_join) return;
      c.history[full_jid] = history;
      if (c.names_done && c.in_irc) return send_state(c, full_jid);
      c.waiting.insert(full_jid);
      return;
    }
    const std::string before = wanted_nick();
    identity_.nicks = {want};
    if (reg_.registered() && link_) {
      nick_change_ = NickChange{want, full_jid, channel, before, id, protocols::coarse_now()};
      std::string line;
      irc::LineWriter(line).command("NICK").param(want).end();
      enqueue_control(std::move(line));
    }
    return;
  }
  c.resources.insert(full_jid);
  c.requested[full_jid] = want;
  c.history[full_jid] = history;
  if (c.names_done && c.in_irc) return send_state(c, full_jid);
  c.waiting.insert(full_jid);
  // While the link is down (reg_ still says registered) on_registered joins it with the rest.
  if (fresh && reg_.registered() && link_)
    enqueue_control(join_line(c), true);  // a JOIN jumps the queue: messages for it follow it
}

void Puppet::leave(const std::string& full_jid, const std::string& channel, std::string_view status) {
  Channel* c = find_channel(channel);
  if (!c || !c->resources.count(full_jid)) return;
  // XEP-0045 §7.14: the leaving resource gets its own unavailable presence.
  gw_.send(full_jid, render_occupant_presence({.from = occupant_jid(*c, nick_known_to(*c, full_jid)),
                                               .to = full_jid,
                                               .unavailable = true,
                                               .statuses = {110}}));
  c->resources.erase(full_jid);
  c->waiting.erase(full_jid);
  c->requested.erase(full_jid);
  c->history.erase(full_jid);
  // A persistent channel is not left: the puppet stays for the user (Biboumi's flag).
  if (!c->resources.empty() || c->persistent) return;
  std::string line;
  irc::LineWriter w(line);
  w.command("PART").param(c->name);
  if (!status.empty()) w.trailing(one_line(status, kMaxReason));
  w.end();
  if (reg_.registered() && link_) enqueue_control(std::move(line));
  erase_channel(ascii_fold(channel));
  check_empty();
}

void Puppet::resource_gone(const std::string& full_jid) {
  pm_resources_.erase(full_jid);
  std::vector<std::string> names;
  for (const auto& [k, c] : channels_)
    if (c.resources.count(full_jid)) names.push_back(c.name);
  for (const auto& n : names) leave(full_jid, n, "");
  check_empty();
}

void Puppet::pm_gone(const std::string& full_jid) {
  if (pm_resources_.erase(full_jid)) check_empty();
}

bool Puppet::raw(const std::string& full_jid, std::string_view body, std::string* why) {
  (void)full_jid;
  std::vector<std::string> lines;
  raw_lines(body, gw_.options().max_lines, lines);
  if (queue_.size() + lines.size() > gw_.options().queue) {
    *why = "resource-constraint";
    return false;
  }
  // A PING with our marker's token would say lines arrived that have not (confirmed); the
  // PONG of any other is not the server dropping our tokens (tokenless_pong_).
  bool pings = false;
  for (const auto& l : lines) {
    irc::Message m;
    if (irc::parse_line(std::string_view(l).substr(0, l.size() - 2), m) != irc::ParseError::none ||
        !irc::equal_fold(m.command, "PING"))
      continue;
    if (l.find(kMarkerPrefix) != std::string::npos) {
      *why = "not-acceptable";
      return false;
    }
    pings = true;
  }
  raw_pings_ |= pings;
  for (auto& l : lines) queue_.push_back(std::move(l));
  for (auto& [_, c] : channels_) gw_.shared_reads().saying(c.shared);  // it may say something there
  pump();
  return true;
}

bool Puppet::say(const std::string& full_jid, const std::string& channel, std::string_view body,
                 const std::string& id, std::string* why, const std::vector<irc::Span>& spans) {
  Channel* c = find_channel(channel);
  if (!c || !c->resources.count(full_jid)) {
    *why = "not-acceptable";
    return false;
  }
  std::vector<std::string> lines;
  privmsg_lines(reg_.nick(), c->name, body, gw_.options().max_lines, lines, "PRIVMSG", spans);
  if (queue_.size() + lines.size() > gw_.options().queue) {
    *why = "resource-constraint";
    return false;
  }
  // Without echo-message a PING follows the lines: its PONG says the server took them
  // (unconfirmed_), and a leader hands them to its followers then (shared_reads.hpp).
  const bool marked = !echoes_ && !lines.empty();
  bool handed = false;
  if (marked && c->shared.leader) {
    std::vector<std::string_view> texts;
    for (const auto& l : lines) texts.push_back(line_text(l));
    handed = gw_.shared_reads().said(c->shared, next_marker(), reg_.nick(), texts);
  }
  if (handed) {
    said_waits_ = true;
    marker_urgent_ = true;  // the other users see the lines at its PONG
    gw_.arm_read_tick();    // said_overdue
  }
  // The leader's copy of a follower's line, or its own line's PONG or echo, comes back (a
  // leader alone without echo-message gets nothing back that anyone waits for).
  if (!lines.empty() && c->shared.group && (!c->shared.leader || handed || echoes_))
    if (SharedReader* lead = gw_.shared_reads().leader_of(c->shared)) lead->expect_line();
  // Reflected when the server echoes the last line (on_own_channel_line), or without
  // echo-message when the channel's leader reads it (Sent::via_leader); a body that made no
  // line has nothing to wait for.
  const bool via_leader = !lines.empty() && c->shared.group && !c->shared.leader;
  const bool await_echo = (echoes_ && !lines.empty()) || via_leader;
  if (await_echo) {
    const auto now = protocols::coarse_now();
    // Who said it, the id and the body ride on the message's last line only.
    for (const auto& l : lines)
      c->sent.push_back(Sent{.text = std::string(line_text(l)), .via_leader = via_leader, .at = now});
    Sent& last = c->sent.back();
    last.full_jid = full_jid;
    last.id = id;
    last.body = body;
    last.last = true;
    // A server that acknowledged echo-message but does not echo: bounded all the same.
    if (c->sent.size() > gw_.options().queue) reflect_unechoed(*c, gw_.options().queue);
  }
  queue_said(lines, marked, via_leader);  // on a link that echoes, c->sent tracks them
  pump();
  if (via_leader) {
    leader_echoes_ = true;
    gw_.arm_read_tick();  // reflect_overdue
    return true;
  }
  if (await_echo) {
    read_now();  // its echo must not wait for the read tick (covered() is false from now on)
    return true;
  }
  // Other puppets in the channel hear it from IRC; this one only here.
  const std::string sid = archive(*c, reg_.nick(), body, false, false, false);
  // XEP-0045 §7.4: the message comes back to every occupant resource, the sender's id kept.
  // No echo to wait for (this link does not echo, or nothing went out): reflected now.
  reflect(*c, id, body, sid);
  return true;
}

void Puppet::reflect(Channel& c, std::string_view id, std::string_view body, std::string_view sid) {
  const std::string_view room = sid.empty() ? std::string_view() : std::string_view(room_jid(c));
  for (const auto& r : c.resources)
    gw_.send(r, render_message(occupant_jid(c, nick_known_to(c, r)), r, "groupchat", body, nullptr, id, {},
                               {}, {}, sid, room));
}

// The link is gone with lines written to the channel that the server never echoed: it did
// not take them (a server killed with them in its buffers, a TCP path that died and took
// what we wrote until the ping timeout). Queued again, in their order, ahead of what waits
// to be written: they go after the rejoin, and their entries keep waiting for the echo on
// the new link (reflected there, or by on_registered if it does not echo). A line the
// server took whose echo the dying link lost is sent twice: a duplicate rather than a loss.
// Lines older than resend_window are reflected as before (a filter dropped them).
void Puppet::resend_unechoed(Channel& c) {
  const auto since = protocols::coarse_now() - resend_window();
  std::size_t stale = 0;
  while (stale < c.sent.size() && c.sent[stale].at < since) ++stale;
  reflect_unechoed(c, c.sent.size() - stale);  // as when a later line's echo passes them
  const std::size_t queued = queued_lines(c);
  if (c.sent.size() <= queued) return;
  const std::size_t written = c.sent.size() - queued;
  for (std::size_t i = written; i-- > 0;) {
    std::string line;
    irc::LineWriter(line).command("PRIVMSG").param(c.name).trailing(c.sent[i].text).end();
    queue_.push_front(std::move(line));
    c.sent[i].ticks = 0;
  }
  spdlog::info("gateway: {} on {}: {} line(s) to {} not echoed before the link was lost: sent again", bare_,
               net_.host, written, c.name);
}

std::chrono::steady_clock::duration Puppet::resend_window() const {
  // A dead path is closed ping_timeout after the last byte read, at the keepalive check
  // that follows (every ping_interval / 2).
  return gw_.options().ping_timeout + gw_.options().ping_interval / 2 + std::chrono::seconds(30);
}

void Puppet::queue_said(std::vector<std::string>& lines, bool track, bool by_leader,
                        const std::string& full_jid, const std::string& addressed, const std::string& id) {
  if (lines.empty()) return;
  if (track) {
    const auto now = protocols::coarse_now();
    // Bounded in number; on a link with echo-message in time too (an echo that did not come
    // within resend_window will not: resend_unconfirmed would not send it again).
    while (!unconfirmed_.empty() && (unconfirmed_.size() + lines.size() > gw_.options().queue ||
                                     (echoes_ && unconfirmed_.front().at < now - resend_window())))
      unconfirmed_.pop_front();
    for (const auto& l : lines)
      unconfirmed_.push_back({.line = l,
                              .at = now,
                              .full_jid = full_jid,
                              .addressed = addressed,
                              .id = id,
                              .by_leader = by_leader});
  }
  for (auto& l : lines) queue_.push_back(std::move(l));
}

// Written when every tracked line is (queue_ empty): the PING follows them all, so every
// entry without a marker gets this one (they are the newest). Under a throttle, only
// once the user has been quiet for an interval: a token the PING took while they talk would
// be the next line's (five messages at once and a PING after each would hold the last two),
// unless a leader's followers wait for its PONG (SharedReads::placed).
bool Puppet::write_marker(std::string& batch, std::chrono::milliseconds& delay) {
  if (!marker_owed()) return false;
  // Never quiet for long (steady throttled output, a backlog that never drains): the PING
  // goes behind the lines queued now, and takes its token in turn, once kMarkerLines lines
  // or kMarkerAge wait for one (else a loss would send hundreds of delivered lines again).
  // Counted without the followers' lines a leader's copy will confirm.
  const auto now = protocols::coarse_now();
  std::size_t unmarked = 0;
  auto oldest = now;
  for (auto e = unconfirmed_.rbegin(); e != unconfirmed_.rend() && e->marker == 0; ++e)
    if (!e->by_leader || e->at + kMarkerAge <= now) {
      ++unmarked;
      oldest = e->at;
    }
  const bool starved = unmarked >= kMarkerLines || oldest + kMarkerAge <= now;
  if (starved && !queue_.empty()) {
    queue_.push_back(marker_line(++marker_));
    mark_unmarked();
    return false;
  }
  if (!queue_.empty()) return false;
  if (bucket_.enabled() && !marker_urgent_ && !starved) {
    const auto quiet = std::chrono::ceil<std::chrono::milliseconds>(
        last_written_ + std::chrono::milliseconds(net_.throttle_interval_ms) -
        std::chrono::steady_clock::now());
    if (quiet.count() > 0) {
      delay = quiet;
      return false;
    }
  }
  delay = take_one(bucket_, net_.throttle_interval_ms);
  if (delay.count() != 0) return false;
  batch += marker_line(++marker_);
  mark_unmarked();
  return true;
}

void Puppet::mark_unmarked() {
  marker_urgent_ = false;
  for (auto e = unconfirmed_.rbegin(); e != unconfirmed_.rend() && e->marker == 0; ++e) e->marker = marker_;
  markers_sent_ = true;
}

bool Puppet::marker_owed() const {
  if (echoes_) return false;
  // A follower's line whose copy no leader handed back in kMarkerAge needs one too.
  const auto old = protocols::coarse_now() - kMarkerAge;
  for (auto e = unconfirmed_.rbegin(); e != unconfirmed_.rend() && e->marker == 0; ++e)
    if (!e->by_leader || e->at <= old) return true;
  return false;
}

void Puppet::confirmed(std::uint64_t marker) {
  markers_answered_ = true;
  // Markers are given in increasing order (to the trailing run of unmarked entries), and
  // the server answers them in that order; leader_confirmed may have taken entries between.
  std::erase_if(unconfirmed_, [&](const Unconfirmed& e) { return e.marker != 0 && e.marker <= marker; });
}

// The oldest entry to the channel with that text (marked or not: it arrived either way); a
// copy the server changed (colours stripped) matches no text and takes the oldest follower
// entry there, as on_own_channel_line takes the oldest Sent.
void Puppet::leader_confirmed(const Channel& c, std::string_view text) {
  auto oldest = unconfirmed_.end();
  for (auto e = unconfirmed_.begin(); e != unconfirmed_.end(); ++e) {
    if (privmsg_target(e->line) != c.name) continue;
    if (line_text(e->line) == text) {
      unconfirmed_.erase(e);
      return;
    }
    if (oldest == unconfirmed_.end() && e->by_leader) oldest = e;
  }
  if (oldest != unconfirmed_.end()) unconfirmed_.erase(oldest);
}

// The link is lost with lines written that the server never showed it took (no echo, or no
// PONG of a marker after them): a server killed with them in its buffers, a TCP path that
// died and took what we wrote until the ping timeout. Queued again, in their order, ahead of
// what waits to be written; the entries stay until the new link shows them (their markers
// were this link's: pump writes a new one after them). A line the server took whose echo or
// PONG the dying link lost is sent twice: a duplicate rather than a loss. Not sent again: to
// a channel this puppet has left meanwhile; on a link with echo-message, lines said longer
// than resend_window ago (the link was alive after them: a filter dropped them); on a link
// that answered a PING without our token and never returned a marker's, none.
void Puppet::resend_unconfirmed() {
  const auto since = protocols::coarse_now() - resend_window();
  const bool tokenless = !echoes_ && !markers_answered_ && tokenless_pong_;
  markers_answered_ = false;
  markers_sent_ = false;
  tokenless_pong_ = false;
  raw_pings_ = false;
  marker_urgent_ = false;
  // A marker PING still queued (starved) was this link's: the next one covers its lines.
  std::erase_if(queue_, [](const std::string& l) { return marker_line_of(l).has_value(); });
  std::erase_if(unconfirmed_, [&](const Unconfirmed& e) {
    if (echoes_ && e.at < since) return true;
    const std::string_view target = privmsg_target(e.line);
    return reg_.isupport().is_channel(target) && !find_channel(target);
  });
  // The newest entries may still be in queue_ (throttled): matched from the back, in order.
  std::size_t queued = 0;
  auto want = unconfirmed_.rbegin();
  for (auto q = queue_.rbegin(); q != queue_.rend() && want != unconfirmed_.rend(); ++q)
    if (*q == want->line) {
      ++queued;
      ++want;
    }
  const std::size_t written = unconfirmed_.size() - queued;
  for (auto& e : unconfirmed_) {
    e.marker = 0;
    e.by_leader = false;  // the new link's leader may be another, or none: a PING covers them
  }
  if (tokenless) {
    spdlog::warn(
        "gateway: {} on {}: the server returned no PING token: {} line(s) written last are not "
        "known to have arrived, and are not sent again",
        bare_, net_.host, written);
    unconfirmed_.erase(unconfirmed_.begin(), unconfirmed_.begin() + static_cast<std::ptrdiff_t>(written));
    return;
  }
  std::size_t private_lines = 0;
  for (std::size_t i = written; i-- > 0;) {
    queue_.push_front(unconfirmed_[i].line);
    if (!unconfirmed_[i].full_jid.empty()) ++private_lines;
  }
  if (written)
    spdlog::info(
        "gateway: {} on {}: {} line(s) ({} private) not known to have arrived before the link was "
        "lost: sent again",
        bare_, net_.host, written, private_lines);
}

// Matched like a channel line's echo (on_own_channel_line): the oldest entry to that nick
// with that text, the ones before it dropped by the server; a text the server changed takes
// the oldest entry to that nick.
void Puppet::pm_echoed(std::string_view target, std::string_view text) {
  std::optional<std::size_t> first;
  for (std::size_t k = 0; k < unconfirmed_.size(); ++k) {
    const std::string_view l = unconfirmed_[k].line;
    if (!pm_to(l, target)) continue;
    if (!first) first = k;
    if (line_text(l) != text) continue;
    unconfirmed_.erase(unconfirmed_.begin(), unconfirmed_.begin() + static_cast<std::ptrdiff_t>(k) + 1);
    return;
  }
  if (first) unconfirmed_.erase(unconfirmed_.begin() + static_cast<std::ptrdiff_t>(*first));
}

void Puppet::no_such_nick(std::string_view nick, std::string_view text) {
  // The newest private message to that nick is the one refused (the user wrote, the server
  // answered within a round trip); every entry to it is done. One older than kPmAnswered
  // was delivered: this 401 answers something else (a raw WHOIS), and is dropped.
  const Unconfirmed* newest = nullptr;
  for (const auto& e : unconfirmed_)
    if (pm_to(e.line, nick)) newest = &e;
  if (!newest || newest->at < protocols::coarse_now() - kPmAnswered) return;
  // XEP-0045 §7.5: to an occupant JID that is not there, item-not-found; to nick%net@gw,
  // recipient-unavailable (RFC 6120 §8.3.3.13: it may come back).
  const bool occupant = newest->addressed.find('/') != std::string::npos;
  if (!newest->addressed.empty() && has_resource(newest->full_jid))
    gw_.send(
        newest->full_jid,
        render_error("message", newest->addressed, newest->full_jid, newest->id, occupant ? "cancel" : "wait",
                     occupant ? "item-not-found" : "recipient-unavailable", xml_safe_text(text)));
  std::erase_if(unconfirmed_, [&](const Unconfirmed& e) { return pm_to(e.line, nick); });
}

void Puppet::reflect_unechoed(Channel& c, std::size_t keep) {
  while (c.sent.size() > keep) {
    Sent s = std::move(c.sent.front());
    c.sent.pop_front();
    // Not archived: other puppets (or this one's replacement link) may never hear it either,
    // but the line is not known to have reached the channel.
    if (s.last && !s.refused) reflect(c, s.id, s.body, {});
  }
}

// Our line came back. The server relays our lines in the order we sent them, so it is the
// oldest entry with its text: entries before it were dropped without a word (reflected, as
// without echo-message). A server that changed the text (colours stripped, a filter) echoes
// something no entry has: the oldest entry is taken. No entry at all: a line the user sent
// as a raw command, shown like anyone's line.
void Puppet::on_own_channel_line(Channel& c, std::string_view from_nick, std::string_view text) {
  if (c.sent.empty()) return on_channel_line(c.name, from_nick, text, false);
  // A leader hands its echo on as any line it reads, in the channel's order (shared_reads.hpp).
  if (c.shared.leader) gw_.shared_reads().line(this, c.shared, from_nick, text, false);
  std::size_t k = 0;
  while (k < c.sent.size() && c.sent[k].text != text) ++k;
  if (k == c.sent.size()) k = 0;
  reflect_unechoed(c, c.sent.size() - k);
  Sent s = std::move(c.sent.front());
  c.sent.pop_front();
  // Archived as heard, like every other puppet's copy: one key for the line (line_ids.hpp).
  std::string sid;
  if (gw_.archiving())
    if (ChannelLines::Line* line =
            gw_.channel_lines().line(c.lines_slot, room_jid(c), from_nick, text, false))
      sid = archive(c, from_nick, line->body.body, line->action, false, true);
  if (s.last && !s.refused) reflect(c, s.id, s.body, sid);
}

// ERR_CANNOTSENDTOCHAN (moderated, banned, +n...): our oldest unechoed line was refused. The
// sender gets XEP-0045 §7.4's error for a message the room does not accept, once per message;
// the message's other lines, echoed or not, reflect nothing.
void Puppet::refused(Channel& c, std::string_view text) {
  if (c.sent.empty()) return;
  Sent s = std::move(c.sent.front());
  c.sent.pop_front();
  const Sent* last = &s;  // the message's last entry holds who said it and its id
  if (!s.last)
    for (auto& rest : c.sent) {
      rest.refused = true;
      if (rest.last) {
        last = &rest;
        break;
      }
    }
  if (s.refused) return;  // told already, at an earlier line of the message
  gw_.send(last->full_jid, render_error("message", room_jid(c), last->full_jid, last->id, "auth", "forbidden",
                                        xml_safe_text(text)));
}

bool Puppet::kick(const std::string& full_jid, const std::string& channel, std::string_view nick,
                  std::string_view reason, const std::string& id, std::string* why) {
  Channel* c = find_channel(channel);
  if (!c || !c->resources.count(full_jid)) {
    *why = "item-not-found";
    return false;
  }
  if (!link_ || !reg_.registered() || !c->in_irc || kicks_.size() >= kMaxKicks) {
    *why = "resource-constraint";
    return false;
  }
  // The occupant's nick as IRC spells it (never the XMPP attribute itself: no CR, LF or
  // space can reach the line); the reason made one line.
  auto o = c->occupants.find(ascii_fold(nick));
  if (o == c->occupants.end()) {
    *why = "item-not-found";
    return false;
  }
  std::string line;
  irc::LineWriter w(line);
  w.command("KICK").param(c->name).param(o->second.nick);
  if (!reason.empty()) w.trailing(one_line(reason, kMaxReason));
  w.end();
  kicks_.push_back({id, full_jid, ascii_fold(c->name), o->first, line, protocols::coarse_now()});
  // A throw from here on reaches the component's firewall, which answers the iq (RFC 6120
  // §8.2.3: once): no record may stay behind for answer_kick to answer it a second time.
  try {
    enqueue_control(std::move(line));
  } catch (...) {
    kicks_.pop_back();
    throw;
  }
  return true;
}

void Puppet::kick_answered(std::string_view channel, std::string_view nick, std::string_view type,
                           std::string_view condition, std::string_view text) {
  auto it = std::find_if(kicks_.begin(), kicks_.end(), [&](const Kick& k) {
    return (channel.empty() || k.channel == channel) && (nick.empty() || k.nick == nick);
  });
  if (it != kicks_.end()) answer_kick(static_cast<std::size_t>(it - kicks_.begin()), type, condition, text);
}

void Puppet::topic_answered(std::string_view channel) {
  auto it = std::find_if(kicks_.begin(), kicks_.end(),
                         [&](const Kick& k) { return k.topic && k.channel == channel; });
  if (it != kicks_.end()) kicks_.erase(it);
}

void Puppet::answer_kick(std::size_t i, std::string_view type, std::string_view condition,
                         std::string_view text) {
  const Kick k = std::move(kicks_[i]);
  kicks_.erase(kicks_.begin() + static_cast<std::ptrdiff_t>(i));
  const Channel* c = find_channel(k.channel);
  const std::string room = c ? room_jid(*c) : gateway_local(k.channel, label_) + "@" + gw_.domain();
  if (k.topic) {  // a change shows as the TOPIC itself: only a refusal is told
    if (!condition.empty())
      gw_.send(k.full_jid,
               render_error("message", room, k.full_jid, k.id, type, condition, xml_safe_text(text)));
    return;
  }
  if (condition.empty())
    gw_.send(k.full_jid, render_iq_result(room, k.full_jid, k.id));
  else
    gw_.send(k.full_jid, render_error("iq", room, k.full_jid, k.id, type, condition, xml_safe_text(text)));
}

bool Puppet::set_topic(const std::string& full_jid, const std::string& channel, std::string_view subject,
                       const std::string& id, std::string* why) {
  Channel* c = find_channel(channel);
  if (!c || !c->resources.count(full_jid)) {
    *why = "not-acceptable";
    return false;
  }
  if (kicks_.size() >= kMaxKicks) {
    *why = "resource-constraint";
    return false;
  }
  const std::string text = one_line(subject, kMaxReason);
  std::string line;
  irc::LineWriter(line).command("TOPIC").param(c->name).trailing(text).end();
  // The text it has already: a server that changes nothing sends no TOPIC (InspIRCd), so
  // nothing is waited for. Else recorded before the write: one that fails closes the link
  // at once, and on_irc_closed answers what it finds.
  const bool waits = xml_safe_text(text) != c->topic;
  if (waits) kicks_.push_back({id, full_jid, ascii_fold(c->name), {}, line, protocols::coarse_now(), true});
  auto forget = [&] {
    if (waits && !kicks_.empty() && kicks_.back().topic && kicks_.back().id == id) kicks_.pop_back();
  };
  bool queued = false;
  try {
    queued = enqueue(std::move(line));
  } catch (...) {
    forget();
    throw;
  }
  if (!queued) {
    forget();
    *why = "resource-constraint";
    return false;
  }
  return true;
}

bool Puppet::private_message(const std::string& full_jid, const std::string& nick, std::string_view body,
                             std::string* why, const std::vector<irc::Span>& spans,
                             const std::string& addressed, const std::string& id) {
  std::vector<std::string> lines;
  privmsg_lines(reg_.nick(), nick, body, gw_.options().max_lines, lines, "PRIVMSG", spans);
  if (queue_.size() + lines.size() > gw_.options().queue) {
    *why = "resource-constraint";
    return false;
  }
  // Tracked until its echo, or without echo-message its marker's PONG (a 401 comes before).
  queue_said(lines, true, false, full_jid, addressed, id);
  if (!addressed.empty()) {
    if (pm_from_.size() >= kMaxPmFrom && !pm_from_.count(ascii_fold(nick))) pm_from_.clear();
    pm_from_[ascii_fold(nick)] = addressed;
  }
  // A resource in no channel here still gets the answers (and holds the connection open).
  bool in_some_channel = false;
  for (const auto& [_, c] : channels_) in_some_channel |= c.resources.count(full_jid) != 0;
  if (!in_some_channel) pm_resources_.insert(full_jid);
  pump();
  return true;
}

// ---- IRC -> XMPP -----------------------------------------------------------------------------

void Puppet::occupant_presence(Channel& c, const Occupant& o, bool unavailable,
                               std::initializer_list<int> statuses, std::string_view new_nick,
                               std::string_view reason, std::string_view status_text) {
  const std::string from = occupant_jid(c, o.nick);
  const MucRole role = role_of_modes(o.modes);
  each_resource(c, [&](const std::string& r) {
    gw_.send(r, render_occupant_presence({.from = from,
                                          .to = r,
                                          .role = role,
                                          .unavailable = unavailable,
                                          .new_nick = new_nick,
                                          .statuses = statuses,
                                          .reason = reason,
                                          .status_text = status_text}));
  });
}

std::string Puppet::archive(Channel& c, std::string_view nick, std::string_view body, bool action,
                            bool notice, bool heard) {
  if (!gw_.archiving()) return {};
  const auto kind = action   ? core::MessageKind::action
                    : notice ? core::MessageKind::notice
                             : core::MessageKind::room;
  const std::int64_t key = gw_.archive_line(c.archive_key, c.archive_cursor, heard, nick, body, kind);
  return key ? std::to_string(key) : std::string();
}

// XEP-0045 §7.2.2-§7.2.3 and §7.2.15: other occupants, then ourselves (110, and 210 when the
// nick is not the one asked for), then the history from the archive, then the subject
// (always, even empty: it ends the join).
void Puppet::send_state(Channel& c, const std::string& r) {
  const std::string me = ascii_fold(reg_.nick());
  for (const auto& [k, o] : c.occupants) {
    if (k == me) continue;
    const MucRole role = role_of_modes(o.modes);
    gw_.send(r, render_occupant_presence({.from = occupant_jid(c, o.nick), .to = r, .role = role}));
  }
  auto mine = c.occupants.find(me);
  const MucRole role = role_of_modes(mine == c.occupants.end() ? std::string_view{} : mine->second.modes);
  const bool renamed = c.requested.count(r) && c.requested[r] != reg_.nick();
  gw_.send(r, render_occupant_presence({.from = occupant_jid(c, reg_.nick()),
                                        .to = r,
                                        .role = role,
                                        .statuses = renamed ? std::initializer_list<int>{110, 210}
                                                            : std::initializer_list<int>{110}}));
  // XEP-0045 §7.2.15: history before the subject - the archive's lines the join asked
  // for, and what the user missed while away from a persistent channel (kept only when
  // there is no archive, which has those lines already).
  const std::string& room = room_jid(c);
  if (auto h = c.history.find(r); h != c.history.end()) {
    gw_.send_history(r, room, c.archive_key, h->second);
    c.history.erase(h);
  }
  for (const auto& m : c.missed)
    gw_.send(r, render_message(occupant_jid(c, m.nick), r, "groupchat", m.body, nullptr, {}, m.html, m.stamp,
                               room));
  c.missed.clear();
  gw_.send(r, render_message(room, r, "groupchat", {}, &c.topic));
  c.waiting.erase(r);
  for (const auto& m : missed_pms_)
    gw_.send(r,
             render_message(user_jid(m.nick), r, "chat", m.body, nullptr, {}, m.html, m.stamp, gw_.domain()));
  missed_pms_.clear();
}

void Puppet::keep_missed(std::deque<Missed>& q, std::string_view nick, const XmppBody& b) {
  const std::size_t keep = gw_.options().persistent_backlog;
  if (keep == 0) return;
  while (q.size() >= keep) q.pop_front();  // the oldest go (irc.gateway_persistent_backlog)
  q.push_back({std::string(nick), b.body, b.html, core::to_iso8601(core::Clock::now())});
}

std::set<std::string> Puppet::resources() const {
  std::set<std::string> out = pm_resources_;
  for (const auto& [_, c] : channels_) out.insert(c.resources.begin(), c.resources.end());
  return out;
}

bool Puppet::has_persistent() const {
  for (const auto& [_, c] : channels_)
    if (c.persistent) return true;
  return false;
}

void Puppet::join_persistent(const std::string& channel, const std::string& label) {
  auto [c, fresh] = open_channel(channel, label);
  c.persistent = true;
  if (fresh && reg_.registered() && link_)
    enqueue_control(join_line(c), true);  // else on_registered joins it
}

void Puppet::set_persistent(const std::string& channel, bool on) {
  Channel* c = find_channel(channel);
  if (!c) return;
  c->persistent = on;
  if (on || !c->resources.empty()) return;
  c->missed.clear();
  if (reg_.registered() && link_) {
    std::string line;
    irc::LineWriter(line).command("PART").param(c->name).end();
    enqueue_control(std::move(line));
  }
  erase_channel(ascii_fold(channel));
  check_empty();
}

void Puppet::kick_all(std::string_view reason) {
  for (auto& [_, c] : channels_) {
    self_gone(c, {110, 307}, reason);
    leave_shared(c);
  }
  channels_.clear();
  pm_resources_.clear();
  retired_ = true;
  quit(reason);
}

void Puppet::self_gone(Channel& c, std::initializer_list<int> statuses, std::string_view reason) {
  for (const auto& r : c.resources)
    gw_.send(r, render_occupant_presence({.from = occupant_jid(c, nick_known_to(c, r)),
                                          .to = r,
                                          .unavailable = true,
                                          .statuses = statuses,
                                          .reason = reason}));
}

// ---- shared reading (shared_reads.hpp) ---------------------------------------------------------

void Puppet::channel_event(Channel& c, std::uint64_t h) {
  if (c.shared.group) gw_.shared_reads().event(this, c.shared, h);
}

void Puppet::leave_shared(Channel& c) { gw_.shared_reads().leave(this, c.shared); }

void Puppet::erase_channel(const std::string& key) {
  auto it = channels_.find(key);
  if (it == channels_.end()) return;
  leave_shared(it->second);
  channels_.erase(it);
}

bool Puppet::covered() const {
  if (!link_ || !reg_.registered() || channels_.empty()) return false;
  for (const auto& [_, c] : channels_)
    if (!c.shared.in_step || (!c.sent.empty() && !awaits_leader(c)) || !c.waiting.empty()) return false;
  return true;
}

void Puppet::take_line(void* channel_context, std::string_view nick, std::string_view text, bool notice) {
  deliver_line(*static_cast<Channel*>(channel_context), nick, text, notice);
}

// Our own line, read by the channel's leader: reflected as if the server had echoed it. None
// of ours waits (reflected as overdue already, or a raw line): the user has it, or never had
// it shown without echo-message.
void Puppet::take_own_line(void* channel_context, std::string_view nick, std::string_view text) {
  Channel& c = *static_cast<Channel*>(channel_context);
  if (!echoes_) leader_confirmed(c, text);
  if (!awaits_leader(c)) return;
  if (echoes_) {
    // Our echo of it comes too, on the tick: skipped then. One read first took its entry:
    // nothing left to reflect.
    if (std::none_of(c.sent.begin(), c.sent.end(), [&](const Sent& e) { return e.text == text; })) return;
    c.echo_skip.push_back(SharedReads::line_hash(nick, text, false));
    if (c.echo_skip.size() > gw_.options().queue) c.echo_skip.pop_front();
  }
  on_own_channel_line(c, nick, text);
}

bool Puppet::reflect_overdue() {
  if (!leader_echoes_) return false;
  bool waiting = false;
  for (auto& [_, c] : channels_) {
    if (!awaits_leader(c)) continue;
    // The newest entries may still be queued here (throttled, or no link): not written, not due.
    const std::size_t queued = queued_lines(c);
    const std::size_t written = c.sent.size() > queued ? c.sent.size() - queued : 0;
    std::size_t overdue = 0;
    for (std::size_t i = 0; i < written; ++i)
      if (++c.sent[i].ticks > kLeaderEchoTicks) overdue = i + 1;
    if (overdue && echoes_) {
      // The server echoes them: read for ourselves (not covered) until it has.
      for (auto& e : c.sent) e.via_leader = false;
      read_now();
      continue;
    }
    if (overdue) {
      reflect_unechoed(c, c.sent.size() - overdue);
      // No copy handed back: a marker PING says whether they arrived (unconfirmed_).
      bool owed = false;
      for (auto& e : unconfirmed_)
        if (e.by_leader && privmsg_target(e.line) == c.name) {
          e.by_leader = false;
          owed = true;
        }
      if (owed) pump();
    }
    if (!c.sent.empty()) waiting = true;
  }
  leader_echoes_ = waiting;
  return waiting;
}

bool Puppet::said_overdue() {
  if (!said_waits_) return false;
  // The oldest marker not written yet (queued behind lines, or owed): lines placed at its
  // PONG are not due.
  std::uint64_t unwritten = marker_owed() ? next_marker() : 0;
  for (const std::string_view l : queue_)
    if (const auto m = marker_line_of(l)) {
      unwritten = *m;
      break;
    }
  bool waiting = false;
  for (auto& [_, c] : channels_)
    if (gw_.shared_reads().said_overdue(c.shared, unwritten)) waiting = true;
  said_waits_ = waiting;
  return waiting;
}

// The receive low-water mark: high while the kernel is to keep a covered puppet's copies
// without waking anyone, 1 (every byte wakes the reader) otherwise. Reads only ever go
// through the connection's one outstanding read (or read_queued, only while that read has
// read nothing), so a lowered mark (whose wake-up reads what is queued) never reorders them.
void Puppet::low_mark(bool low) {
  if (low_mark_ == low || !link_) return;
  if (link_->set_receive_low_water(low ? 1 : kTickLowWater)) low_mark_ = low;
}

void Puppet::take_failed(std::string_view what) {
  if (std::exchange(take_failed_, true)) return;  // one close is on its way
  spdlog::error("gateway: {} on {}: a line handed by its channel's reader failed: {}; its link closes", bare_,
                net_.host, what);
  boost::asio::post(gw_.strand(), [this, alive = std::weak_ptr<int>(alive_), failed = std::weak_ptr(link_)] {
    if (alive.expired()) return;
    take_failed_ = false;
    // The link that failed, if still the puppet's (not a fresh one), and not one a QUIT is
    // being flushed on (closing would drop the QUIT): the Reconnector takes it from here.
    if (auto link = link_; link && link == failed.lock() && !quitting_) link->close("Internal error");
  });
}

void Puppet::read_now() {
  if (!lazy_) return;
  lazy_ = false;
  low_mark(true);  // queued bytes wake the reader now
  // A line kept for the tick is read again (posted: this may run inside another puppet's
  // read, which must not be re-entered).
  boost::asio::post(gw_.strand(), [this, alive = std::weak_ptr<int>(alive_)] {
    if (!alive.expired() && link_) link_->redeliver();
  });
}

// The gateway's tick: a line kept at the last tick first, then one read of what the kernel
// holds, straight from the socket: the mark stays up, so the tick costs one recv and no
// setsockopt or wake-up. Where that is not possible, the mark is lowered instead (it wakes
// the reader if anything is queued; after_read raises it again).
void Puppet::read_tick() {
  if (link_ && !read_direct()) low_mark(true);
}

// The tick's read, and a witness's (shared_reads.hpp) inside its leader's read, which is
// another link's: this one is not re-entered.
bool Puppet::read_direct() {
  auto link = link_;
  if (!lazy_ || !link) return false;
  link->redeliver();
  // All the kernel may hold below the mark: else, past 4 reads a tick, the backlog grew
  // until the mark woke the reader.
  return lazy_ && link_ == link && link->read_queued(false, kTickLowWater / kReadAhead + 1);
}

void Puppet::witness_pending() {
  said_waits_ = true;  // said_overdue() counts the witness's ticks too
  gw_.arm_read_tick();
}

// After each read: a covered puppet's socket is left to the gateway's tick (a high receive
// low-water mark: the kernel wakes nobody for the copies it holds); an uncovered one reads
// as data comes.
void Puppet::after_read() {
  if (covered()) return read_on_tick();
  lazy_ = false;
  if (!deferred_) low_mark(true);
}

// A leader whose group just said something: the line (or its PONG) comes back within a
// round trip to the IRC server, when the gateway is asleep again. At 200 msgs/s that was one
// wake-up per message for one line (bench x2i); read at the gateway's next input instead
// (Gateway::on_stanza), or on the read tick when none comes. The mark goes up so the kernel
// wakes nobody for it meanwhile; the lines of everyone else in the channel wait as long.
// Only while stanzas come close together (Gateway::inputs_close): else the tick, not the
// next stanza, would end nearly every deferral, and lines of IRC users would wait for it.
void Puppet::expect_line() {
  if (!link_ || lazy_ || !gw_.inputs_close()) return;
  if (!deferred_) {
    low_mark(false);
    if (low_mark_) return;  // not settable: it reads as data comes
    deferred_ = true;
    if (!defer_told_) {  // once per link
      defer_told_ = true;
      spdlog::debug("gateway: {} on {}: reads at the gateway's next input while stanzas come close", bare_,
                    net_.host);
    }
  }
  expecting_ = true;
  said_at_ = gw_.input_time();
  gw_.defer_read(this);
}

// The first input (a stanza, the tick) read_defer after the group's last say ends the
// deferral: while the gateway's users talk the next stanza comes within milliseconds; once
// they all stop, the lines of IRC users wait at most read_defer + read_tick.
void Puppet::read_deferred(DeferredRead how, std::chrono::steady_clock::time_point now) {
  if (!deferred_) return;
  const bool over = now - said_at_ >= gw_.options().read_defer;
  if (how == DeferredRead::said && !expecting_ && !over) return;
  expecting_ = false;
  auto link = link_;
  // Acknowledged at once: the server's Nagle holds its next line to us until then.
  const bool read = link && link->read_queued(true);
  if (!over && read && deferred_) return;
  deferred_ = false;
  if (!lazy_) low_mark(true);  // queued bytes wake the reader now
  spdlog::debug("gateway: {} on {}: reads as lines come again", bare_, net_.host);
}

void Puppet::back_in_step() {
  if (!lazy_ && covered()) read_on_tick();
}

void Puppet::read_on_tick() {
  low_mark(false);
  if (low_mark_) return;  // not settable: it reads as data comes
  lazy_ = true;
  gw_.arm_read_tick();
  if (!tick_told_) {  // once per link
    tick_told_ = true;
    spdlog::debug("gateway: {} on {}: its socket is read on the gateway's tick", bare_, net_.host);
  }
}

void Puppet::names_ended(Channel& c) {
  if (c.names_done) {
    // A rejoin after a reconnection: only the difference goes to XMPP, our own nick first.
    rejoined_as(c);
    const std::string me = ascii_fold(reg_.nick());
    const bool assigned = !irc::equal_fold(reg_.nick(), wanted_nick());
    for (auto& [k, o] : c.occupants)
      if (!c.names.count(k)) occupant_presence(c, o, true, {});
    for (auto& [k, o] : c.names) {
      auto old = c.occupants.find(k);
      if (old != c.occupants.end() && old->second.modes == o.modes) continue;
      if (k != me)
        occupant_presence(c, o, false, {});
      else  // our own presence, new nick or new role (XEP-0045 §7.6, §9.6: 110; 210 when not the nick asked
            // for)
        occupant_presence(c, o, false,
                          assigned ? std::initializer_list<int>{110, 210} : std::initializer_list<int>{110});
    }
  }
  c.self_nick = reg_.nick();
  c.occupants = std::move(c.names);
  c.names.clear();
  c.names_done = true;
  std::vector<std::string> waiting(c.waiting.begin(), c.waiting.end());
  for (const auto& r : waiting) send_state(c, r);
  // From here on a line handed by another puppet is delivered like one read here (before
  // the end of NAMES it would reach resources still waiting for their self-presence).
  if (gw_.options().shared_reads && c.in_irc && !c.shared.group) {
    c.shared.context = &c;
    gw_.shared_reads().join(server_key_, c.name, this, c.shared, reg_.nick());
    spdlog::debug("gateway: {} on {}: {}", bare_, net_.host,
                  c.shared.leader ? "reads " + c.name + " for the other puppets"
                                  : "hears " + c.name + " through another puppet");
  }
}

// The new link's nick is not the one the resources know (a ghost of the old connection held
// it, or the user asked for another while the link was down): a nick change (XEP-0045 §7.6,
// unavailable with 303 and 110 from the old nick), not us leaving and someone else coming;
// the old nick's entry is dropped, so whoever holds it now is a new occupant.
void Puppet::rejoined_as(Channel& c) {
  if (c.self_nick.empty() || irc::equal_fold(c.self_nick, reg_.nick())) return;
  auto was = c.occupants.find(ascii_fold(c.self_nick));
  if (was == c.occupants.end()) return;
  const Occupant o = std::move(was->second);
  c.occupants.erase(was);
  // Whoever had our new nick in the old list is gone (or it would not be ours): told first,
  // so that our available presence below is not taken for theirs.
  if (auto other = c.occupants.find(ascii_fold(reg_.nick())); other != c.occupants.end()) {
    occupant_presence(c, other->second, true, {});
    c.occupants.erase(other);
  }
  occupant_presence(c, o, true, {303, 110}, reg_.nick());
}

// The link has another nick than the user's (most often the ghost of our previous
// connection still held it at the reconnection): asked for again when its holder leaves
// (QUIT, NICK) and on each keepalive check, as ZNC's keepnick does. A refusal is quiet.
void Puppet::regain_nick() {
  if (!link_ || !reg_.registered() || nick_change_ || irc::equal_fold(reg_.nick(), wanted_nick())) return;
  std::string line;
  irc::LineWriter(line).command("NICK").param(wanted_nick()).end();
  enqueue_control(std::move(line));
}

void Puppet::nick_refused(std::string_view nick, std::string_view condition, std::string_view text) {
  if (!nick_change_ || !irc::equal_fold(nick, nick_change_->nick)) {
    // Our own attempt (regain_nick): a nick the network calls erroneous never will be ours.
    if (condition == "not-acceptable" && irc::equal_fold(nick, wanted_nick()))
      identity_.nicks = {reg_.nick()};
    return;
  }
  NickChange n = std::move(*nick_change_);
  nick_change_.reset();
  identity_.nicks = {n.before};
  // XEP-0045 §7.6: the change is refused from the nick asked for; the occupant keeps its own.
  if (Channel* c = find_channel(n.channel); c && c->resources.count(n.full_jid))
    gw_.send(n.full_jid, render_error("presence", occupant_jid(*c, n.nick), n.full_jid, n.id,
                                      condition == "remote-server-timeout" ? "wait" : "cancel", condition,
                                      xml_safe_text(text)));
}

void Puppet::answers_overdue() {
  const auto since = protocols::coarse_now() - kAnswerWait;
  if (nick_change_ && nick_change_->at < since)
    nick_refused(std::string(nick_change_->nick), "remote-server-timeout", "the IRC server did not answer");
  // A KICK or TOPIC still queued here (a throttle, a reconnection's backoff) has not reached
  // the server: its wait starts when it is written.
  const auto now = protocols::coarse_now();
  for (auto& k : kicks_)
    if (std::find(queue_.begin(), queue_.end(), k.line) != queue_.end()) k.at = now;
  while (!kicks_.empty() && kicks_.front().at < since)
    answer_kick(0, "wait", "remote-server-timeout", "the IRC server did not answer");
}

// XEP-0045 §7.2.6-§7.2.10: a wrong or missing key is not-authorized (the client asks for a
// password), a ban forbidden, invite-only (or +r, registered nicks only) registration-required,
// a full channel service-unavailable; any other refusal not-allowed.
void Puppet::join_failed(std::string_view channel, std::string_view text, std::string_view numeric) {
  Channel* c = find_channel(channel);
  if (!c) return;
  std::string_view type = "cancel", condition = "not-allowed";
  if (numeric == "475")
    type = "auth", condition = "not-authorized";
  else if (numeric == "474")
    type = "auth", condition = "forbidden";
  else if (numeric == "473" || numeric == "477")
    type = "auth", condition = "registration-required";
  else if (numeric == "471")
    type = "wait", condition = "service-unavailable";
  for (const auto& r : c->resources)
    gw_.send(r, render_error("presence", occupant_jid(*c, nick_known_to(*c, r)), r, {}, type, condition,
                             xml_safe_text(text)));
  erase_channel(ascii_fold(channel));
  check_empty();
}

// A follower's copy of a line its leader handed it (SharedReads::take_handed), known by its
// bytes: what on_irc_message would have done with it, without parsing it.
bool Puppet::skip_line(std::string_view line) {
  if (!link_ || !reg_.registered()) return false;
  bool hashed = false;
  std::uint64_t raw = 0, own = 0;
  for (auto& [_, c] : channels_) {
    if (c.shared.ahead.empty()) continue;
    if (!hashed) {  // once, for the first channel with lines handed
      hashed = true;
      raw = SharedReads::raw_hash(line);
      own = echoes_ ? SharedReads::nick_hash(reg_.nick()) : 0;
    }
    if (SharedReads::take_handed(c.shared, raw, own)) {
      last_rx_ = protocols::coarse_now();
      return true;
    }
  }
  return false;
}

void Puppet::on_irc_message(const irc::Message& m) {
  last_rx_ = protocols::coarse_now();  // per line: a tick-resolution read is enough for keepalives
  // Channel lines are most of what a puppet reads (every occupant's puppet reads each one),
  // and the registration machine has nothing to do with a PRIVMSG or NOTICE in any phase:
  // straight to them, without its dozen command comparisons.
  if (const bool privmsg = is(m, "PRIVMSG"); privmsg || is(m, "NOTICE")) {
    if (!link_ || !reg_.registered()) return;
    const std::string_view who = m.prefix.substr(0, m.prefix.find('!'));
    return on_privmsg(m, who, !privmsg);
  }
  const std::string old_nick = reg_.nick();
  std::string out;
  auto ev = reg_.on_message(m, out);
  send_now(out);
  if (!link_) return;  // the write failed: on_irc_closed ran already
  if (ev == irc::ClientRegistration::Event::failed) {
    spdlog::info("gateway: {} on {}: registration failed: {}", bare_, net_.host, reg_.error());
    auto link = link_;
    // Never registered there (a wrong server password, a K-line, no nick accepted): told
    // to the user, not retried without a word for ever. A known-good network is retried.
    // Every nick taken is a conflict (XEP-0045 §7.2.9), not a refusal of the user.
    if (!ever_registered_ && !has_persistent())
      give_up("IRC server " + net_.host + " refused the connection: " + reg_.error(),
              reg_.nicks_exhausted() ? "conflict" : "not-authorized");
    if (link) link->close(reg_.error());
    return;
  }
  if (ev == irc::ClientRegistration::Event::registered) return on_registered();
  if (ev == irc::ClientRegistration::Event::nick_changed) return on_nick(old_nick, reg_.nick());
  if (!reg_.registered()) return;
  if (is(m, "CAP") && echoes_ && !reg_.caps().enabled("echo-message")) {  // CAP DEL echo-message
    echoes_ = false;
    for (auto& [_, c] : channels_) reflect_unechoed(c);
    pump();  // private messages waiting for their echo: a marker PING after them
  }

  // A NICK refused after registration (ERRONEUSNICKNAME, NICKNAMEINUSE, NICKCOLLISION,
  // UNAVAILRESOURCE: "<me> <nick> :why"; 437 names a channel when a join is refused).
  // Also ERR_NICKTOOFAST (438, ircu/Solanum), 435 (banned on a channel), 447 (+N).
  if ((is(m, "432") || is(m, "433") || is(m, "436") || is(m, "437") || is(m, "438") || is(m, "435") ||
       is(m, "447")) &&
      m.nparams >= 2 && !find_channel(m.param(1)))
    return nick_refused(m.param(1), is(m, "432") ? "not-acceptable" : "conflict", m.param(m.nparams - 1));

  if (is(m, "401") && m.nparams >= 2 && !reg_.isupport().is_channel(m.param(1))) {  // ERR_NOSUCHNICK
    kick_answered({}, ascii_fold(m.param(1)), "cancel", "item-not-found", m.param(m.nparams - 1));
    return no_such_nick(m.param(1), m.param(m.nparams - 1));
  }
  // A kick refused: ERR_CHANOPRIVSNEEDED "<me> <chan> :why" (XEP-0045 §8.2: <forbidden/>),
  // ERR_USERNOTINCHANNEL "<me> <nick> <chan> :why".
  if (is(m, "482") && m.nparams >= 2)
    kick_answered(ascii_fold(m.param(1)), {}, "auth", "forbidden", m.param(m.nparams - 1));
  if (is(m, "441") && m.nparams >= 3)
    kick_answered(ascii_fold(m.param(2)), ascii_fold(m.param(1)), "cancel", "item-not-found",
                  m.param(m.nparams - 1));

  if (is(m, "PONG") && m.nparams >= 1) {  // a marker's: what we said before it is in place
    if (const auto marker = marker_of(m.param(m.nparams - 1))) {
      confirmed(*marker);
      for (auto& [_, c] : channels_) gw_.shared_reads().placed(c.shared, *marker);
    } else if (markers_sent_ && !raw_pings_ && m.param(m.nparams - 1) != kKeepaliveToken) {
      tokenless_pong_ = true;  // no token of ours back (RFC 2812 3.7.2 says to return it)
    }
    return;
  }

  const std::string_view who = m.prefix.substr(0, m.prefix.find('!'));
  const bool me = irc::equal_fold(who, reg_.nick());
  if (is(m, "JOIN") && m.nparams >= 1) {
    Channel* c = find_channel(m.param(0));
    if (!c) {
      // Joined somewhere nobody asked for (a forced join): leave again.
      if (me && !m.param(0).empty()) {
        std::string line;
        irc::LineWriter(line).command("PART").param(m.param(0)).end();
        enqueue_control(std::move(line));
      }
      return;
    }
    if (me) {
      c->in_irc = true;
      c->archive_cursor = gw_.archive_cursor(c->archive_key);  // lines from now on are ours to match
      c->names.clear();
      return;
    }
    channel_event(*c, event_hash(m));
    Occupant o{std::string(who), {}};
    if (c->names_done) occupant_presence(*c, o, false, {});
    c->occupants[ascii_fold(who)] = std::move(o);
    return;
  }
  if (is(m, "353") && m.nparams >= 4) {  // RPL_NAMREPLY me =|*|@ #chan :names
    Channel* c = find_channel(m.param(2));
    if (!c) return;
    std::string_view names = m.param(3);
    while (!names.empty()) {
      auto sp = names.find(' ');
      std::string_view entry = names.substr(0, sp);
      names = sp == std::string_view::npos ? std::string_view{} : names.substr(sp + 1);
      if (entry.empty()) continue;
      auto e = irc::split_names_entry(reg_.isupport(), entry);
      if (e.nick.empty() || c->names.size() >= 100000) continue;
      c->names[ascii_fold(e.nick)] = Occupant{std::string(e.nick), std::move(e.modes)};
    }
    return;
  }
  if (is(m, "366") && m.nparams >= 2) {  // RPL_ENDOFNAMES
    if (Channel* c = find_channel(m.param(1)); c && c->in_irc) names_ended(*c);
    return;
  }
  if (is(m, "332") && m.nparams >= 3) {  // RPL_TOPIC
    if (Channel* c = find_channel(m.param(1))) c->topic = xml_safe_text(m.param(2));
    return;
  }
  if (is(m, "331") && m.nparams >= 2) {  // RPL_NOTOPIC
    if (Channel* c = find_channel(m.param(1))) c->topic.clear();
    return;
  }
  if (is(m, "TOPIC") && m.nparams >= 2) {
    Channel* c = find_channel(m.param(0));
    if (!c) return;
    if (me) topic_answered(ascii_fold(c->name));
    channel_event(*c, event_hash(m));
    c->topic = xml_safe_text(m.param(1));
    each_resource(*c, [&](const std::string& r) {
      gw_.send(r, render_message(occupant_jid(*c, who), r, "groupchat", {}, &c->topic));
    });
    return;
  }
  if (is(m, "PART") && m.nparams >= 1) {
    Channel* c = find_channel(m.param(0));
    if (!c) return;
    if (me) {  // not asked for by XMPP (that erased the channel already)
      self_gone(*c, {110}, xml_safe_text(m.param(1)));
      erase_channel(ascii_fold(m.param(0)));
      return check_empty();
    }
    channel_event(*c, event_hash(m));
    auto it = c->occupants.find(ascii_fold(who));
    if (it == c->occupants.end()) return;
    occupant_presence(*c, it->second, true, {}, {}, {}, xml_safe_text(m.param(1)));
    c->occupants.erase(it);
    return;
  }
  if (is(m, "KICK") && m.nparams >= 2) {
    Channel* c = find_channel(m.param(0));
    if (!c) return;
    const std::string reason = xml_safe_text(m.param(2));
    if (irc::equal_fold(m.param(1), reg_.nick())) {  // XEP-0045 §9.2: 307 + 110
      if (me) kick_answered(ascii_fold(c->name), ascii_fold(m.param(1)));  // the user kicked themself
      self_gone(*c, {110, 307}, reason);
      erase_channel(ascii_fold(m.param(0)));
      return check_empty();
    }
    channel_event(*c, event_hash(m));
    if (me) kick_answered(ascii_fold(c->name), ascii_fold(m.param(1)));
    auto it = c->occupants.find(ascii_fold(m.param(1)));
    if (it == c->occupants.end()) return;
    occupant_presence(*c, it->second, true, {307}, {}, reason);
    c->occupants.erase(it);
    return;
  }
  if (is(m, "QUIT")) {
    const std::string k = ascii_fold(who);
    for (auto& [_, c] : channels_) {
      auto it = c.occupants.find(k);
      if (it == c.occupants.end()) continue;
      channel_event(c, event_hash(m));
      occupant_presence(c, it->second, true, {}, {}, {}, xml_safe_text(m.param(0)));
      c.occupants.erase(it);
    }
    if (irc::equal_fold(who, wanted_nick())) regain_nick();  // its holder left (a ghost timed out)
    return;
  }
  if (is(m, "NICK") && m.nparams >= 1) return on_nick(who, m.param(0));
  if (is(m, "404") && m.nparams >= 2) {  // ERR_CANNOTSENDTOCHAN me #chan :why
    Channel* c = find_channel(m.param(1));
    if (!c) return;
    gw_.shared_reads().refused(c->shared);  // not to be handed at its PONG
    if (echoes_ || awaits_leader(*c)) return refused(*c, m.param(m.nparams - 1));
    // Without echo-message the line was reflected already and which one failed is unknown:
    // the room says it (XEP-0045 §7.2.16 service message, from the room's bare JID), so a
    // refused line is never silently taken for delivered.
    const std::string text = xml_safe_text(m.param(m.nparams - 1));
    each_resource(
        *c, [&](const std::string& r) { gw_.send(r, render_message(room_jid(*c), r, "groupchat", text)); });
    return;
  }
  if (is(m, "MODE") && m.nparams >= 2) {
    if (Channel* c = find_channel(m.param(0))) channel_event(*c, event_hash(m));
    if (m.nparams >= 3) on_mode(m);
    return;
  }
  // Join refusals: ERR_NOSUCHCHANNEL, TOOMANYCHANNELS, CHANNELISFULL, INVITEONLYCHAN,
  // BANNEDFROMCHAN, BADCHANNELKEY, BADCHANMASK (476), NEEDREGGEDNICK (477), and those of
  // today's servers (https://modern.ircdocs.horse/#numerics, defs.ircdocs.horse):
  // UNAVAILRESOURCE (437, a channel held after a split), LINKCHANNEL (470, forwarded
  // elsewhere: Solanum's +f, InspIRCd's +L; the forced join there is left again),
  // SECUREONLYCHAN (489, TLS only), and 520 (opers only, InspIRCd and UnrealIRCd). An
  // unknown refusal left the join waiting for ever.
  static constexpr std::string_view kJoinErrors[] = {"403", "405", "437", "470", "471", "473",
                                                     "474", "475", "476", "477", "489", "520"};
  for (auto code : kJoinErrors)
    if (is(m, code) && m.nparams >= 2) {
      Channel* c = find_channel(m.param(1));
      if (!c || c->in_irc) return;
      std::string why(m.param(m.nparams - 1));
      if (code == "470" && m.nparams >= 4) why += " (" + std::string(m.param(2)) + ")";
      join_failed(m.param(1), why, code);
      return;
    }
}

void Puppet::on_privmsg(const irc::Message& m, std::string_view from_nick, bool notice) {
  if (m.nparams < 2 || from_nick.empty() || m.prefix.find('!') == std::string_view::npos)
    return;  // server notices
  std::string_view target = m.param(0);
  std::string_view text = m.param(1);
  const bool own = echoes_ && irc::equal_fold(from_nick, reg_.nick());
  if (reg_.isupport().is_channel(target)) {
    if (own && !notice)
      if (Channel* c = find_channel(target)) {
        if (!c->echo_skip.empty()) {  // reflected already, handed back by the leader
          const std::uint64_t h = SharedReads::line_hash(from_nick, text, false);
          if (auto it = std::find(c->echo_skip.begin(), c->echo_skip.end(), h); it != c->echo_skip.end()) {
            c->echo_skip.erase(it);
            return;
          }
        }
        return on_own_channel_line(*c, from_nick, text);
      }
    return on_channel_line(target, from_nick, text, notice);
  }
  if (own) {  // the echo of our private message or CTCP reply: the user has it
    if (!notice) pm_echoed(target, text);
    return;
  }
  // A NOTICE is shown as a message with a "[notice] " prefix (documented in
  // docs/ARCHITECTURE.md): XMPP has no notice type a client would render distinctly.
  const std::string_view prefix = notice ? "[notice] " : "";
  XmppBody b;
  if (auto action = irc::ctcp_action(text)) {
    b = body_from_irc(*action, std::string(prefix) + "/me ");
  } else if (auto ctcp = irc::parse_ctcp(text)) {
    // Other CTCP requests are not shown as text. VERSION and PING sent to us are answered
    // for the XMPP user (CTCP replies are NOTICEs, never answered themselves).
    if (!notice && irc::equal_fold(target, reg_.nick())) answer_ctcp(from_nick, ctcp->command, ctcp->params);
    return;
  } else {
    b = body_from_irc(text, prefix);
  }
  // To us: a private message from nick%server, to every resource using this puppet.
  std::set<std::string> resources = this->resources();
  if (resources.empty()) return keep_missed(missed_pms_, from_nick, b);  // a persistent channel's puppet
  const std::string from = pm_from(from_nick);
  for (const auto& r : resources) gw_.send(r, render_message(from, r, "chat", b.body, nullptr, {}, b.html));
}

// A channel line: converted and rendered by the first puppet to hear it, copied by the
// others (channel_lines.hpp). CTCP requests to a channel other than ACTION are not shown.
void Puppet::on_channel_line(std::string_view target, std::string_view from_nick, std::string_view text,
                             bool notice) {
  Channel* c = find_channel(target);
  if (!c) return;
  if (c->shared.group) {
    // Read on the tick, before the leader read it: kept (IrcLink holds the rest of the read)
    // for the next tick, by when the leader will have handed it - once; never with much
    // behind it in the buffer.
    const std::uint64_t h = SharedReads::line_hash(from_nick, text, notice);
    const bool may_wait = lazy_ && link_ && link_->holdable() && h != waited_line_;
    // The bytes too: a leader's lines are known to its followers by them (skip_line).
    const std::string_view as_read = link_ ? link_->current_line() : std::string_view{};
    switch (gw_.shared_reads().line(this, c->shared, h, from_nick, text, notice, may_wait, as_read)) {
      case SharedReads::Heard::skip:  // handed to us already by the channel's leader: our copy
        return;
      case SharedReads::Heard::wait:
        waited_line_ = h;
        hold_ = true;
        return;
      case SharedReads::Heard::deliver:
        break;
    }
  }
  deliver_line(*c, from_nick, text, notice);
}

void Puppet::deliver_line(Channel& ch, std::string_view from_nick, std::string_view text, bool notice) {
  Channel* c = &ch;
  ChannelLines& lines = gw_.channel_lines();
  ChannelLines::Line* line = lines.line(c->lines_slot, room_jid(*c), from_nick, text, notice);
  if (!line) return;
  // XEP-0359: the line's archive id, the same for every occupant whichever puppet heard it
  const std::string sid = archive(*c, from_nick, line->body.body, line->action, notice, true);
  bool seen = false;
  each_resource(*c, [&](const std::string& r) {
    seen = true;
    if (auto p = lines.parts(*line, r, sid, escaped_to_))
      gw_.send_parts(r, p->head, p->to, p->tail);
    else
      gw_.send(r, lines.stanza(*line, r, sid));
  });
  if (!seen && c->persistent && !gw_.archiving()) keep_missed(c->missed, from_nick, line->body);
}

// CTCP VERSION and PING (https://modern.ircdocs.horse/ctcp): the reply is a NOTICE with the
// same command. It goes through the throttled queue, so a CTCP flood costs the flooder
// queue space (full: the reply is dropped), never more than the network's rate.
void Puppet::answer_ctcp(std::string_view nick, std::string_view command, std::string_view params) {
  std::string reply;
  if (irc::equal_fold(command, "VERSION"))
    reply = "VERSION Parley " + std::string(kVersion) + " (IRC gateway for XMPP)";
  else if (irc::equal_fold(command, "PING"))
    reply = "PING " + one_line(params, 64);
  else
    return;
  std::string line;
  irc::LineWriter(line).command("NOTICE").param(nick).trailing("\x01" + reply + "\x01").end();
  enqueue(std::move(line));
  pump();
}

void Puppet::on_nick(std::string_view old_nick, std::string_view new_nick) {
  const std::string ok = ascii_fold(old_nick);
  const bool self = ok == ascii_fold(reg_.nick()) || irc::equal_fold(new_nick, reg_.nick());
  // A private chat through a room follows the nick (the room says 303: room/new is the chat).
  if (auto pm = pm_from_.extract(ok); !self && !pm.empty()) {
    std::string& jid = pm.mapped();
    if (const std::size_t slash = jid.find('/'); slash != std::string::npos) {
      jid = jid.substr(0, slash + 1) + std::string(new_nick);
      pm.key() = ascii_fold(new_nick);
      pm_from_.insert(std::move(pm));
    }
  }
  if (self) gw_.shared_reads().nick_changed(this, new_nick);
  if (self && nick_change_ && irc::equal_fold(new_nick, nick_change_->nick)) nick_change_.reset();
  // Renamed by a raw NICK of the user's, or by the network (services' enforcement): that is
  // the nick from now on, not one to take back from (regain_nick would fight services). The
  // one wanted before stays the next candidate; a nick no registration may take (a UID a
  // server renames a collision to, "001AAAAAB") is not adopted: every later registration
  // would fail on it.
  // (The length is the network's business: only the characters are checked.)
  constexpr std::size_t kAnyNickLength = 64;
  if (self && !irc::equal_fold(new_nick, wanted_nick()) && irc::is_valid_nick(new_nick, kAnyNickLength))
    identity_.nicks = {std::string(new_nick), wanted_nick()};
  const std::uint64_t h = SharedReads::hash(new_nick, SharedReads::hash(old_nick, 0x4e49434b));  // "NICK"
  for (auto& [_, c] : channels_) {
    auto it = c.occupants.find(ok);
    if (it == c.occupants.end()) continue;
    channel_event(c, h);
    Occupant o = it->second;
    c.occupants.erase(it);
    // XEP-0045 §7.6: unavailable from the old nick with 303 and the new one, then available.
    occupant_presence(
        c, o, true, self ? std::initializer_list<int>{303, 110} : std::initializer_list<int>{303}, new_nick);
    o.nick = std::string(new_nick);
    occupant_presence(c, o, false, self ? std::initializer_list<int>{110} : std::initializer_list<int>{});
    c.occupants[ascii_fold(new_nick)] = std::move(o);
    if (self) c.self_nick = std::string(new_nick);
  }
  if (!self && irc::equal_fold(old_nick, wanted_nick())) regain_nick();  // its holder took another
}

void Puppet::on_mode(const irc::Message& m) {
  Channel* c = find_channel(m.param(0));
  if (!c || !c->names_done) return;
  // Only changes made solely of membership modes ("+o nick", "-v+h a b") are mapped: the
  // parameters of other modes (k, l, b...) would need CHANMODES to line up.
  std::string_view modes = m.param(1);
  const auto& prefixes = reg_.isupport().prefix_modes;
  for (char ch : modes)
    if (ch != '+' && ch != '-' && prefixes.find(ch) == std::string::npos) return;
  bool add = true;
  std::size_t arg = 2;
  for (char ch : modes) {
    if (ch == '+' || ch == '-') {
      add = ch == '+';
      continue;
    }
    if (arg >= m.nparams) return;
    auto it = c->occupants.find(ascii_fold(m.param(arg++)));
    if (it == c->occupants.end()) continue;
    auto& om = it->second.modes;
    if (add && om.find(ch) == std::string::npos) om.push_back(ch);
    if (!add) std::erase(om, ch);
    occupant_presence(*c, it->second, false,
                      irc::equal_fold(it->second.nick, reg_.nick()) ? std::initializer_list<int>{110}
                                                                    : std::initializer_list<int>{});
  }
}

}  // namespace parley::adapters::gateway

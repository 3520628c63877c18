#pragma once
// One XMPP user's IRC connection to one network (Biboumi's IrcClient + Bridge, split):
// the registration machine (protocols/irc/client_registration), the channels the user's
// resources joined, and the translation both ways - MUC presence <-> JOIN/PART/QUIT/KICK/
// NICK, groupchat <-> PRIVMSG (/me <-> CTCP ACTION), subject <-> TOPIC, private messages.
//
// The link is kept up by a Reconnector (backoff with jitter); after a reconnection every
// channel is joined again. Lines for IRC wait in one bounded queue, drained through a token
// bucket (irc.networks[].throttle) once registered: what an XMPP user says while the link
// is down is sent after it is back, and a full queue is an error to the sender, never a
// silent drop. Everything on the gateway's strand.
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/gateway/channel_lines.hpp"
#include "adapters/gateway/irc_link.hpp"
#include "adapters/gateway/line_ids.hpp"
#include "adapters/gateway/marker_ping.hpp"
#include "adapters/gateway/port.hpp"
#include "adapters/gateway/pump_wait.hpp"
#include "adapters/gateway/render.hpp"
#include "adapters/gateway/shared_reads.hpp"
#include "config/irc_config.hpp"
#include "protocols/common/reconnector.hpp"
#include "protocols/common/token_bucket.hpp"
#include "protocols/irc/client_registration.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::gateway {

class Gateway;
enum class DeferredRead : std::uint8_t;  // gateway.hpp

class Puppet : public IrcLink::Owner, public SharedReader {
 public:
  // net: the network with the user's settings applied (settings.hpp effective()); realname
  // "" : the bare JID.
  // peer_ip: the XMPP user's address (port.hpp XmppIn::peer_ip), sent in WEBIRC when the
  // network has a webirc password; "" (a component, a persistent channel restored at
  // start): no WEBIRC, the network sees the gateway's address.
  Puppet(Gateway& gw, std::string bare_jid, config::IrcNetwork net, std::string label, std::string nick,
         std::string realname = {}, std::string peer_ip = {});
  ~Puppet() override;
  Puppet(const Puppet&) = delete;
  Puppet& operator=(const Puppet&) = delete;

  void start();
  // ---- from XMPP (full_jid: the sending resource) ----
  // history: the join's XEP-0045 <history/>, served after the self-presence. muc_join: the
  // presence carried <x xmlns='http://jabber.org/protocol/muc'/> (from a resource in the
  // room already, the join sequence again; without it, a presence update or a nick change).
  // password: the join's <password/>, the channel's key (kept for rejoins; one IRC cannot
  // carry, a space or a comma in it, is not sent).
  void join(const std::string& full_jid, const std::string& channel, const std::string& label,
            const std::string& nick, const std::string& id, const HistoryRequest& history = {},
            bool muc_join = true, std::string_view password = {});
  void leave(const std::string& full_jid, const std::string& channel, std::string_view status);
  // false: refused (not in that channel, or the queue is full); `why` says which
  // spans: XHTML-IM styling of body (port.hpp), rendered as mIRC formatting.
  bool say(const std::string& full_jid, const std::string& channel, std::string_view body,
           const std::string& id, std::string* why, const std::vector<protocols::irc::Span>& spans = {});
  // id: the message's, for its error if the server refuses the change (XEP-0045 §8.1).
  bool set_topic(const std::string& full_jid, const std::string& channel, std::string_view subject,
                 const std::string& id, std::string* why);
  // addressed: the JID the user wrote to (nick%net@gw, or room/nick for a MUC private
  // message) and id its stanza's: an IRC refusal (401) comes back from there as an error.
  bool private_message(const std::string& full_jid, const std::string& nick, std::string_view body,
                       std::string* why, const std::vector<protocols::irc::Span>& spans = {},
                       const std::string& addressed = {}, const std::string& id = {});
  // Raw IRC commands from the server JID net@gw (outgoing.hpp raw_lines); false when the
  // queue cannot take them.
  bool raw(const std::string& full_jid, std::string_view body, std::string* why);
  // XEP-0045 §8.2 kick (iq `id` from `full_jid`): KICK, answered when the server shows it
  // (a result), refuses it (482: <forbidden/>; 441/401: <item-not-found/>) or the link goes.
  // false (why: the condition) when `nick` is not an occupant or the link is not up.
  bool kick(const std::string& full_jid, const std::string& channel, std::string_view nick,
            std::string_view reason, const std::string& id, std::string* why);
  void resource_gone(const std::string& full_jid);
  // The resource is done with private messages (an unavailable presence to nick%net@gw or
  // net@gw): a puppet that was opened only for them closes.
  void pm_gone(const std::string& full_jid);
  void quit(std::string_view reason);      // QUIT, no reconnection
  void shutdown(std::string_view reason);  // the gateway stops: 332 to every resource, then quit
  // ---- persistent channels (settings.hpp) ----
  // Joins (or keeps) `channel` with no resource in it: the puppet stays there while the
  // user is away; lines meanwhile are kept (irc.gateway_persistent_backlog) for the next
  // join. Used at start (Gateway::restore_persistent) and when a channel is marked.
  void join_persistent(const std::string& channel, const std::string& label);
  // Unmarked: a channel no resource is in is left (PART).
  void set_persistent(const std::string& channel, bool on);
  bool has_persistent() const;
  // An admin's disconnect: every resource is told it was kicked (307), then QUIT.
  void kick_all(std::string_view reason);
  bool connected() const { return link_ && reg_.registered(); }
  const std::string& bare() const { return bare_; }
  const config::IrcNetwork& network() const { return net_; }
  // Every resource of the user this puppet serves (channels and private chats).
  std::set<std::string> resources() const;

  bool has_resource(const std::string& full_jid) const;
  bool empty() const { return channels_.empty() && pm_resources_.empty(); }
  bool retired() const { return retired_; }
  bool in_channel(std::string_view channel) const;
  std::size_t channels() const { return channels_.size(); }
  // The resource is in the channel (its join completed): XEP-0410 self-ping.
  bool joined(const std::string& full_jid, std::string_view channel) const;
  bool has_occupant(std::string_view channel, std::string_view nick) const;
  // In the channel on the current IRC link: its lines reach this puppet (archive.hpp).
  bool hears(std::string_view channel) const;
  const std::string& nick() const { return reg_.nick(); }
  // The network's CHANTYPES (ISUPPORT), "#&" until it said otherwise.
  const std::string& chantypes() const { return reg_.isupport().chantypes; }

  // ---- IrcLink::Owner ----
  void on_irc_message(const protocols::irc::Message& m) override;
  bool take_hold() override { return std::exchange(hold_, false); }
  bool skip_line(std::string_view line) override;
  void on_irc_closed(std::string_view reason) override;
  void after_read() override;

  // ---- SharedReader (shared_reads.hpp) ----
  void take_line(void* channel_context, std::string_view nick, std::string_view text, bool notice) override;
  void take_own_line(void* channel_context, std::string_view nick, std::string_view text) override;
  void take_failed(std::string_view what) override;
  void read_now() override;
  void back_in_step() override;
  bool read_direct() override;
  void witness_pending() override;
  void expect_line() override;
  // A deferred leader (expect_line): what its socket holds is read now (gateway.hpp
  // DeferredRead says when).
  void read_deferred(DeferredRead how, std::chrono::steady_clock::time_point now);
  bool deferred() const { return deferred_; }
  // Read on the gateway's tick (every channel covered by another puppet): read_tick() reads
  // what the socket holds.
  bool reads_on_tick() const { return lazy_; }
  void read_tick();
  // Reflections waiting for the channel's leader (Sent::via_leader) that it has not read
  // kLeaderEchoTicks after the line was written (the server dropped it, or the leader
  // changed): reflected now. On the gateway's tick; false once none waits.
  bool reflect_overdue();
  static constexpr std::uint16_t kLeaderEchoTicks = 20;  // 2 s at the default 100 ms tick
  // A leader's lines whose marker PING was written SharedReads::kPlaceTicks ago with no
  // PONG: its followers read them themselves (SharedReads::said_overdue). On the gateway's
  // tick; false once none waits.
  bool said_overdue();
  // (The marker PING's wire form: marker_ping.hpp.)

 private:
  struct Occupant {
    std::string nick;   // as IRC spells it
    std::string modes;  // membership mode letters ("o", "v", "ov")
  };
  // A line that arrived while none of the user's resources could see it.
  struct Missed {
    std::string nick;  // the IRC sender
    std::string body, html;
    std::string stamp;  // XEP-0082
  };
  // A line this puppet sent to a channel, until the server echoes it back (IRCv3
  // echo-message): the XEP-0045 §7.4 reflection goes to the user's resources when the last
  // line of their message comes back, so it says what the channel saw, in the channel's
  // order, and a refused line (404) is an error to the sender instead of a false echo.
  struct Sent {
    std::string text;      // the line's text as sent: what its echo carries back
    std::string full_jid;  // the resource that said it
    std::string id;        // its stanza's id, kept in the reflection
    std::string body;      // the whole message as written (last line only)
    bool last = false;     // the message's last line
    bool refused = false;  // an earlier line of the message was refused: no reflection
    // In a channel another puppet reads for us (shared_reads.hpp): that leader hands our
    // line back when it reads it (take_own_line), so the reflection follows the channel's
    // order, goes out with the other occupants' copies, and a refused line is an error
    // instead; with echo-message our own echo, read on the tick, is then skipped
    // (Channel::echo_skip), and this socket need not be read before. Overdue after
    // kLeaderEchoTicks (reflect_overdue): reflected, or with echo-message read for.
    bool via_leader = false;
    std::uint16_t ticks = 0;  // gateway ticks since it was written (via_leader only)
    std::chrono::steady_clock::time_point at{};  // when it was said (resend_unechoed)
  };
  struct Channel {
    std::string name;                               // as sent to IRC (lower-cased by the address)
    std::string label;                              // the server part of its JIDs ("local" or "127.0.0.1")
    std::string room;                               // its room JID, made once (room_jid)
    std::size_t lines_slot = 0;                     // ChannelLines::slot_of(room), made with it
    std::set<std::string> resources;                // full JIDs in the room
    std::set<std::string> waiting;                  // joined on XMPP, self-presence not sent yet
    std::map<std::string, std::string> requested;   // full JID -> nick asked for (status 210)
    std::map<std::string, HistoryRequest> history;  // full JID -> its join's <history/>, until served
    std::map<std::string, Occupant> occupants;      // folded nick -> occupant, once NAMES ended
    std::map<std::string, Occupant> names;          // 353s being collected
    std::string topic;
    std::string key;                     // the channel key (+k) the last join gave, sent with every JOIN
    std::string self_nick;               // our nick as its resources know it (their last self-presence)
    std::string archive_key;             // Gateway::archive_key_of, made once
    RecentLines::Cursor archive_cursor;  // which recent archived lines this puppet matched (line_ids.hpp)
    bool in_irc = false;                 // our JOIN was echoed on the current link
    bool names_done = false;             // 366 seen at least once (occupants is meaningful)
    bool persistent = false;             // kept with no resource in it (settings.hpp)
    std::deque<Missed> missed;           // while no resource was in it (persistent only)
    std::deque<Sent> sent;               // said here, not reflected yet (waits for its echo or its leader)
    std::deque<std::uint64_t> echo_skip;  // our echoes to skip: reflected when the leader handed them back
    SharedChannel shared;                // its lines read by one puppet for all (shared_reads.hpp)
  };
  void keep_missed(std::deque<Missed>& q, std::string_view nick, const XmppBody& b);

  // The room's bare JID, made when the channel entry is (every line to an occupant needs it).
  const std::string& room_jid(const Channel& c) const { return c.room; }
  std::string make_room_jid(const Channel& c) const;
  std::string occupant_jid(const Channel& c, std::string_view nick) const;
  std::string user_jid(std::string_view nick) const;
  std::string_view nick_known_to(const Channel& c, const std::string& full_jid) const;
  // The channel's entry, made with its names and archive key if new (true: it is): every
  // way in (a join, a persistent channel) makes it alike.
  std::pair<Channel&, bool> open_channel(const std::string& channel, const std::string& label);
  static bool is_channel_key(std::string_view key);
  // "JOIN <channel> [<key>]"
  static std::string join_line(const Channel& c);
  // The JID a private message from `nick` comes from: the one the user last wrote to it
  // through (room/nick while in that room), else nick%NET@gw.
  std::string pm_from(std::string_view nick) const;
  std::map<std::string, std::string> pm_from_;  // folded nick -> the JID the user wrote to it at
  static constexpr std::size_t kMaxPmFrom = 256;
  Channel* find_channel(std::string_view name);
  void send_state(Channel& c, const std::string& full_jid);
  template <class F>
  void each_resource(const Channel& c, F&& f) {
    for (const auto& r : c.resources)
      if (!c.waiting.count(r)) f(r);
  }
  void occupant_presence(Channel& c, const Occupant& o, bool unavailable, std::initializer_list<int> statuses,
                         std::string_view new_nick = {}, std::string_view reason = {},
                         std::string_view status_text = {});
  void self_gone(Channel& c, std::initializer_list<int> statuses, std::string_view reason);
  void names_ended(Channel& c);
  void on_registered();
  void on_privmsg(const protocols::irc::Message& m, std::string_view from_nick, bool notice);
  void on_channel_line(std::string_view target, std::string_view from_nick, std::string_view text,
                       bool notice);
  // A channel line to the user's resources (or kept for them), whoever read it.
  void deliver_line(Channel& c, std::string_view from_nick, std::string_view text, bool notice);
  // A channel event other than a line, for shared reading's order (shared_reads.hpp).
  void channel_event(Channel& c, std::uint64_t event_hash);
  // Forgets the channel (folded name): out of its shared reading first.
  void erase_channel(const std::string& key);
  void leave_shared(Channel& c);
  // Every channel has a leader that reads it for this puppet, and nothing here waits for a
  // line of our own: the socket may be read on the gateway's tick.
  bool covered() const;
  // Its reflections wait for the channel's leader, not for an echo (the newest entry says:
  // older ones may be left from a link without echo-message, queued across a reconnection).
  static bool awaits_leader(const Channel& c) { return !c.sent.empty() && c.sent.back().via_leader; }
  std::size_t queued_lines(const Channel& c) const;
  void read_on_tick();  // a covered puppet's socket goes to the gateway's tick
  void low_mark(bool low);
  // A covered puppet's receive low-water mark: the copies of a tick's lines stay in the
  // kernel below it (at 1,000 lines/s of ~160 bytes, a real network's with tags and a
  // cloaked host, a 100 ms tick holds 16 KB; the bench's lines are ~65 bytes); more than
  // that wakes the reader as before.
  static constexpr int kTickLowWater = 32768;
  static constexpr int kReadAhead = 2048;           // Connection::Limits::read_ahead
  static constexpr std::size_t kControlSlack = 64;  // JOIN/PART/NICK past a full queue (enqueue)
  static constexpr std::size_t kMaxKey = 64;        // a channel key's length (servers allow 23 to 32)
  // Our own line to a channel, echoed (echo-message): its Sent entry reflected or errored.
  void on_own_channel_line(Channel& c, std::string_view from_nick, std::string_view text);
  void refused(Channel& c, std::string_view text);  // ERR_CANNOTSENDTOCHAN for our line
  // XEP-0045 §7.4: the user's message back to every resource in the room, their id kept;
  // sid: its archive id ("" when not archived).
  void reflect(Channel& c, std::string_view id, std::string_view body, std::string_view sid);
  // Lines that will not be echoed (written to a link that is gone, or the network stopped
  // echoing): reflected as they were said, as without echo-message. keep: the newest
  // entries still waiting in queue_.
  void reflect_unechoed(Channel& c, std::size_t keep = 0);
  // The link is lost: lines written to the channel but never echoed are queued again.
  void resend_unechoed(Channel& c);
  // The same for unconfirmed_ (private messages; without echo-message channel lines too).
  void resend_unconfirmed();
  // Our private message came back (echo-message): it and what the server dropped before it
  // are done.
  void pm_echoed(std::string_view target, std::string_view text);
  // The line's XEP-0359 stanza-id (its MAM id), "" when not archived (Gateway::archive_line).
  std::string archive(Channel& c, std::string_view nick, std::string_view body, bool action, bool notice,
                      bool heard);
  void answer_ctcp(std::string_view nick, std::string_view command, std::string_view params);
  void on_nick(std::string_view old_nick, std::string_view new_nick);
  // A nick change a resource asked for (XEP-0045 §7.6), until the server takes or refuses it.
  struct NickChange {
    std::string nick;      // asked for
    std::string full_jid;  // by this resource
    std::string channel;   // in this room
    std::string before;    // the nick wanted until then (wanted_nick)
    std::string id;        // its presence's id, kept in a refusal (RFC 6120 §8.3.1)
    std::chrono::steady_clock::time_point at;  // when the NICK was queued (kAnswerWait)
  };
  // The nick the user wants: asked for at every registration (a reconnection keeps a
  // change), and asked for again while the link has another (regain_nick).
  const std::string& wanted_nick() const { return identity_.nicks.front(); }
  void regain_nick();
  // A NICK for `nick` refused after registration (condition: "conflict", "not-acceptable"
  // for 432) or not answered within kAnswerWait ("remote-server-timeout").
  void nick_refused(std::string_view nick, std::string_view condition, std::string_view text);
  // A NICK or KICK the server has not answered in this long is given up (on the keepalive
  // check): a refusal this gateway does not know must not block the next one for ever.
  static constexpr std::chrono::seconds kAnswerWait{30};
  void answers_overdue();
  // After a rejoin: our nick as the channel's resources know it, if the new link has
  // another (names_ended).
  void rejoined_as(Channel& c);
  void on_mode(const protocols::irc::Message& m);
  void join_failed(std::string_view channel, std::string_view text, std::string_view numeric);
  void on_connected(protocols::ConnectedStream s);
  void connect_failed(const protocols::ConnectError& e, std::optional<std::chrono::milliseconds> retry);
  void give_up(const std::string& text, std::string_view condition);
  bool enqueue(std::string line, bool front = false);
  void enqueue_control(std::string line, bool front = false);  // JOIN, PART, NICK
  bool queue_line(std::string line, bool front, std::size_t slack);
  void pump();
  void send_now(std::string_view bytes);
  void check_empty();

  Gateway& gw_;
  std::string bare_;
  config::IrcNetwork net_;
  std::string label_;  // the server part used for private-message JIDs
  protocols::irc::ClientIdentity identity_;
  protocols::irc::ClientRegistration reg_;
  std::shared_ptr<IrcLink> link_;
  std::shared_ptr<protocols::Reconnector> reconnector_;
  std::map<std::string, Channel, std::less<>> channels_;  // folded channel name -> state
  // Resources that sent a private message while in no channel of this puppet: they get the
  // answers and keep the connection open (bounded by the user's resources).
  std::set<std::string> pm_resources_;
  std::deque<Missed> missed_pms_;  // private messages while no resource was there
  // Lines whose arrival is not known yet, each until the server shows it took them: on a link
  // with echo-message the private messages, until their echo (a channel line waits in
  // Channel::sent); without it every channel line and private message, until the PONG of a
  // marker PING written after it (servers handle a client's lines in order). Those written
  // but not known to have arrived when the link is lost are sent again (resend_unconfirmed).
  // A private message's entry also says who to tell of a 401 (no_such_nick).
  struct Unconfirmed {
    std::string line;
    std::chrono::steady_clock::time_point at;  // when it was said
    std::string full_jid, addressed, id;  // a private message: who said it, to which JID, its stanza's id
    std::uint64_t marker = 0;             // the PING written after it (0: none yet)
    // A follower's channel line: its leader's copy, handed back (take_own_line), says it
    // arrived, so it needs no PING (nine lines in ten at ten occupants) unless that copy
    // does not come (reflect_overdue) or the link is lost.
    bool by_leader = false;
  };

  // ERR_NOSUCHNICK for a private message: an error to the resource that wrote to that nick.
  void no_such_nick(std::string_view nick, std::string_view text);
  // A kick waiting for the server's answer.
  struct Kick {
    std::string id, full_jid;
    std::string channel;  // folded
    std::string nick;     // folded
    std::string line;     // the KICK as queued (still in queue_ when the link is lost: kept)
    std::chrono::steady_clock::time_point at;
    // A TOPIC instead (nick ""): its echo ends it with nothing to send, a refusal is a
    // message error (XEP-0045 §8.1 <forbidden/>). In the same list as the kicks, so that a
    // 482, which does not say which command it refuses, answers the channel's oldest.
    bool topic = false;
  };
  std::deque<Kick> kicks_;
  static constexpr std::size_t kMaxKicks = 16;
  // The oldest kick of `nick` (folded; "" any, a topic change too) in `channel` (folded; ""
  // any) is answered: a result when condition is empty, else an error.
  void kick_answered(std::string_view channel, std::string_view nick, std::string_view type = {},
                     std::string_view condition = {}, std::string_view text = {});
  void topic_answered(std::string_view channel);  // our TOPIC there was echoed
  void answer_kick(std::size_t index, std::string_view type, std::string_view condition,
                   std::string_view text);
  std::deque<Unconfirmed> unconfirmed_;
  // Queues a message's lines (privmsg_lines); `track`: kept in unconfirmed_.
  void queue_said(std::vector<std::string>& lines, bool track, bool by_leader = false,
                  const std::string& full_jid = {}, const std::string& addressed = {},
                  const std::string& id = {});
  // Without echo-message, lines in unconfirmed_ have no marker PING after them yet. pump
  // writes it once queue_ is empty (so it follows every line said so far and never delays
  // one) and the throttle allows a line more: one PING for a paste or a burst.
  bool marker_owed() const;
  // The leader handed back our line `text` in `c`: its entry (by_leader) is confirmed.
  void leader_confirmed(const Channel& c, std::string_view text);
  // pump: the owed marker PING into `batch` if queue_ is empty and the throttle allows (else
  // `delay`: how long until it does).
  bool write_marker(std::string& batch, std::chrono::milliseconds& delay);
  // The marker of the next PING: the PONG that places lines said now (SharedReads::said).
  std::uint64_t next_marker() const { return marker_ + 1; }
  // The PONG of `marker`: what was written before it arrived.
  void confirmed(std::uint64_t marker);
  static constexpr std::chrono::seconds kPmAnswered{60};  // a 401 comes well within this
  // Unechoed lines said longer ago than this when the link is lost are not sent again: the
  // link was alive after them (a dead path is closed within ping_timeout + ping_interval/2
  // of the last byte read), so the server dropped them on purpose (a filter), not the path.
  std::chrono::steady_clock::duration resend_window() const;
  // A link that answered a PING of ours without its token and never returned a marker's
  // does not return tokens: its lines are not sent again (it would be every time).
  bool markers_sent_ = false;                             // this link was sent a marker PING
  bool markers_answered_ = false;                         // it returned a marker's PONG
  bool tokenless_pong_ = false;                           // it sent a PONG with no token of ours
  bool raw_pings_ =
      false;  // the user sent PINGs of their own on it (raw): a PONG without ours proves nothing
  std::chrono::steady_clock::time_point last_written_{};  // pump's last line written
  bool marker_urgent_ = false;  // a leader's followers wait for the owed marker's PONG
  void mark_unmarked();         // the entries without a marker get marker_ (just written or queued)
  std::deque<std::string> queue_;  // complete wire lines for IRC
  protocols::TokenBucket bucket_;
  PumpWait pump_wait_;
  std::unique_ptr<protocols::StrandTimer> keepalive_;
  std::chrono::steady_clock::time_point last_rx_{};
  void arm_keepalive();
  // The connection as the identd knows it (identd.hpp), while it is open.
  std::optional<std::pair<protocols::tcp::endpoint, protocols::tcp::endpoint>> ident_key_;
  std::optional<NickChange> nick_change_;  // a NICK the user asked for, written, not answered yet
  void forget_ident();
  // The user's resource escaped as a `to` value, for the channel lines it hears (channel_lines.hpp).
  ChannelLines::EscapedTo escaped_to_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // timer handlers check it (weak)
  bool echoes_ = false;                                    // echo-message is enabled on the current link
  std::string server_key_;  // the server's address and our encoding: a shared reading group's half
  bool lazy_ = false;       // the link reads on the gateway's tick (a high SO_RCVLOWAT)
  bool take_failed_ = false;  // take_failed's close is posted
  bool deferred_ = false;   // a leader's link read at the gateway's next input (expect_line)
  bool expecting_ = false;  // deferred, and said something since its last read
  std::chrono::steady_clock::time_point said_at_{};  // deferred: the input of its last say
  bool tick_told_ = false;  // the log said so for this link
  bool defer_told_ = false;  // the log said it defers, for this link
  bool low_mark_ = true;    // the socket's receive low-water mark is 1 (see low_mark)
  bool hold_ = false;       // the line just read waits for the next tick (IrcLink keeps it)
  bool leader_echoes_ = false;     // some Sent::via_leader may wait (reflect_overdue)
  bool said_waits_ = false;        // a leader's lines may wait for their marker (said_overdue)
  std::uint64_t marker_ = 0;       // the last marker PING written (pump)
  std::uint64_t waited_line_ = 0;  // the line that waited last (a line waits once)
  bool ever_registered_ = false;
  bool quitting_ = false;
  bool retired_ = false;
};

}  // namespace parley::adapters::gateway

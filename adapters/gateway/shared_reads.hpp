#pragma once
// Shared reading: one puppet in a channel reads its lines for the gateway's other puppets there.
//
// Why: the IRC server writes each channel line to every member's socket, so with puppets
// (one IRC connection per XMPP user, Biboumi's model) a line is read ten times at ten
// occupants, at up to ten wake-ups. At 200 msgs/s that kernel work alone was most of the
// gateway's CPU per stanza (bench/README.md, issue 11). Here the first puppet in a channel,
// the leader, reads as before and hands every line it hears to the others, the followers,
// at once. A follower whose channels are all covered so reads its own socket only on a
// tick (Gateway: SO_RCVLOWAT keeps the kernel from waking the gateway for it meanwhile),
// and skips the copies it was handed.
//
// Order: a line may be handed to a follower only when the follower has processed every
// event of the channel the leader processed before it, or the line could overtake, say,
// its speaker's join. Each member keeps a fingerprint of the channel events it processed
// (lines, JOIN, PART, KICK, TOPIC, MODE, the QUIT and NICK of occupants); a follower is
// "in step" while it reads nothing but handed lines since its fingerprint last equalled the
// leader's. Any other event puts it out of step: one the leader reads first (the leader's
// followers then read at once, and the leader hands them nothing until their own stream
// reaches the same fingerprint), or one the follower reads first (it was ahead of the
// leader: the leader must not hand it that line again). Without echo-message a speaker
// never reads its own line, so a leader and a follower compare fingerprints without the
// lines either of them said.
//
// The leader's own lines: without echo-message it never reads them, so it cannot tell
// where they fall among the lines it reads. It writes a PING after them (Puppet::say,
// RFC 2812 3.7.2): the server handles the lines, then the PING, and its PONG reaches the
// leader after every line the server sent it before (one connection's lines are handled in
// order, and InspIRCd, ngircd and Solanum handle a read's lines in one go, so nothing of
// another client's comes between). At the PONG the leader hands its lines on (placed), as
// if it had read them there, and the followers skip their copies as any other; one the
// server refused (404 before the PONG) is not handed. Only when that fails (a partial
// refusal, no PONG within kPlaceTicks ticks, a raw command whose lines are unknown) do the
// followers read the leader's lines themselves before they are handed more (`await`).
// With echo-message the leader reads its own lines as echoes. Either way a PONG or an echo
// says only that the server handled the line, not that it sent it to the channel: a spam
// filter or a shun drops it without a word (InspIRCd even echoes it to its sender), a filter
// may rewrite it. So before a leader's own line is handed on, one follower in step reads
// its socket there and then (read_direct, no wake-up) if the server has written its copy
// by then (InspIRCd flushes its clients in the order of their descriptors, the leader's
// often first), else as its copy comes (read_now): the witness's
// copy of the line is consumed, and the line handed to the others. Lines the leader reads
// meanwhile wait behind it (`pending`). A line the witness's stream does not show (it reads
// past where the line would be: any line not handed, or a later line of the leader's; or
// kWitnessTicks pass) is not handed: the followers read
// for themselves (`await`), so each user sees what that user's own connection got.
// Before, every leader's line woke each follower: in the bench (one speaker in ten is the
// leader) that was a third of the gateway's system calls. (Handing the lead to a follower
// instead was tried: it showed lines twice under load, cause not found; see the closing
// note of session 28.)
//
// A group is the puppets in one channel of one server address with one encoding: one
// server sends a channel's events to every member in the same order (two servers of a
// network may not), and the same bytes decode to the same text. Pure bookkeeping; on the
// gateway's strand.
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace parley::adapters::gateway {

// A puppet as shared reading sees it.
class SharedReader {
 public:
  virtual ~SharedReader() = default;
  // The leader read this line in the channel whose state is `channel_context`
  // (SharedChannel::context): deliver it as if this reader had read it.
  virtual void take_line(void* channel_context, std::string_view nick, std::string_view text,
                         bool notice) = 0;
  // The leader read a line this reader said: its sender's reflection can go out now, in
  // the channel's order (without echo-message the reader never reads its own lines; with it
  // the reader's own echo, read later, is then skipped).
  virtual void take_own_line(void* /*channel_context*/, std::string_view /*nick*/,
                             std::string_view /*text*/) {}
  // A take_line or take_own_line for this reader threw, inside another reader's read or the
  // gateway's tick: this reader ends its own link (later: the groups are being walked), as
  // the firewall of its own read would have; the other reader's goes on.
  virtual void take_failed(std::string_view what) = 0;
  // The reader is no longer covered (or must answer something): read the socket now.
  virtual void read_now() = 0;
  // Handed lines again (in step): its socket need not be read as data comes any more (or
  // the next copy, read before the leader's, would put it out of step again).
  virtual void back_in_step() {}
  // Read what its socket holds now, straight away (no wake-up; the lines go through
  // SharedReads::line as any read's). false: not possible now (it reads as data comes, or a
  // read is under way), nothing was read.
  virtual bool read_direct() { return false; }
  // A leader: one of its own lines waits for a witness; said_overdue() is to run on the
  // gateway's tick until none does.
  virtual void witness_pending() {}
  // A leader: a member of its group (or itself) is about to say something in the channel,
  // so a line of ours comes back to it soon: it may read it later rather than be woken.
  virtual void expect_line() {}
};

// One reader's state in one channel; the owner keeps it with its channel and calls leave()
// before it goes.
struct SharedChannel {
  static constexpr std::size_t kRecent = 16;  // events kept; the fingerprint compares up to 4
  static constexpr std::size_t kCompared = 4;
  struct Recent {
    std::uint64_t hash = 0;
    std::uint64_t speaker = 0;  // a line's SharedReads::nick_hash; 0: another event
  };
  void* context = nullptr;               // passed back to take_line
  void* group = nullptr;                 // SharedReads' group; null: in none
  std::array<Recent, kRecent> recent{};  // the last events read, a ring
  std::uint64_t seen = 0;                // events read so far
  // A line handed by the leader, not read here yet: its line_hash, the hash of its bytes as
  // the leader read them (SharedReads::raw_hash; 0: unknown) and its speaker's nick_hash.
  struct Handed {
    std::uint64_t hash = 0, raw = 0, speaker = 0;
  };
  std::deque<Handed> ahead;
  std::deque<std::uint64_t> await;       // the leader's own lines, to read before in step
  std::uint32_t await_misses = 0;        // other lines read meanwhile (a refused line never comes)
  // A leader's lines said and not placed yet, each batch until the PONG of its marker.
  struct Said {
    std::uint64_t marker = 0;
    std::string nick;                                          // who said them, as IRC spells it
    std::vector<std::pair<std::uint64_t, std::string>> lines;  // line_hash, text
    std::uint32_t refused = 0;                                 // 404s read meanwhile
    std::uint16_t ticks = 0;                                   // gateway ticks since the marker was written
  };
  std::deque<Said> said;
  // A follower's: the leader's own lines handed at their PONG and not read here yet (never
  // cleared by a fingerprint: those lines are not in one). plain: the hash of the text
  // without IRC formatting, for a server that strips colours (InspIRCd +S).
  struct Own {
    std::uint64_t nick = 0, hash = 0, plain = 0;
  };
  std::deque<Own> own_ahead;
  // A follower's: lines of its leader it read before they were handed (recent ones): at
  // their PONG they are not handed again.
  std::deque<std::uint64_t> own_read;
  bool leader = false;
  bool in_step = false;  // a follower the leader hands lines to
};

class SharedReads {
 public:
  // A follower handed this many lines it has not read is read at once and out of step
  // (its socket stays bounded by the server's send queue and ours).
  static constexpr std::size_t kMaxAhead = 256;
  // A leader's own line a follower has not read after this many others was refused or
  // filtered by the server: it is not waited for any longer.
  static constexpr std::uint32_t kMaxAwaitMisses = 64;

  static std::uint64_t hash(std::string_view s, std::uint64_t seed = 0);
  static std::uint64_t nick_hash(std::string_view nick);  // ASCII case folded
  static std::uint64_t line_hash(std::string_view nick, std::string_view text, bool notice);

  // `r` is in `channel` of `server` (address and encoding) with nick `nick`, its state `st`:
  // it joins the channel's group, as the leader if the group is empty, else as a follower
  // out of step.
  void join(std::string_view server, std::string_view channel, SharedReader* r, SharedChannel& st,
            std::string_view nick);
  // `r` leaves st's group (nothing when in none). A leader leaving makes the next member the
  // leader; every follower then falls out of step.
  void leave(SharedReader* r, SharedChannel& st);
  // `r`'s nick changed (every group it is in).
  void nick_changed(SharedReader* r, std::string_view nick);
  // A channel line `r` read: deliver it, skip it (it was handed to `r` already), or wait: a
  // follower in step read it before its leader (only when `may_wait`: the reader keeps the
  // line and reads it again later, when the leader will have handed it). A leader hands it
  // on to every follower in step, and a follower's own line to that follower (take_own_line,
  // in step or not).
  enum class Heard : std::uint8_t { deliver, skip, wait };
  Heard line(SharedReader* r, SharedChannel& st, std::string_view nick, std::string_view text, bool notice,
             bool may_wait = false) {
    return line(r, st, line_hash(nick, text, notice), nick, text, notice, may_wait);
  }
  // The same, with the line's line_hash() already made (the reader needed it too). as_read:
  // the line as read from the socket (empty: unknown); a leader handing it records its
  // raw_hash, which lets a follower skip its copy unparsed (take_handed).
  Heard line(SharedReader* r, SharedChannel& st, std::uint64_t h, std::string_view nick,
             std::string_view text, bool notice, bool may_wait, std::string_view as_read = {});
  // The hash of a line as read from the socket, tags and prefix included (IrcLink).
  static std::uint64_t raw_hash(std::string_view line) { return hash(line, 0x524157); }  // "RAW"
  // A follower's line, before it is parsed, whose raw_hash is `raw`: if it is the next line
  // the leader handed in st (the same 64-bit hash of its bytes: std::hash, unkeyed, so a
  // sender could craft two lines of its own that one follower takes for each other), it is
  // consumed here exactly as line() would (skipped) and true; else false (parse it and call
  // line()). Eight or nine followers' copies of a line at ten occupants cost ~1,700
  // instructions each parsed (bench x2i, session 40).
  // own: the reader's own nick_hash when its own lines come back to it (echo-message; 0:
  // they do not): such a line goes its own way, never skipped here.
  static bool take_handed(SharedChannel& st, std::uint64_t raw, std::uint64_t own);
  // Another channel event `r` read (hash: SharedReads::hash of its command, prefix and
  // parameters).
  void event(SharedReader* r, SharedChannel& st, std::uint64_t h);
  // The member whose state is `st` is about to send lines to the channel: their
  // line_hash()es with its nick (empty: unknown lines, e.g. raw commands). A leader's
  // followers then read those lines themselves before they are handed more.
  void saying(SharedChannel& st, const std::vector<std::uint64_t>& lines = {});
  // A leader (state `st`, nick `nick`) is about to write these lines to the channel and
  // then a PING whose PONG carries `marker` (one marker may follow several says, in
  // increasing order). Its followers stay in step; the lines are handed to them at the
  // PONG (placed). false: `st` is no leader or has no follower (no PING needed), nothing
  // was noted.
  bool said(SharedChannel& st, std::uint64_t marker, std::string_view nick,
            const std::vector<std::string_view>& texts);
  // The leader read the PONG of `marker`: the lines said before it are handed on now.
  void placed(SharedChannel& st, std::uint64_t marker);
  // The leader read ERR_CANNOTSENDTOCHAN for the channel: a line of its oldest unplaced
  // batch was refused.
  void refused(SharedChannel& st);
  // On the gateway's tick, for the markers written (below `unwritten`, the oldest marker
  // still queued; 0: none): one unanswered for kPlaceTicks makes the followers read the
  // leader's lines themselves; so does an own line whose witness has not read it for
  // kWitnessTicks. true while any batch or own line waits.
  bool said_overdue(SharedChannel& st, std::uint64_t unwritten);
  static constexpr std::uint16_t kPlaceTicks = 20;  // 2 s at the default 100 ms tick
  // A leader's own line its witness has not read after this many ticks was not sent to the
  // channel (or the witness hangs): the followers read for themselves. On the tick after
  // these (said_overdue counts past them): 200-300 ms.
  static constexpr std::uint16_t kWitnessTicks = 2;
  static constexpr std::size_t kOwnRead = 32;
  // The hash of text as a server stripping IRC formatting would show it.
  static std::uint64_t plain_hash(std::string_view nick, std::string_view text);

  std::size_t groups() const { return groups_.size(); }
  // The leader of st's group (null: in none).
  SharedReader* leader_of(const SharedChannel& st) const;

 private:
  struct Member {
    SharedReader* reader;
    SharedChannel* st;
    std::uint64_t nick;
  };
  // A line the leader read or said, in the channel's order, held back while an own line of
  // the leader before it waits for its witness (hand_witnessed).
  struct Pending {
    std::uint64_t hash = 0, speaker = 0, plain = 0, raw = 0;
    std::string nick;  // as IRC spells it
    std::string text;
    bool notice = false;
    bool own = false;  // the leader's own line: handed once a follower's stream showed it
    // An own line's: waiting for its witness; shown (a follower read it, or none can
    // tell: handed as the PONG or the echo says); taken (the witness consumed its copy);
    // passed (the witness's stream went past it: not sent, or not as said).
    enum class Witness : std::uint8_t { waiting, shown, taken, passed } witness = Witness::waiting;
  };
  struct Group {
    std::string key;
    std::vector<Member> members;      // members[0] is the leader
    SharedReader* witness = nullptr;  // the follower whose stream is to show the leader's own lines
    std::deque<Pending> pending;
    std::uint16_t pending_ticks = 0;
  };
  static void push(SharedChannel& st, std::uint64_t h, std::uint64_t speaker);
  // The last kCompared events of a and b not said by either nick are the same (at least one).
  static bool same_recent(const SharedChannel& a, const SharedChannel& b, std::uint64_t nick_a,
                          std::uint64_t nick_b);
  static void out_of_step(Member& m);
  // A follower out of step that has read the leader's own lines and whose fingerprint
  // equals the leader's is in step again, once no line waits in `pending`.
  static void try_step(const Group& g, Member& f);
  static void check_steps(Group& g);
  // The followers read these lines of the leader themselves before they are handed more.
  // written: the lines went out already (one a follower read is then not waited for).
  static void await_lines(Group& g, const std::vector<std::uint64_t>& lines, bool written);
  // A line the leader read, not its own: handed to every follower in step (a follower's own
  // line back to it).
  static void hand_line(Group& g, std::uint64_t h, std::uint64_t speaker, std::string_view nick,
                        std::string_view text, bool notice, std::uint64_t raw);
  // The leader's own lines, placed or echoed: pending until a follower's stream shows them.
  static void hand_witnessed(Group& g, std::string_view nick,
                             const std::vector<std::pair<std::uint64_t, std::string>>& lines);
  // The witness read this line: one of the leader's own lines pending (consumed, true).
  static bool witnessed(Group& g, std::uint64_t h, std::string_view nick, std::string_view text);
  // Hands on the pending lines up to the first own line still waiting for its witness;
  // `final`: past every one (one still waiting is awaited by the followers: they read for
  // themselves).
  static void settle(Group& g, bool final);
  // The leader's own line, shown: handed to the followers in step (the witness too when it
  // took its copy, consumed already), awaited by the others.
  static void hand_own(Group& g, const Pending& p);
  Member* member(Group& g, SharedReader* r);

  std::unordered_map<std::string, Group> groups_;
};

}  // namespace parley::adapters::gateway

#include "adapters/gateway/shared_reads.hpp"

#include <algorithm>
#include <functional>

#include "protocols/irc/text.hpp"

namespace parley::adapters::gateway {

namespace {
// The exception firewall of one follower (STYLE.md). Its take_line runs inside another
// reader's read (the leader's, the witness's) or the gateway's tick: what it throws would
// close another user's link or end the tick. The follower is told instead
// (SharedReader::take_failed), and ends its own link as its own read would have.
template <class F>
void guarded(SharedReader* r, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    r->take_failed(e.what());
  }
}

// splitmix64's finaliser: mixes a seed into a hash so that (a, b) and (b, a) differ.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

std::uint64_t SharedReads::hash(std::string_view s, std::uint64_t seed) {
  return mix(seed) ^ std::hash<std::string_view>{}(s);
}

std::uint64_t SharedReads::nick_hash(std::string_view nick) {
  char buf[64];
  const std::size_t n = std::min(nick.size(), sizeof buf);
  for (std::size_t i = 0; i < n; ++i)
    buf[i] = nick[i] >= 'A' && nick[i] <= 'Z' ? char(nick[i] + 32) : nick[i];
  return hash(std::string_view(buf, n), nick.size());
}

std::uint64_t SharedReads::line_hash(std::string_view nick, std::string_view text, bool notice) {
  return hash(text, hash(nick, notice ? 2 : 1));
}

std::uint64_t SharedReads::plain_hash(std::string_view nick, std::string_view text) {
  if (!protocols::irc::has_formatting(text)) return line_hash(nick, text, false);
  return line_hash(nick, protocols::irc::parse_formatting(text).text, false);
}

void SharedReads::push(SharedChannel& st, std::uint64_t h, std::uint64_t speaker) {
  st.recent[st.seen++ % SharedChannel::kRecent] = {h, speaker};
}

namespace {
// The newest (at most kCompared) events of `s` not said by `x` or `y`, newest first.
std::size_t compared(const SharedChannel& s, std::uint64_t x, std::uint64_t y,
                     std::array<std::uint64_t, SharedChannel::kCompared>& out) {
  std::size_t n = 0;
  const std::uint64_t kept = std::min<std::uint64_t>(s.seen, SharedChannel::kRecent);
  for (std::uint64_t i = 1; i <= kept && n < out.size(); ++i) {
    const auto& r = s.recent[(s.seen - i) % SharedChannel::kRecent];
    if (r.speaker == 0 || (r.speaker != x && r.speaker != y)) out[n++] = r.hash;
  }
  return n;
}
}  // namespace

bool SharedReads::same_recent(const SharedChannel& a, const SharedChannel& b, std::uint64_t nick_a,
                              std::uint64_t nick_b) {
  std::array<std::uint64_t, SharedChannel::kCompared> ea{}, eb{};
  const std::size_t n = std::min(compared(a, nick_a, nick_b, ea), compared(b, nick_a, nick_b, eb));
  return n != 0 && std::equal(ea.begin(), ea.begin() + n, eb.begin());
}

void SharedReads::out_of_step(Member& m) {
  if (!m.st->in_step) return;
  m.st->in_step = false;
  m.reader->read_now();
}

void SharedReads::try_step(const Group& g, Member& m) {
  SharedChannel& f = *m.st;
  const Member& lead = g.members.front();
  // Not while lines the leader read wait to be handed (behind an own line waiting for its
  // witness): the leader's fingerprint has them, so a follower that read them itself would
  // match it and then be handed them again (bench x2i at 1,000 msgs/s: 20-120 duplicated
  // copies in 100,000).
  if (f.in_step || !f.await.empty() || !g.pending.empty() || !same_recent(f, *lead.st, m.nick, lead.nick))
    return;
  f.in_step = true;
  // It has read what the leader read: a handed line it never got (none is expected) would
  // only make it skip a later line with the same text.
  f.ahead.clear();
  m.reader->back_in_step();
}

void SharedReads::check_steps(Group& g) {
  for (std::size_t i = 1; i < g.members.size(); ++i) try_step(g, g.members[i]);
}

SharedReads::Member* SharedReads::member(Group& g, SharedReader* r) {
  for (auto& m : g.members)
    if (m.reader == r) return &m;
  return nullptr;
}

void SharedReads::join(std::string_view server, std::string_view channel, SharedReader* r, SharedChannel& st,
                       std::string_view nick) {
  leave(r, st);
  std::string key;
  key.reserve(server.size() + channel.size() + 1);
  key.append(server).push_back('\n');
  for (char ch : channel) key.push_back(ch >= 'A' && ch <= 'Z' ? char(ch + 32) : ch);
  auto [it, fresh] = groups_.try_emplace(key);
  Group& g = it->second;
  if (fresh) g.key = std::move(key);
  st.group = &g;
  st.recent = {};
  st.seen = 0;
  st.ahead.clear();
  st.await.clear();
  st.said.clear();
  st.own_ahead.clear();
  st.own_read.clear();
  st.in_step = false;
  st.leader = g.members.empty();
  g.members.push_back(Member{r, &st, nick_hash(nick)});
}

void SharedReads::leave(SharedReader* r, SharedChannel& st) {
  auto* g = static_cast<Group*>(st.group);
  if (!g) return;
  if (!g->pending.empty() && (st.leader || g->witness == r)) settle(*g, true);
  st.group = nullptr;
  st.ahead.clear();
  st.await.clear();
  st.said.clear();
  st.own_ahead.clear();
  st.own_read.clear();
  st.in_step = false;
  const bool was_leader = st.leader;
  st.leader = false;
  std::erase_if(g->members, [&](const Member& m) { return m.reader == r && m.st == &st; });
  if (g->members.empty()) {
    groups_.erase(g->key);
    return;
  }
  if (!was_leader) return;
  // The next member leads. It may still have handed lines to read: it skips them and hands
  // on only what it reads past them; the others read for themselves until they are in step
  // with it.
  g->members.front().st->leader = true;
  g->members.front().st->in_step = false;
  g->members.front().st->await.clear();
  g->members.front().reader->read_now();
  for (std::size_t i = 1; i < g->members.size(); ++i) out_of_step(g->members[i]);
}

void SharedReads::nick_changed(SharedReader* r, std::string_view nick) {
  const std::uint64_t h = nick_hash(nick);
  for (auto& [_, g] : groups_)
    for (auto& m : g.members)
      if (m.reader == r) m.nick = h;
}

SharedReads::Heard SharedReads::line(SharedReader* r, SharedChannel& st, std::uint64_t h,
                                     std::string_view nick, std::string_view text, bool notice, bool may_wait,
                                     std::string_view as_read) {
  auto* g = static_cast<Group*>(st.group);
  if (!g) return Heard::deliver;
  bool handed = false;
  if (!st.ahead.empty()) {
    // The leader's order is this server's order, so it is the first entry; a search keeps a
    // line that is not from being shown twice all the same.
    auto it = std::find_if(st.ahead.begin(), st.ahead.end(),
                           [h](const SharedChannel::Handed& e) { return e.hash == h; });
    if (it != st.ahead.end()) {
      st.ahead.erase(it);
      handed = true;
    }
  }
  if (!handed && !notice && !st.own_ahead.empty()) {
    // The leader's own line, handed at its PONG; the server may have stripped its colours.
    auto it = std::find_if(st.own_ahead.begin(), st.own_ahead.end(),
                           [&](const SharedChannel::Own& o) { return o.hash == h; });
    if (it == st.own_ahead.end()) {
      const std::uint64_t sp = nick_hash(nick), plain = plain_hash(nick, text);
      it = std::find_if(st.own_ahead.begin(), st.own_ahead.end(),
                        [&](const SharedChannel::Own& o) { return o.nick == sp && o.plain == plain; });
    }
    if (it != st.own_ahead.end()) {
      st.own_ahead.erase(it);
      handed = true;
    }
  }
  if (!handed && g->witness == r && !st.leader) {
    // The witness's copy of a leader's own line about to be handed on (hand_witnessed).
    if (!notice && witnessed(*g, h, nick, text)) {
      push(st, h, nick_hash(nick));
      settle(*g, false);
      return Heard::skip;
    }
    // Another line not handed: it read past where the leader's pending own lines would be,
    // so they were not sent to the channel (or not as said).
    if (!g->pending.empty()) settle(*g, true);
  }
  // Read here before the leader read it (the server writes a line to its members one after
  // the other, and not always at once): the reader may wait for the leader to hand it.
  if (!handed && st.in_step && !st.leader && may_wait) return Heard::wait;
  const std::uint64_t speaker = nick_hash(nick);
  push(st, h, speaker);
  if (!st.leader) {
    Member* me = member(*g, r);
    if (!st.await.empty()) {
      if (auto it = std::find(st.await.begin(), st.await.end(), h); it != st.await.end())
        st.await.erase(it);
      else if (++st.await_misses > kMaxAwaitMisses)
        st.await.clear();
    }
    const Heard heard = handed ? Heard::skip : Heard::deliver;
    if (!handed && speaker == g->members.front().nick) {  // not to be handed at its PONG
      st.own_read.push_back(h);
      if (st.own_read.size() > kOwnRead) st.own_read.pop_front();
    }
    if (!me) return heard;
    // A line nobody handed: this follower read it before the leader did.
    if (!handed && st.in_step) out_of_step(*me);
    if (!st.in_step) try_step(*g, *me);
    return heard;
  }
  // Its own line, read as an echo (echo-message): in the channel's order, but in no
  // fingerprint, so handed as at a PONG.
  if (!handed && speaker == g->members.front().nick) {
    if (!notice) hand_witnessed(*g, nick, {{h, std::string(text)}});
  } else if (!handed) {
    const std::uint64_t raw = as_read.empty() ? 0 : raw_hash(as_read);  // only a leader's handed lines
    if (g->pending.size() >= kMaxAhead) settle(*g, true);  // bounded: the followers read for themselves
    if (!g->pending.empty())                               // behind an own line waiting for its witness
      g->pending.push_back(Pending{.hash = h,
                                   .speaker = speaker,
                                   .raw = raw,
                                   .nick = std::string(nick),
                                   .text = std::string(text),
                                   .notice = notice});
    else
      hand_line(*g, h, speaker, nick, text, notice, raw);
  }
  check_steps(*g);
  return handed ? Heard::skip : Heard::deliver;
}

// line()'s path for a follower in step reading the next line it was handed (with nothing
// awaited): the entry leaves `ahead`, the line joins the fingerprint, nothing else changes.
// Same bytes, same parse: the line's line_hash is the entry's, and line() would find this
// entry first.
bool SharedReads::take_handed(SharedChannel& st, std::uint64_t raw, std::uint64_t own) {
  if (!st.group || st.leader || !st.in_step || !st.await.empty() || st.ahead.empty()) return false;
  const SharedChannel::Handed e = st.ahead.front();
  if (e.raw != raw || e.raw == 0 || (own != 0 && e.speaker == own)) return false;
  st.ahead.pop_front();
  push(st, e.hash, e.speaker);
  return true;
}

void SharedReads::event(SharedReader* r, SharedChannel& st, std::uint64_t h) {
  auto* g = static_cast<Group*>(st.group);
  if (!g) return;
  push(st, h, 0);
  // After the pending lines (the leader's), or past them (the witness's).
  if (!g->pending.empty() && (st.leader || g->witness == r)) settle(*g, true);
  if (st.leader) {
    for (std::size_t i = 1; i < g->members.size(); ++i) out_of_step(g->members[i]);
  } else if (st.in_step) {
    if (Member* m = member(*g, r)) out_of_step(*m);
  }
  check_steps(*g);
}

void SharedReads::await_lines(Group& g, const std::vector<std::uint64_t>& lines, bool written) {
  // Each follower must read the leader's lines before it can be handed any after them.
  for (std::size_t i = 1; i < g.members.size(); ++i) {
    SharedChannel& f = *g.members[i].st;
    out_of_step(g.members[i]);
    if (f.await.size() + lines.size() > kMaxAhead) f.await.clear();  // bounded; order is then best effort
    for (const std::uint64_t h : lines) {
      // Written already: one this follower read is not waited for.
      if (auto it = std::find(f.own_read.begin(), f.own_read.end(), h); written && it != f.own_read.end())
        f.own_read.erase(it);
      else
        f.await.push_back(h);
    }
    f.await_misses = 0;
  }
}

void SharedReads::saying(SharedChannel& st, const std::vector<std::uint64_t>& lines) {
  auto* g = static_cast<Group*>(st.group);
  if (!g || !st.leader) return;  // a follower's lines: the leader reads them
  await_lines(*g, lines, false);
}

namespace {
std::vector<std::uint64_t> hashes_of(const std::deque<SharedChannel::Said>& said) {
  std::vector<std::uint64_t> out;
  for (const auto& s : said)
    for (const auto& l : s.lines) out.push_back(l.first);
  return out;
}
}  // namespace

bool SharedReads::said(SharedChannel& st, std::uint64_t marker, std::string_view nick,
                       const std::vector<std::string_view>& texts) {
  auto* g = static_cast<Group*>(st.group);
  if (!g || !st.leader || g->members.size() < 2) return false;  // alone: nobody to hand them to
  if (st.said.size() >= kMaxAhead) {  // no PONG for very long: bounded, the followers read them
    await_lines(*g, hashes_of(st.said), true);
    st.said.clear();
  }
  if (st.said.empty() || st.said.back().marker != marker || st.said.back().nick != nick)
    st.said.push_back(SharedChannel::Said{.marker = marker, .nick = std::string(nick)});
  for (const auto t : texts) st.said.back().lines.emplace_back(line_hash(nick, t, false), std::string(t));
  return true;
}

bool SharedReads::witnessed(Group& g, std::uint64_t h, std::string_view nick, std::string_view text) {
  using W = Pending::Witness;
  std::uint64_t speaker = 0, plain = 0;
  for (auto& p : g.pending) {
    if (!p.own || p.witness != W::waiting) continue;
    if (p.hash != h) {
      // A server that strips colours (InspIRCd +S) sends the text without them.
      if (speaker == 0) speaker = nick_hash(nick);
      if (p.speaker != speaker) continue;
      if (plain == 0) plain = plain_hash(nick, text);
      if (p.plain != plain) continue;
    }
    p.witness = W::taken;
    // The witness's stream passed the own lines before it that it has not shown.
    for (auto& q : g.pending) {
      if (&q == &p) break;
      if (q.own && q.witness == W::waiting) q.witness = W::passed;
    }
    return true;
  }
  return false;
}

void SharedReads::hand_line(Group& g, std::uint64_t h, std::uint64_t speaker, std::string_view nick,
                            std::string_view text, bool notice, std::uint64_t raw) {
  for (std::size_t i = 1; i < g.members.size(); ++i) {
    Member& f = g.members[i];
    if (f.nick == speaker) {
      if (!notice) guarded(f.reader, [&] { f.reader->take_own_line(f.st->context, nick, text); });
      continue;
    }
    if (!f.st->in_step) continue;
    f.st->ahead.push_back({.hash = h, .raw = raw, .speaker = speaker});
    guarded(f.reader, [&] { f.reader->take_line(f.st->context, nick, text, notice); });
    if (f.st->ahead.size() >= kMaxAhead) out_of_step(f);
  }
}

void SharedReads::hand_witnessed(Group& g, std::string_view nick,
                                 const std::vector<std::pair<std::uint64_t, std::string>>& lines) {
  const std::uint64_t speaker = nick_hash(nick);
  bool all_seen = true;
  for (const auto& [h, text] : lines) {
    if (g.pending.size() >= kMaxAhead) settle(g, true);  // bounded: the followers read for themselves
    Pending p{.hash = h,
              .speaker = speaker,
              .plain = plain_hash(nick, text),
              .nick = std::string(nick),
              .text = text,
              .own = true};
    // A follower that reads as data comes may have read it already: then it was sent.
    for (std::size_t i = 1; i < g.members.size() && p.witness == Pending::Witness::waiting; ++i) {
      const auto& read = g.members[i].st->own_read;
      if (std::find(read.begin(), read.end(), h) != read.end()) p.witness = Pending::Witness::shown;
    }
    all_seen = all_seen && p.witness == Pending::Witness::shown;
    g.pending.push_back(std::move(p));
  }
  if (!all_seen && !g.witness) {
    // The first follower in step is the witness: it reads its socket now, and if its copies
    // are not there yet, as they come. (Its read may settle the lines, and change the members.)
    for (std::size_t i = 1; i < g.members.size(); ++i) {
      if (!g.members[i].st->in_step) continue;
      SharedReader* w = g.members[i].reader;
      g.witness = w;
      w->read_direct();
      if (g.witness == w) {
        w->read_now();
        g.members.front().reader->witness_pending();
      }
      break;
    }
    // No follower in step: none can tell; those out of step read for themselves (hand_own
    // awaits them).
    if (!g.witness)
      for (auto& p : g.pending)
        if (p.witness == Pending::Witness::waiting) p.witness = Pending::Witness::shown;
  }
  settle(g, false);
}

void SharedReads::settle(Group& g, bool final) {
  while (!g.pending.empty()) {
    const Pending& front = g.pending.front();
    if (front.own && front.witness == Pending::Witness::waiting && !final) break;
    Pending p = std::move(g.pending.front());
    g.pending.pop_front();
    if (!p.own) {
      hand_line(g, p.hash, p.speaker, p.nick, p.text, p.notice, p.raw);
    } else if (p.witness == Pending::Witness::shown || p.witness == Pending::Witness::taken) {
      hand_own(g, p);
    } else {  // the server handled it but sent it to nobody here, or changed it: not shown as said
      await_lines(g, {p.hash}, true);
    }
  }
  if (g.pending.empty()) {
    g.witness = nullptr;
    g.pending_ticks = 0;
    check_steps(g);  // try_step waited for the pending lines
  }
}

void SharedReads::hand_own(Group& g, const Pending& p) {
  const std::uint64_t h = p.hash;
  for (std::size_t i = 1; i < g.members.size(); ++i) {
    Member& m = g.members[i];
    SharedChannel& f = *m.st;
    if (p.witness == Pending::Witness::taken && m.reader == g.witness) {  // its copy is consumed already
      guarded(m.reader, [&] { m.reader->take_line(f.context, p.nick, p.text, false); });
      continue;
    }
    if (auto it = std::find(f.own_read.begin(), f.own_read.end(), h); it != f.own_read.end()) {
      f.own_read.erase(it);  // it read this one before the leader placed it: shown already
      continue;
    }
    if (!f.in_step) {  // out of step: it reads the line itself, before it is handed more
      if (f.await.size() >= kMaxAhead) f.await.clear();
      f.await.push_back(h);
      f.await_misses = 0;
      continue;
    }
    f.own_ahead.push_back(SharedChannel::Own{.nick = p.speaker, .hash = h, .plain = p.plain});
    if (f.own_ahead.size() > kMaxAhead) f.own_ahead.pop_front();
    guarded(m.reader, [&] { m.reader->take_line(f.context, p.nick, p.text, false); });
  }
}

void SharedReads::placed(SharedChannel& st, std::uint64_t marker) {
  while (!st.said.empty() && st.said.front().marker <= marker) {
    SharedChannel::Said s = std::move(st.said.front());
    st.said.pop_front();
    auto* g = static_cast<Group*>(st.group);  // again each time: a witness read ran meanwhile
    if (!g || !st.leader) continue;
    if (s.refused == 0) {
      hand_witnessed(*g, s.nick, s.lines);
    } else if (s.refused < s.lines.size()) {  // some refused, which is unknown: the followers read them
      std::vector<std::uint64_t> hs;
      for (const auto& l : s.lines) hs.push_back(l.first);
      await_lines(*g, hs, true);
    }  // all refused: nobody sees them
  }
}

void SharedReads::refused(SharedChannel& st) {
  if (!st.said.empty()) ++st.said.front().refused;
}

bool SharedReads::said_overdue(SharedChannel& st, std::uint64_t unwritten) {
  auto* g = static_cast<Group*>(st.group);
  const bool witnessing = g && st.leader && !g->pending.empty();
  if (witnessing && ++g->pending_ticks > kWitnessTicks) settle(*g, true);
  bool due = false;
  for (auto& s : st.said) {
    if (unwritten != 0 && s.marker >= unwritten) break;  // still queued here: not written, not due
    if (++s.ticks > kPlaceTicks) due = true;
  }
  if (due) {  // no PONG (a server that does not answer, a link that hangs): the followers read them
    if (g && st.leader) await_lines(*g, hashes_of(st.said), true);
    st.said.clear();
  }
  return !st.said.empty() || (g && st.leader && !g->pending.empty());
}

SharedReader* SharedReads::leader_of(const SharedChannel& st) const {
  const auto* g = static_cast<const Group*>(st.group);
  return g && !g->members.empty() ? g->members.front().reader : nullptr;
}

}  // namespace parley::adapters::gateway

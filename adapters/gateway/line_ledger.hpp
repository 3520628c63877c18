#pragma once
// LineLedger: the lines a client wrote to an IRC server that are not known yet to have
// arrived, for a client without echo-message (the bridges' bots). A TCP path that dies takes
// with it what was written until the ping timeout closes the link, and a server killed takes
// what sat in its buffers: without this, such lines were lost. A marker PING goes after the
// lines (marker_ping.hpp); its PONG says the server took them. Those the lost link never
// confirmed are queued again for the next link: a line the server took whose PONG the dying
// link lost goes twice, a duplicate rather than a loss. A server that answers a PING without
// its token (and never returned a marker's) cannot confirm anything: its lines are not sent
// again, as nothing says they were lost.
//
// A bot kicked from its channel (or parted from it) loses the lines the server handles after
// the KICK: in a +n channel each is refused with 404 ERR_CANNOTSENDTOCHAN, in one that is
// gone (the bot was its last member) with 401 ERR_NOSUCHNICK, in order; and those are the
// last lines written before the bot saw the KICK (it writes nothing while out of the
// channel). The ledger keeps them from then on, whatever PONG confirms, counts the refusals,
// and puts that many of the last ones back in the queue once the bot is in the channel
// again. It keeps no more than max_lines: refusals past those are lost, and counted so.
//
// The gateway's puppets keep a richer form of the same (Puppet::unconfirmed_: reflections,
// private messages, shared reading); the wire form is shared. Pure bookkeeping.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace parley::adapters::gateway {

class LineLedger {
 public:
  using Clock = std::chrono::steady_clock;

  // At most max_lines are kept (the oldest go first: not sent again after a loss).
  explicit LineLedger(std::size_t max_lines) : max_lines_(max_lines == 0 ? 1 : max_lines) {}

  // `line` (one whole wire line) was written now, after every line written before.
  void written(std::string line, Clock::time_point now);
  // Written lines have no marker after them yet.
  bool marker_owed() const { return !entries_.empty() && entries_.back().marker == 0; }
  // The marker is due even though more lines wait to be written (marker_ping.hpp:
  // kMarkerLines, kMarkerAge).
  bool marker_starved(Clock::time_point now) const;
  // The marker PING to write now, after every line written so far.
  std::string take_marker();
  // A PONG's token: our marker's confirms the lines written before it; any other but the
  // keepalive's says this link does not return tokens.
  void on_pong(std::string_view token);
  // The link was lost: the lines it took with no marker's PONG after them go ahead of
  // `queue` (what waits to be written), in order, and the ledger starts again for the next
  // link. Returns how many; on a link that returned no token and never a marker's, none
  // (`tokenless` set). The queue keeps its bound `max_queue`: its newest lines go first
  // (`dropped` counts them).
  std::size_t requeue_lost(std::deque<std::string>& queue, std::size_t max_queue, bool& tokenless,
                           std::size_t& dropped);
  std::size_t size() const { return entries_.size(); }

  // The bot saw its own KICK or PART: what it wrote until now may be refused.
  void left_channel();
  // A line refused (404, or 401 for a channel that is gone). After left_channel, one of the
  // lines written before it (true: it is queued again by requeue_refused). Otherwise the bot
  // was in the channel (moderated, banned...): nothing says the line would be taken now
  // (false).
  bool refused();
  // In the channel again: the lines refused since left_channel go ahead of `queue`, in
  // order, and leave the ledger. `again`: how many of them the queue kept (its bound
  // max_queue: past it the newest lines go, counted in `dropped`); `lost`: refusals of lines
  // the ledger no longer held, or that the bound let go.
  struct Requeued {
    std::size_t again = 0;
    std::size_t lost = 0;
  };
  Requeued requeue_refused(std::deque<std::string>& queue, std::size_t max_queue, std::size_t& dropped);

 private:
  struct Entry {
    std::string line;
    Clock::time_point at;
    std::uint64_t marker = 0;  // the PING written after it (0: none yet)
  };
  std::deque<Entry> entries_;
  std::size_t max_lines_;
  std::uint64_t marker_ = 0;       // the last marker written
  bool markers_sent_ = false;      // this link was sent a marker PING
  bool markers_answered_ = false;  // this link returned a marker's PONG
  bool tokenless_pong_ = false;    // this link answered a marker PING without our token
  // Since left_channel: the lines the ledger held then, oldest first (entries_ is their tail,
  // as nothing is written out of the channel), and the 404s counted since.
  bool left_ = false;
  std::deque<std::string> left_lines_;
  std::size_t refused_since_left_ = 0;
  // The last n of left_lines_ go ahead of queue, which keeps max_queue; returns how many it
  // kept.
  std::size_t requeue_left(std::size_t n, std::deque<std::string>& queue, std::size_t max_queue,
                           std::size_t& dropped);
};

}  // namespace parley::adapters::gateway

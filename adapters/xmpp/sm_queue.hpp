#pragma once
// The server side of XEP-0198 stream management as plain values: the stanzas sent and not
// yet acknowledged (with the h counter the client acknowledges against) and the count of
// stanzas handled from the client. No locks, sockets or core: Link owns one behind its
// mutex once the client enables SM.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/message.hpp"

namespace parley::adapters::xmpp {

class SmQueue {
 public:
  enum class AckResult {
    ok,
    // XEP-0198 §4: an h beyond what was sent; the queue is unchanged. The spec's answer is
    // the stream error <undefined-condition/> with <handled-count-too-high/>.
    too_high,
  };

  // `base`: the h the count starts from; XEP-0198 §4 starts at 0 when SM is enabled (tests
  // start near 2^32 to see the wrap).
  explicit SmQueue(std::uint32_t base = 0) : acked_(base) {}

  // Appends one sent stanza. `message`: the core message it renders (redelivered if the
  // stream ends unacknowledged); `stored`: that message comes from offline storage and is
  // confirmed to the core when acked. Returns true when the server should ask for an ack
  // (<r/>) after it: now and then, not per stanza (the 1st, 9th, 17th... in the queue).
  bool push(std::string xml, core::MessagePtr message, bool stored);

  // The client has handled h stanzas in all (XEP-0198 §4: h counts modulo 2^32, so the
  // difference to the last h is taken in 32-bit arithmetic and wraps correctly). Drops the
  // newly acknowledged stanzas and appends the ids of the stored messages among them.
  AckResult ack(std::uint32_t h, std::vector<std::string>& stored_ids);

  // True once, when the queue has just outgrown max_count stanzas or max_bytes bytes (0: no
  // bound of that kind). XEP-0198 sets no bound; Link ends the session when this fires.
  bool over_bound(std::size_t max_count, std::size_t max_bytes);

  // The unacknowledged stanzas, in order (resumption replays them).
  std::vector<std::string> copy_xml() const;
  // The messages among the unacknowledged stanzas, and empties the queue (session end).
  // Offline messages are left out: they are still stored.
  std::vector<core::MessagePtr> take_messages();

  // XEP-0198 §4: stanzas handled from the client, counted from when SM was enabled.
  void count_inbound() { ++received_; }
  std::uint32_t received() const { return received_; }

  std::size_t size() const { return unacked_.size(); }
  std::size_t bytes() const { return bytes_; }
  std::uint32_t acked() const { return acked_; }  // the last h the client sent
  // Stanzas sent since SM was enabled (modulo 2^32, like h): XEP-0198 §4's send-count.
  std::uint32_t sent() const { return acked_ + static_cast<std::uint32_t>(unacked_.size()); }

 private:
  struct Entry {
    std::string xml;
    core::MessagePtr message;  // null: not a message worth redelivering
    bool stored = false;       // from offline storage: confirmed to the core when acked
  };
  // A vector, not a deque: libstdc++'s deque allocates ~600 bytes even when empty. Acks
  // come in batches, so erasing the front is cheap.
  std::vector<Entry> unacked_;
  std::uint32_t acked_ = 0, received_ = 0;
  std::size_t bytes_ = 0;    // sum of the unacked xml sizes
  bool overflowed_ = false;  // over_bound() has fired
};

// XEP-0198 §4: the application-specific condition of the <undefined-condition/> stream
// error that answers an h beyond what was sent: h as received, send-count as sent().
std::string handled_count_too_high(std::uint32_t h, std::uint32_t send_count);

}  // namespace parley::adapters::xmpp

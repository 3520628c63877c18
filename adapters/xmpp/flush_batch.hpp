#pragma once
// The core strand's deliveries to XMPP client connections, handed over once per turn.
//
// A room line to K local occupants made K posts from the core thread to the client
// connections' thread, each a possible wake-up of it (12-20 context switches per line with
// two threads, issue 11's bench). Here the flushes a core-strand turn asks for are gathered
// and handed over in one post, after the reads the same reactor round made ready (as
// IrcServer::flush_soon and the component flush do); on the connections' thread each is
// dispatched onto its connection's strand, which from a thread of the same io_context
// queues it without waking anyone.
//
// Core strand only (Link::deliver_parts checks and posts directly when called elsewhere).
#include <cstdint>
#include <memory>
#include <vector>

#include "adapters/common/runtime.hpp"

namespace parley::adapters::xmpp {

class Link;
class C2sConnection;

class FlushBatch {
 public:
  explicit FlushBatch(Runtime& rt) : rt_(rt) {}
  // Link::flush(conn, gen) on conn's strand, after this turn of the core strand.
  void add(std::shared_ptr<Link> link, std::shared_ptr<C2sConnection> conn, std::uint64_t gen);

 private:
  struct Item {
    std::shared_ptr<Link> link;
    std::shared_ptr<C2sConnection> conn;
    std::uint64_t gen = 0;
  };
  void hand_over();

  Runtime& rt_;
  std::vector<Item> items_;
  bool posted_ = false;
};

}  // namespace parley::adapters::xmpp

#include "adapters/xmpp/flush_batch.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "adapters/common/post_guarded.hpp"
#include "adapters/xmpp/c2s_connection.hpp"
#include "adapters/xmpp/link.hpp"

namespace parley::adapters::xmpp {

void FlushBatch::add(std::shared_ptr<Link> link, std::shared_ptr<C2sConnection> conn, std::uint64_t gen) {
  items_.push_back(Item{std::move(link), std::move(conn), gen});
  if (posted_) return;
  posted_ = true;
  // Behind the reads already made ready: one wake-up's worth of core work goes over in one
  // hand-off.
  post_after_ready(rt_.core_strand, "xmpp: flush batch", [this] { hand_over(); });
}

void FlushBatch::hand_over() {
  posted_ = false;
  if (items_.empty()) return;
  std::vector<Item> batch;
  batch.swap(items_);
  post_guarded(rt_.io.get_executor(), "xmpp: flush batch", [batch = std::move(batch)]() mutable {
    for (auto& it : batch) {
      auto ex = it.conn->executor();  // before the task takes the connection
      boost::asio::dispatch(ex, [link = std::move(it.link), conn = std::move(it.conn), gen = it.gen] {
        run_guarded("xmpp: flush", [&] { link->flush(conn, gen); });
      });
    }
  });
}

}  // namespace parley::adapters::xmpp

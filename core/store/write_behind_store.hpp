#pragma once
// A Store decorator that takes commits off the caller's thread (the core strand): mutating
// calls are queued and return at once; one writer thread applies them in order, all that
// queued up while the previous commit ran going into the next single transaction (group
// commit: Store::begin_batch / end_batch).
//
// - Order: writes are applied in the order they were made (one FIFO, one writer).
// - Read-your-writes: a read first waits until every write queued before it is committed,
//   then reads the inner store. It waits only when writes are pending (stats().read_waits
//   counts how often); a room-message burst never reads, an offline burst reads the quota
//   before each message and so runs at one commit per message, as before.
// - Back-pressure: at most `queue_limit` writes are not yet durable; a write beyond that
//   waits for the writer. Nothing is dropped.
// - Errors: a write that fails after its call returned is reported to `on_error` (on the
//   writer thread), counted in stats().errors, and returned by the next sync().
// - Durability: what the call returned for is durable only after the writer's commit, so
//   kill -9 loses the writes not yet committed: at most `queue_limit`, in practice the one
//   group-commit window in flight. sync() is the barrier; the destructor drains the queue.
// - Rosters are cached: roster(owner) is read from the inner store once and kept (at most
//   `roster_cache` owners) until a write that may change it - put/delete_roster_item drop
//   the owner's, put/delete_account (which may take or replace rows in many rosters) drop
//   them all - so a presence publish reads no SQLite (issue 12: one roster read per SIP
//   PUBLISH was ~10 % of parleyd's CPU at 10 watchers). Dropped at the call, not at the
//   commit: the next read waits for the write as any read does and sees what the inner
//   store then holds, so a write that fails later is never in the cache. A write by another
//   process (the offline `parleyd account` tool run while the daemon runs) is seen through
//   the inner store's data_version(), checked at every roster() (read at most once per
//   Options::version_reuse, 10 ms): any change drops them all.
//
// Calls come from one thread at a time (the core strand); the inner store is only touched
// under the decorator's lock, by the writer or by a read.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/store/store.hpp"

namespace parley::core {

class WriteBehindStore final : public Store {
 public:
  struct Options {
    std::size_t queue_limit = 4096;  // writes queued or in flight; more waits (at least 1)
    // A write that failed after its call returned: `what` names the call. Runs on the
    // writer thread with the store locked: it must not call the store.
    std::function<void(std::string_view what, const Error&)> on_error;
    std::size_t roster_cache = 1024;  // owners whose roster is kept in memory (0: none)
    // data_version() is read again only this long after its last read (0: at every call).
    // A SIP PUBLISH asked twice (the Directory's HA1 cache, then the roster cache), ~3 %
    // of its CPU each (a read transaction: locks on the WAL index); another process's
    // commit (the offline `parleyd account` tool) is then seen at most this long after it.
    std::chrono::microseconds version_reuse{10'000};
  };
  struct Stats {
    std::uint64_t writes = 0;       // mutating calls queued
    std::uint64_t commits = 0;      // group commits (batches) the writer ran
    std::uint64_t read_waits = 0;   // reads that had to wait for pending writes
    std::uint64_t full_waits = 0;   // writes that waited because the queue was full
    std::uint64_t errors = 0;       // writes that failed after their call returned
    std::uint64_t roster_hits = 0;  // roster() answered from the cache
  };

  // `inner` must outlive this object.
  WriteBehindStore(Store& inner, Options options);
  ~WriteBehindStore() override;  // drains: every queued write is committed first
  WriteBehindStore(const WriteBehindStore&) = delete;
  WriteBehindStore& operator=(const WriteBehindStore&) = delete;

  Stats stats() const;
  void set_commit_observer(CommitObserver observer) override;
  std::size_t pending_writes() const override;

  Status put_account(const AccountRecord& a) override;
  Result<std::optional<AccountRecord>> get_account(const std::string& user) override;
  Status delete_account(const std::string& user) override;
  Result<std::vector<std::string>> list_accounts() override;

  Status put_roster_item(const RosterItem& item) override;
  Status delete_roster_item(const Address& owner, const Address& contact) override;
  Result<std::vector<RosterItem>> roster(const Address& owner) override;

  using Store::push_offline;
  Status push_offline(const Address& user, const Message& m, const std::string& sender) override;
  Result<OfflineUsage> offline_usage(const Address& user, const std::string& sender) override;
  Result<std::vector<Message>> take_offline(const Address& user) override;
  Result<std::size_t> count_offline(const Address& user) override;
  Result<std::vector<StoredMessage>> peek_offline(const Address& user, std::int64_t after,
                                                  std::size_t limit) override;
  Status delete_offline(const Address& user, const std::vector<std::int64_t>& keys) override;

  Status put_room(const StoredRoom& r) override;
  Status delete_room(const std::string& name) override;
  Result<std::vector<StoredRoom>> rooms() override;
  Status append_history(const std::string& room, const Message& m, std::size_t keep) override;
  Result<std::vector<Message>> history(const std::string& room, std::size_t limit) override;
  Result<std::vector<StoredMessage>> history_page(const std::string& room, std::int64_t after,
                                                  std::int64_t before, std::size_t limit,
                                                  bool newest) override;
  Status put_gateway_setting(const GatewaySetting& g) override;
  Status delete_gateway_setting(const GatewaySetting& key) override;
  Result<std::vector<GatewaySetting>> gateway_settings(const std::string& gateway,
                                                       const std::string& owner) override;

  int schema_version() override;
  // The inner store's (no wait for queued writes: they are this connection's own), read
  // at most once per Options::version_reuse.
  Result<std::uint64_t> data_version() override;

  Status sync() override;
  // sync() waiting at most `bound`: false when writes were still queued or in a commit
  // then (a shutdown whose io threads are stuck commits what it can before it exits).
  bool sync_for(std::chrono::milliseconds bound);

 private:
  struct Op {
    std::string_view what;
    std::function<Status(Store&)> run;
  };

  Status enqueue(std::string_view what, std::function<Status(Store&)> run);
  void wait_for_writes();  // until every write queued so far is committed
  template <class F>
  auto read(F&& f);
  void writer();
  void commit(std::vector<Op>& batch);
  void report(std::string_view what, const Error& e, std::size_t lost = 1);  // inner_mu_ held

  Store& inner_;
  Options options_;

  std::mutex observer_mu_;  // held while the observer runs, so that resetting it waits
  CommitObserver observer_;
  mutable std::mutex mu_;            // the queue, the counters, stopping_
  std::condition_variable work_cv_;  // writer: something to do
  std::condition_variable done_cv_;  // callers: a commit finished
  std::deque<Op> queue_;
  std::uint64_t queued_ = 0;     // writes ever queued (a sequence number)
  std::uint64_t committed_ = 0;  // writes ever finished (committed or failed)
  bool stopping_ = false;
  Stats stats_;
  std::optional<Error> unsynced_error_;  // the first failure since the last sync()

  void forget_rosters();                     // every cached roster
  void forget_roster(const Address& owner);  // one owner's

  // The roster cache (owner's address -> roster): touched by callers only, never by the
  // writer; its own lock, as calls may come from more than one thread in turn.
  mutable std::mutex rosters_mu_;
  std::unordered_map<std::string, std::vector<RosterItem>> rosters_;
  std::uint64_t roster_hits_ = 0;     // under rosters_mu_
  std::uint64_t roster_gen_ = 0;      // under rosters_mu_: bumped by every forget; a read that
                                      // raced one is not cached
  std::uint64_t roster_version_ = 0;  // under rosters_mu_: inner_.data_version() of the cache

  std::mutex inner_mu_;                                 // the inner store: the writer's batch, or a read
  Result<std::uint64_t> version_locked();               // inner_mu_ held
  std::optional<std::uint64_t> version_;                // under inner_mu_: the last data_version read
  std::chrono::steady_clock::time_point version_at_{};  // under inner_mu_: when
  std::thread thread_;                                  // last: started once everything above exists
};

}  // namespace parley::core

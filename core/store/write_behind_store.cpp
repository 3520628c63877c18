#include "core/store/write_behind_store.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <utility>

namespace parley::core {

WriteBehindStore::WriteBehindStore(Store& inner, Options options)
    : inner_(inner), options_(std::move(options)) {
  options_.queue_limit = std::max<std::size_t>(1, options_.queue_limit);
  thread_ = std::thread([this] { writer(); });
}

WriteBehindStore::~WriteBehindStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  thread_.join();  // the writer leaves only with the queue empty
}

WriteBehindStore::Stats WriteBehindStore::stats() const {
  Stats out;
  {
    std::lock_guard lock(mu_);
    out = stats_;
  }
  std::lock_guard lock(rosters_mu_);
  out.roster_hits = roster_hits_;
  return out;
}

void WriteBehindStore::forget_rosters() {
  std::lock_guard lock(rosters_mu_);
  rosters_.clear();
  ++roster_gen_;
}

void WriteBehindStore::forget_roster(const Address& owner) {
  std::lock_guard lock(rosters_mu_);
  rosters_.erase(owner.to_string());
  ++roster_gen_;
}

void WriteBehindStore::set_commit_observer(CommitObserver observer) {
  std::lock_guard lock(observer_mu_);
  observer_ = std::move(observer);
}

std::size_t WriteBehindStore::pending_writes() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(queued_ - committed_);
}

Status WriteBehindStore::enqueue(std::string_view what, std::function<Status(Store&)> run) {
  std::unique_lock lock(mu_);
  if (queued_ - committed_ >= options_.queue_limit) {
    // Back-pressure: the caller waits for the disk rather than the queue growing.
    ++stats_.full_waits;
    done_cv_.wait(lock, [&] { return queued_ - committed_ < options_.queue_limit; });
  }
  const bool was_idle = queue_.empty();
  queue_.push_back(Op{what, std::move(run)});
  ++queued_;
  ++stats_.writes;
  lock.unlock();
  // The writer sleeps only on an empty queue; while it commits, the queue fills silently.
  if (was_idle) work_cv_.notify_one();
  return {};
}

void WriteBehindStore::wait_for_writes() {
  std::unique_lock lock(mu_);
  if (committed_ == queued_) return;
  ++stats_.read_waits;
  const std::uint64_t target = queued_;
  done_cv_.wait(lock, [&] { return committed_ >= target; });
}

template <class F>
auto WriteBehindStore::read(F&& f) {
  wait_for_writes();
  std::lock_guard lock(inner_mu_);
  return f(inner_);
}

Status WriteBehindStore::sync() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = queued_;
  done_cv_.wait(lock, [&] { return committed_ >= target; });
  if (!unsynced_error_) return {};
  Error e = std::move(*unsynced_error_);
  unsynced_error_.reset();
  return e;
}

bool WriteBehindStore::sync_for(std::chrono::milliseconds bound) {
  std::unique_lock lock(mu_);
  const std::uint64_t target = queued_;
  return done_cv_.wait_for(lock, bound, [&] { return committed_ >= target; });
}

void WriteBehindStore::writer() {
  std::vector<Op> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and everything is committed
      // Everything queued while the last commit ran goes into this one transaction.
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    const auto started = std::chrono::steady_clock::now();
    commit(batch);
    {
      std::lock_guard lock(observer_mu_);
      if (observer_) observer_(std::chrono::steady_clock::now() - started);
    }
    {
      std::lock_guard lock(mu_);
      committed_ += batch.size();
      ++stats_.commits;
    }
    batch.clear();
    done_cv_.notify_all();
  }
}

void WriteBehindStore::commit(std::vector<Op>& batch) {
  std::lock_guard lock(inner_mu_);
  // Without a batch (BEGIN failed) each call still commits on its own.
  const Status batched = inner_.begin_batch();
  std::size_t applied = 0;
  for (auto& op : batch) {
    if (auto st = op.run(inner_); !st)
      report(op.what, st.error());
    else
      ++applied;
  }
  if (!batched) return;
  // A failed commit loses every write the batch had applied.
  if (auto st = inner_.end_batch(); !st) report("commit", st.error(), applied);
}

void WriteBehindStore::report(std::string_view what, const Error& e, std::size_t lost) {
  {
    std::lock_guard lock(mu_);
    stats_.errors += lost;
    if (!unsynced_error_) unsynced_error_ = e;
  }
  if (options_.on_error) options_.on_error(what, e);
}

// Writes: copy the arguments into the queue; the writer applies them in order.

// Account writes drop every cached roster: deleting an account takes its roster and the
// entries of others that name it, and a replace may do the same in a store that implements
// it as delete + insert. Queued first, forgotten after: a roster read in between either
// waits for the queued write or sees the generation move and keeps nothing of what it read
// (forgotten first, a read between the two could cache the state before the write).
Status WriteBehindStore::put_account(const AccountRecord& a) {
  Status st = enqueue("put_account", [a](Store& s) { return s.put_account(a); });
  forget_rosters();
  return st;
}
Status WriteBehindStore::delete_account(const std::string& user) {
  Status st = enqueue("delete_account", [user](Store& s) { return s.delete_account(user); });
  forget_rosters();
  return st;
}
Status WriteBehindStore::put_roster_item(const RosterItem& item) {
  Status st = enqueue("put_roster_item", [item](Store& s) { return s.put_roster_item(item); });
  forget_roster(item.owner);
  return st;
}
Status WriteBehindStore::delete_roster_item(const Address& owner, const Address& contact) {
  Status st = enqueue("delete_roster_item",
                      [owner, contact](Store& s) { return s.delete_roster_item(owner, contact); });
  forget_roster(owner);
  return st;
}
Status WriteBehindStore::push_offline(const Address& user, const Message& m, const std::string& sender) {
  return enqueue("push_offline", [user, m, sender](Store& s) { return s.push_offline(user, m, sender); });
}
Status WriteBehindStore::delete_offline(const Address& user, const std::vector<std::int64_t>& keys) {
  if (keys.empty()) return {};  // nothing to queue (a flush that delivered to confirming sinks)
  return enqueue("delete_offline", [user, keys](Store& s) { return s.delete_offline(user, keys); });
}
Status WriteBehindStore::put_room(const StoredRoom& r) {
  return enqueue("put_room", [r](Store& s) { return s.put_room(r); });
}
Status WriteBehindStore::delete_room(const std::string& name) {
  return enqueue("delete_room", [name](Store& s) { return s.delete_room(name); });
}
Status WriteBehindStore::append_history(const std::string& room, const Message& m, std::size_t keep) {
  return enqueue("append_history", [room, m, keep](Store& s) { return s.append_history(room, m, keep); });
}

// take_offline reads and deletes: it is a write whose result the caller needs, so it waits
// like a read and runs on the caller's thread (rare: the pre-peek API, tests and tools).
Result<std::vector<Message>> WriteBehindStore::take_offline(const Address& user) {
  return read([&](Store& s) { return s.take_offline(user); });
}

// Reads: after the writes queued before them.

Result<std::optional<AccountRecord>> WriteBehindStore::get_account(const std::string& user) {
  return read([&](Store& s) { return s.get_account(user); });
}
Result<std::vector<std::string>> WriteBehindStore::list_accounts() {
  return read([&](Store& s) { return s.list_accounts(); });
}
Result<std::vector<RosterItem>> WriteBehindStore::roster(const Address& owner) {
  if (options_.roster_cache == 0) return read([&](Store& s) { return s.roster(owner); });
  // Another process's commit drops every cached roster (its data_version moved). The
  // check is one read transaction; the roster read it saves was ~10 % of a SIP PUBLISH.
  Result<std::uint64_t> version = std::uint64_t{0};
  {
    std::lock_guard lock(inner_mu_);
    version = version_locked();
  }
  if (!version) return read([&](Store& s) { return s.roster(owner); });  // cannot tell: no cache
  std::string key = owner.to_string();
  std::uint64_t gen = 0;
  {
    std::lock_guard lock(rosters_mu_);
    if (*version != roster_version_) {
      rosters_.clear();
      roster_version_ = *version;
      ++roster_gen_;
    }
    if (auto it = rosters_.find(key); it != rosters_.end()) {
      ++roster_hits_;
      return it->second;
    }
    gen = roster_gen_;
  }
  auto r = read([&](Store& s) { return s.roster(owner); });
  if (!r) return r;  // errors are not cached
  std::lock_guard lock(rosters_mu_);
  if (gen != roster_gen_) return r;  // a write came in meanwhile: maybe not in what was read
  // Bounded: a full cache makes room by dropping an arbitrary owner's roster.
  if (rosters_.size() >= options_.roster_cache && !rosters_.contains(key)) rosters_.erase(rosters_.begin());
  rosters_.insert_or_assign(std::move(key), *r);
  return r;
}
Result<OfflineUsage> WriteBehindStore::offline_usage(const Address& user, const std::string& sender) {
  return read([&](Store& s) { return s.offline_usage(user, sender); });
}
Result<std::size_t> WriteBehindStore::count_offline(const Address& user) {
  return read([&](Store& s) { return s.count_offline(user); });
}
Result<std::vector<StoredMessage>> WriteBehindStore::peek_offline(const Address& user, std::int64_t after,
                                                                  std::size_t limit) {
  return read([&](Store& s) { return s.peek_offline(user, after, limit); });
}
Result<std::vector<StoredRoom>> WriteBehindStore::rooms() {
  return read([&](Store& s) { return s.rooms(); });
}
Result<std::vector<Message>> WriteBehindStore::history(const std::string& room, std::size_t limit) {
  return read([&](Store& s) { return s.history(room, limit); });
}
Result<std::vector<StoredMessage>> WriteBehindStore::history_page(const std::string& room, std::int64_t after,
                                                                  std::int64_t before, std::size_t limit,
                                                                  bool newest) {
  return read([&](Store& s) { return s.history_page(room, after, before, limit, newest); });
}
Status WriteBehindStore::put_gateway_setting(const GatewaySetting& g) {
  return enqueue("put_gateway_setting", [g](Store& s) { return s.put_gateway_setting(g); });
}
Status WriteBehindStore::delete_gateway_setting(const GatewaySetting& k) {
  return enqueue("delete_gateway_setting", [k](Store& s) { return s.delete_gateway_setting(k); });
}
Result<std::vector<GatewaySetting>> WriteBehindStore::gateway_settings(const std::string& gateway,
                                                                       const std::string& owner) {
  return read([&](Store& s) { return s.gateway_settings(gateway, owner); });
}
int WriteBehindStore::schema_version() {
  return read([&](Store& s) { return s.schema_version(); });
}

Result<std::uint64_t> WriteBehindStore::data_version() {
  std::lock_guard lock(inner_mu_);
  return version_locked();
}

Result<std::uint64_t> WriteBehindStore::version_locked() {
  // PRAGMA data_version is a read transaction (locks on the WAL index); a change by
  // another process is seen at most version_reuse after its commit. Errors are not kept.
  const auto now = std::chrono::steady_clock::now();
  if (version_ && options_.version_reuse.count() > 0 && now - version_at_ < options_.version_reuse)
    return *version_;
  auto v = inner_.data_version();
  if (v) {
    version_ = *v;
    version_at_ = now;
  } else {
    version_.reset();
  }
  return v;
}

}  // namespace parley::core

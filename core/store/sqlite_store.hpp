#pragma once
// The embedded default store: one SQLite database file in WAL mode.
//
// Durability: synchronous=FULL and one transaction per mutating call, so a call returns only
// after its commit is in the WAL on disk; kill -9 (or power loss) loses nothing acknowledged.
// Between begin_batch() and end_batch() the calls share one transaction instead (group
// commit, used by WriteBehindStore's writer thread): durable when end_batch() returns.
// Schema: versioned in PRAGMA user_version and brought up to date on open by an ordered
// list of migrations (sqlite_store.cpp, kMigrations), each applied in its own transaction.
// A database written by a newer Parley (user_version above the last migration) is refused.
//
// Not thread-safe, like every Store: one thread at a time (the core strand, or the
// write-behind writer under its lock).
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/store/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace parley::core {

class SqliteStore : public Store {
 public:
  // One schema step: `sql` (any number of statements) takes the database from version - 1
  // to `version`. Versions are consecutive from 1.
  struct Migration {
    int version;
    std::string_view sql;
  };

  // The migrations this build knows; the last one's version is the current schema.
  static std::span<const Migration> migrations();

  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);
  // As open(), with an explicit migration list: for tests of the migration machinery.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                   std::span<const Migration> migrations);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status put_account(const AccountRecord& a) override;
  Result<std::optional<AccountRecord>> get_account(const std::string& user) override;
  Status delete_account(const std::string& user) override;
  Result<std::vector<std::string>> list_accounts() override;

  Status put_roster_item(const RosterItem& item) override;
  Status delete_roster_item(const Address& owner, const Address& contact) override;
  Result<std::vector<RosterItem>> roster(const Address& owner) override;

  // Offline queues are per bare address: a message to alice/phone waits for alice.
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
  Result<std::uint64_t> data_version() override;  // PRAGMA data_version

  Status begin_batch() override;
  Status end_batch() override;

 private:
  class Stmt;
  class Transaction;
  struct StmtDeleter {
    void operator()(sqlite3_stmt* s) const;
  };

  explicit SqliteStore(sqlite3* db) : db_(db) {}

  Status configure();
  Status migrate(std::span<const Migration> migrations);
  Status exec(const char* sql);
  // A cached prepared statement, reset and unbound when the returned Stmt goes away.
  // `sql` must be a string literal: the cache keys on the view, not a copy.
  Result<Stmt> prepare(std::string_view sql);
  Error sqlite_error(std::string_view what) const;

  sqlite3* db_;
  bool in_batch_ = false;  // between begin_batch and end_batch: calls are savepoints
  // Keyed by the SQL text: each call site's statement is compiled once per store.
  std::unordered_map<std::string_view, std::unique_ptr<sqlite3_stmt, StmtDeleter>> statements_;
};

}  // namespace parley::core

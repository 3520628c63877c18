#include "core/store/sqlite_store.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <utility>

#include "core/store/message_codec.hpp"

namespace parley::core {
namespace {

// ---- schema ----------------------------------------------------------------------------
//
// Every table is STRICT, so a wrongly typed bind is an error instead of a silent coercion.
// Addresses are stored in their textual form (Address::to_string), enums by name (the
// model's to_string), times as nanoseconds since the Unix epoch (exact for system_clock),
// whole messages as message_codec blobs. Lists (roster groups, bans, affiliations) are
// child rows with a position, so they come back in the order they were stored.
//
// To change the schema, append a migration; never edit one that has shipped.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE accounts (
  user              TEXT    NOT NULL PRIMARY KEY,
  sha1_salt         BLOB    NOT NULL,
  sha1_iterations   INTEGER NOT NULL,
  sha1_stored_key   BLOB    NOT NULL,
  sha1_server_key   BLOB    NOT NULL,
  sha256_salt       BLOB    NOT NULL,
  sha256_iterations INTEGER NOT NULL,
  sha256_stored_key BLOB    NOT NULL,
  sha256_server_key BLOB    NOT NULL,
  created_ns        INTEGER NOT NULL
) STRICT;

CREATE TABLE roster (
  owner    TEXT    NOT NULL,
  contact  TEXT    NOT NULL,
  name     TEXT    NOT NULL,
  sub_to   TEXT    NOT NULL CHECK (sub_to   IN ('none', 'pending', 'active', 'terminated')),
  sub_from TEXT    NOT NULL CHECK (sub_from IN ('none', 'pending', 'active', 'terminated')),
  approved INTEGER NOT NULL CHECK (approved IN (0, 1)),
  PRIMARY KEY (owner, contact)
) STRICT, WITHOUT ROWID;

CREATE TABLE roster_groups (
  owner    TEXT    NOT NULL,
  contact  TEXT    NOT NULL,
  position INTEGER NOT NULL,
  name     TEXT    NOT NULL,
  PRIMARY KEY (owner, contact, position),
  FOREIGN KEY (owner, contact) REFERENCES roster (owner, contact) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- AUTOINCREMENT: a sequence number is never reused, so arrival order survives deletes.
CREATE TABLE offline (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  user    TEXT    NOT NULL,
  message BLOB    NOT NULL
) STRICT;
CREATE INDEX offline_by_user ON offline (user, seq);

CREATE TABLE rooms (
  name                 TEXT    NOT NULL PRIMARY KEY,
  topic                TEXT    NOT NULL,
  topic_set_by         TEXT    NOT NULL,
  topic_set_at_ns      INTEGER NOT NULL,
  mode_invite_only     INTEGER NOT NULL,
  mode_moderated       INTEGER NOT NULL,
  mode_no_external     INTEGER NOT NULL,
  mode_secret          INTEGER NOT NULL,
  mode_topic_protected INTEGER NOT NULL,
  mode_key             TEXT    NOT NULL,
  mode_limit           INTEGER NOT NULL
) STRICT;

CREATE TABLE room_bans (
  room     TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  mask     TEXT    NOT NULL,
  PRIMARY KEY (room, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE room_affiliations (
  room        TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
  position    INTEGER NOT NULL,
  address     TEXT    NOT NULL,
  affiliation TEXT    NOT NULL
              CHECK (affiliation IN ('outcast', 'none', 'member', 'admin', 'owner')),
  PRIMARY KEY (room, position)
) STRICT, WITHOUT ROWID;

-- Not tied to rooms by a foreign key: the room service may keep history for a room before
-- (or without) making it persistent. delete_room removes it explicitly.
CREATE TABLE room_history (
  room    TEXT    NOT NULL,
  seq     INTEGER NOT NULL,
  message BLOB    NOT NULL,
  PRIMARY KEY (room, seq)
) STRICT;
)sql";

// v2: who filled each offline slot, for the per-sender share of the offline quota
// (core/services/offline_quota.hpp). Rows from v1 count against nobody ('').
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE offline ADD COLUMN sender TEXT NOT NULL DEFAULT '';
)sql";

// v3: SIP digest verifiers (AccountRecord::ha1_*). Accounts from v2 have none until their
// password is set again (`parleyd account passwd`, or a seed account at start).
constexpr std::string_view kSchemaV3 = R"sql(
ALTER TABLE accounts ADD COLUMN digest_realm TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN ha1_md5 TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN ha1_sha256 TEXT NOT NULL DEFAULT '';
)sql";

// IRC gateway settings per user (adapters/gateway/settings.hpp), set by XEP-0050 ad-hoc
// commands. IF NOT EXISTS: the step does not depend on its place in the list.
constexpr std::string_view kSchemaGatewaySettings = R"sql(
CREATE TABLE IF NOT EXISTS gateway_settings (
  gateway TEXT NOT NULL,
  owner   TEXT NOT NULL,
  scope   TEXT NOT NULL,
  name    TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY (gateway, owner, scope, name)
) STRICT, WITHOUT ROWID;
)sql";

constexpr std::array<SqliteStore::Migration, 4> kMigrations{{
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
    {4, kSchemaGatewaySettings},
}};

// SQLITE_BUSY after busy_timeout means another process holds the database for longer.
constexpr int kBusyTimeoutMs = 5000;

std::int64_t to_ns(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
Timestamp from_ns(std::int64_t ns) {
  return Timestamp(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

std::optional<SubscriptionState> subscription_from_string(std::string_view s) {
  for (auto v : {SubscriptionState::none, SubscriptionState::pending, SubscriptionState::active,
                 SubscriptionState::terminated})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

std::optional<Affiliation> affiliation_from_string(std::string_view s) {
  for (auto v :
       {Affiliation::outcast, Affiliation::none, Affiliation::member, Affiliation::admin, Affiliation::owner})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

Error corrupt_row(std::string what) {
  return make_error(Condition::internal_server_error, "store: corrupt row: " + what);
}

// size_t limits as SQLite integers, clamped rather than wrapped.
std::int64_t clamp_i64(std::size_t n) {
  return static_cast<std::int64_t>(std::min<std::size_t>(n, std::numeric_limits<std::int64_t>::max()));
}

}  // namespace

// ---- statements and transactions ---------------------------------------------------------

void SqliteStore::StmtDeleter::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }

// A borrowed cached statement. Binding errors are remembered and reported by the next step,
// so call sites can chain binds. On destruction the statement is reset for its next use.
class SqliteStore::Stmt {
 public:
  Stmt(SqliteStore& store, sqlite3_stmt* s) : store_(&store), s_(s) {}
  Stmt(Stmt&& o) noexcept : store_(o.store_), s_(std::exchange(o.s_, nullptr)), bind_rc_(o.bind_rc_) {}
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }

  Stmt& text(int i, std::string_view v) {
    return note(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Stmt& blob(int i, std::string_view v) {
    // A null pointer would bind NULL, not an empty blob.
    if (v.empty()) return note(sqlite3_bind_zeroblob(s_, i, 0));
    return note(sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT));
  }
  Stmt& int64(int i, std::int64_t v) { return note(sqlite3_bind_int64(s_, i, v)); }

  // true: a row is ready; false: the statement is done.
  Result<bool> step() {
    if (bind_rc_ != SQLITE_OK) return store_->sqlite_error("bind");
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return store_->sqlite_error(sqlite3_sql(s_));
  }
  // For statements that return no rows.
  Status run() {
    auto r = step();
    if (!r) return r.error();
    return {};
  }

  bool col_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::int64_t col_int64(int c) const { return sqlite3_column_int64(s_, c); }
  std::string col_text(int c) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, c))) : std::string();
  }
  std::string col_blob(int c) const {
    auto* p = static_cast<const char*>(sqlite3_column_blob(s_, c));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, c))) : std::string();
  }

 private:
  Stmt& note(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  SqliteStore* store_;
  sqlite3_stmt* s_;
  int bind_rc_ = SQLITE_OK;
};

// BEGIN on construction, ROLLBACK on destruction unless commit() succeeded. Writers take
// the write lock up front (IMMEDIATE) so they never fail half-way on a lock upgrade.
// Inside a batch (begin_batch) it is a SAVEPOINT of the batch's transaction instead: the
// call stays all-or-nothing, and only end_batch() makes it durable.
class SqliteStore::Transaction {
 public:
  static Result<Transaction> begin(SqliteStore& store, bool write) {
    auto s = store.prepare(store.in_batch_ ? "SAVEPOINT call" : write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
    if (!s) return s.error();
    if (auto r = s->run(); !r) return r.error();
    return Transaction(store);
  }
  Transaction(Transaction&& o) noexcept : store_(std::exchange(o.store_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction() {
    if (!store_) return;
    if (store_->in_batch_) {
      // Undo this call only; the batch's other calls stay.
      if (auto s = store_->prepare("ROLLBACK TO call"); s) (void)s->run();
      if (auto s = store_->prepare("RELEASE call"); s) (void)s->run();
      return;
    }
    // A failed COMMIT may leave the transaction open; autocommit tells us.
    if (!sqlite3_get_autocommit(store_->db_)) {
      if (auto s = store_->prepare("ROLLBACK"); s) (void)s->run();
    }
  }

  // Returns once the commit is durable (synchronous=FULL syncs the WAL on commit); in a
  // batch, once the savepoint is folded into the batch's transaction.
  Status commit() {
    auto s = store_->prepare(store_->in_batch_ ? "RELEASE call" : "COMMIT");
    if (!s) return s.error();
    if (auto r = s->run(); !r) return r.error();
    store_ = nullptr;
    return {};
  }

 private:
  explicit Transaction(SqliteStore& store) : store_(&store) {}
  SqliteStore* store_;
};

Status SqliteStore::begin_batch() {
  if (in_batch_) return make_error(Condition::internal_server_error, "store: batch already open");
  auto s = prepare("BEGIN IMMEDIATE");
  if (!s) return s.error();
  if (auto r = s->run(); !r) return r.error();
  in_batch_ = true;
  return {};
}

Status SqliteStore::end_batch() {
  if (!in_batch_) return {};
  in_batch_ = false;
  auto s = prepare("COMMIT");
  Status st = s ? s->run() : Status(s.error());
  // A failed COMMIT may leave the transaction open: roll it back, the batch is lost.
  if (!sqlite3_get_autocommit(db_))
    if (auto r = prepare("ROLLBACK"); r) (void)r->run();
  return st;
}

Result<SqliteStore::Stmt> SqliteStore::prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                &raw, nullptr);
    if (rc != SQLITE_OK) return sqlite_error("prepare");
    it = statements_.emplace(sql, std::unique_ptr<sqlite3_stmt, StmtDeleter>(raw)).first;
  } else if (sqlite3_stmt_busy(it->second.get())) {
    // Borrowing a statement that is mid-step would silently reset the outer use.
    return make_error(Condition::internal_server_error, "store: re-entrant use of: " + std::string(sql));
  }
  return Stmt(*this, it->second.get());
}

Error SqliteStore::sqlite_error(std::string_view what) const {
  int rc = sqlite3_errcode(db_);
  // A full disk or a lock held past busy_timeout is a capacity problem, not a bug.
  auto cond = (rc == SQLITE_FULL || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                  ? Condition::resource_constraint
                  : Condition::internal_server_error;
  return make_error(cond, "sqlite: " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

Status SqliteStore::exec(const char* sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
  if (rc == SQLITE_OK) return {};
  std::string text = msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  return make_error(Condition::internal_server_error, "sqlite: " + text);
}

// ---- open, configure, migrate ----------------------------------------------------------

std::span<const SqliteStore::Migration> SqliteStore::migrations() { return kMigrations; }

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  return open(path, migrations());
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       std::span<const Migration> migrations) {
  // The accounts table holds SCRAM keys, which allow an offline dictionary attack: a new
  // database is created readable by its owner only (SQLite's WAL and shm files copy the
  // database file's mode). An existing file keeps whatever mode the operator gave it.
  if (!path.empty() && path != ":memory:") {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);  // otherwise it exists already, or SQLite reports the error
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return make_error(Condition::internal_server_error, "store: cannot open " + path + ": " + msg);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  if (auto s = store->configure(); !s)
    return make_error(s.error().condition, "store: " + path + ": " + s.error().text);
  if (auto s = store->migrate(migrations); !s)
    return make_error(s.error().condition, "store: " + path + ": " + s.error().text);
  return store;
}

SqliteStore::~SqliteStore() {
  statements_.clear();  // every statement must be finalized before the close
  sqlite3_close(db_);
}

Status SqliteStore::configure() {
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  // journal_mode answers with the mode in effect: a read-only medium or an in-memory
  // database may refuse WAL, and then we would not have the durability we promise.
  {
    auto s = prepare("PRAGMA journal_mode = WAL");
    if (!s) return s.error();
    auto row = s->step();
    if (!row) return row.error();
    std::string mode = *row ? s->col_text(0) : std::string();
    if (mode != "wal" && mode != "memory")
      return make_error(Condition::internal_server_error,
                        "cannot enable WAL journal (mode is '" + mode + "')");
  }
  if (auto s = exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"); !s) return s;
  // A build without foreign key support accepts the pragma silently; check it took.
  auto s = prepare("PRAGMA foreign_keys");
  if (!s) return s.error();
  auto row = s->step();
  if (!row) return row.error();
  if (!*row || s->col_int64(0) != 1)
    return make_error(Condition::internal_server_error, "SQLite was built without foreign key support");
  return {};
}

Status SqliteStore::migrate(std::span<const Migration> migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1)
      return make_error(Condition::internal_server_error, "migrations are not numbered 1, 2, 3...");
  }
  const int latest = static_cast<int>(migrations.size());

  int current = schema_version();
  if (current < 0) return make_error(Condition::internal_server_error, "cannot read the schema version");
  if (current > latest) {
    return make_error(Condition::not_acceptable,
                      "database schema version " + std::to_string(current) +
                          " is newer than this Parley supports (" + std::to_string(latest) +
                          "); it was written by a newer release, refusing to open it");
  }
  for (const auto& m : migrations) {
    if (m.version <= current) continue;
    // Each step is atomic: a crash or a failing statement leaves the previous version.
    auto tx = Transaction::begin(*this, true);
    if (!tx) return tx.error();
    // Another process may have migrated while we waited for the write lock.
    int now = schema_version();
    if (now >= m.version) {
      current = now;
      continue;
    }
    std::string sql(m.sql);
    sql += "\nPRAGMA user_version = " + std::to_string(m.version) + ";";
    if (auto s = exec(sql.c_str()); !s)
      return make_error(s.error().condition, "migration to schema version " + std::to_string(m.version) +
                                                 " failed: " + s.error().text);
    if (auto s = tx->commit(); !s) return s;
    current = m.version;
  }
  return {};
}

int SqliteStore::schema_version() {
  auto s = prepare("PRAGMA user_version");
  if (!s) return -1;
  auto row = s->step();
  if (!row || !*row) return -1;
  return static_cast<int>(s->col_int64(0));
}

Result<std::uint64_t> SqliteStore::data_version() {
  // Changes only for commits by other connections (sqlite.org/pragma.html#pragma_data_version).
  auto s = prepare("PRAGMA data_version");
  if (!s) return s.error();
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return make_error(Condition::internal_server_error, "PRAGMA data_version returned nothing");
  return static_cast<std::uint64_t>(s->col_int64(0));
}

// ---- accounts --------------------------------------------------------------------------

Status SqliteStore::put_account(const AccountRecord& a) {
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  auto s = prepare(
      "INSERT OR REPLACE INTO accounts (user, sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,"
      " sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key, created_ns,"
      " digest_realm, ha1_md5, ha1_sha256)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  if (!s) return s.error();
  s->text(1, a.user)
      .blob(2, a.sha1.salt)
      .int64(3, a.sha1.iterations)
      .blob(4, a.sha1.stored_key)
      .blob(5, a.sha1.server_key)
      .blob(6, a.sha256.salt)
      .int64(7, a.sha256.iterations)
      .blob(8, a.sha256.stored_key)
      .blob(9, a.sha256.server_key)
      .int64(10, to_ns(a.created))
      .text(11, a.digest_realm)
      .text(12, a.ha1_md5)
      .text(13, a.ha1_sha256);
  if (auto r = s->run(); !r) return r;
  return tx->commit();
}

Result<std::optional<AccountRecord>> SqliteStore::get_account(const std::string& user) {
  auto s = prepare(
      "SELECT sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,"
      " sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key, created_ns,"
      " digest_realm, ha1_md5, ha1_sha256"
      " FROM accounts WHERE user = ?1");
  if (!s) return s.error();
  s->text(1, user);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return std::optional<AccountRecord>();
  auto iterations = [&](int c) -> std::optional<std::uint32_t> {
    auto v = s->col_int64(c);
    if (v < 0 || v > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
    return static_cast<std::uint32_t>(v);
  };
  auto it1 = iterations(1), it256 = iterations(5);
  if (!it1 || !it256) return corrupt_row("account " + user + ": iteration count out of range");
  AccountRecord a;
  a.user = user;
  a.sha1 = {s->col_blob(0), *it1, s->col_blob(2), s->col_blob(3)};
  a.sha256 = {s->col_blob(4), *it256, s->col_blob(6), s->col_blob(7)};
  a.created = from_ns(s->col_int64(8));
  a.digest_realm = s->col_text(9);
  a.ha1_md5 = s->col_text(10);
  a.ha1_sha256 = s->col_text(11);
  return std::optional<AccountRecord>(std::move(a));
}

Status SqliteStore::delete_account(const std::string& user) {
  // The account, its roster and offline queue, others' roster entries naming it and its
  // room affiliations go together or not at all.
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  const std::string bare = Address::user(user).to_string();
  {
    auto s = prepare("DELETE FROM accounts WHERE user = ?1");
    if (!s) return s.error();
    if (auto r = s->text(1, user).run(); !r) return r;
    // Same answer as MemoryStore for an unknown user; nothing is changed then.
    if (sqlite3_changes(db_) == 0) return make_error(Condition::item_not_found, "no such account");
  }
  {
    auto s = prepare("DELETE FROM roster WHERE owner = ?1");  // groups follow by cascade
    if (!s) return s.error();
    if (auto r = s->text(1, bare).run(); !r) return r;
  }
  for (const char* sql : {"DELETE FROM offline WHERE user = ?1",
                          "DELETE FROM roster WHERE contact = ?1",  // in others' rosters
                          "DELETE FROM room_affiliations WHERE address = ?1"}) {
    auto s = prepare(sql);
    if (!s) return s.error();
    if (auto r = s->text(1, bare).run(); !r) return r;
  }
  return tx->commit();
}

Result<std::vector<std::string>> SqliteStore::list_accounts() {
  auto s = prepare("SELECT user FROM accounts ORDER BY user");
  if (!s) return s.error();
  std::vector<std::string> users;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    users.push_back(s->col_text(0));
  }
  return users;
}

// ---- roster ----------------------------------------------------------------------------

Status SqliteStore::put_roster_item(const RosterItem& item) {
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  // Rosters are keyed by bare addresses (as in MemoryStore): a resource never names a contact.
  const std::string owner = item.owner.bare().to_string(), contact = item.contact.bare().to_string();
  {
    // An upsert, not INSERT OR REPLACE: REPLACE deletes the row first, and whether that
    // cascades to the groups depends on recursive_triggers. We rewrite the groups anyway.
    auto s = prepare(
        "INSERT INTO roster (owner, contact, name, sub_to, sub_from, approved) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6)"
        " ON CONFLICT (owner, contact) DO UPDATE SET name = excluded.name, sub_to = excluded.sub_to,"
        " sub_from = excluded.sub_from, approved = excluded.approved");
    if (!s) return s.error();
    s->text(1, owner)
        .text(2, contact)
        .text(3, item.name)
        .text(4, to_string(item.to))
        .text(5, to_string(item.from))
        .int64(6, item.approved ? 1 : 0);
    if (auto r = s->run(); !r) return r;
  }
  {
    auto s = prepare("DELETE FROM roster_groups WHERE owner = ?1 AND contact = ?2");
    if (!s) return s.error();
    if (auto r = s->text(1, owner).text(2, contact).run(); !r) return r;
  }
  for (std::size_t i = 0; i < item.groups.size(); ++i) {
    auto s = prepare("INSERT INTO roster_groups (owner, contact, position, name) VALUES (?1, ?2, ?3, ?4)");
    if (!s) return s.error();
    s->text(1, owner).text(2, contact).int64(3, static_cast<std::int64_t>(i)).text(4, item.groups[i]);
    if (auto r = s->run(); !r) return r;
  }
  return tx->commit();
}

Status SqliteStore::delete_roster_item(const Address& owner, const Address& contact) {
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  auto s = prepare("DELETE FROM roster WHERE owner = ?1 AND contact = ?2");
  if (!s) return s.error();
  if (auto r = s->text(1, owner.bare().to_string()).text(2, contact.bare().to_string()).run(); !r) return r;
  return tx->commit();
}

Result<std::vector<RosterItem>> SqliteStore::roster(const Address& owner) {
  // One query: each item's row repeats once per group (or once with NULL for none).
  auto s = prepare(
      "SELECT r.contact, r.name, r.sub_to, r.sub_from, r.approved, g.name"
      " FROM roster r LEFT JOIN roster_groups g ON g.owner = r.owner AND g.contact = r.contact"
      " WHERE r.owner = ?1 ORDER BY r.contact, g.position");
  if (!s) return s.error();
  s->text(1, owner.bare().to_string());
  std::vector<RosterItem> items;
  std::string last_contact;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    std::string contact_text = s->col_text(0);
    if (items.empty() || contact_text != last_contact) {
      auto contact = Address::parse(contact_text);
      auto to = subscription_from_string(s->col_text(2));
      auto from = subscription_from_string(s->col_text(3));
      if (!contact || !to || !from) return corrupt_row("roster item " + contact_text);
      RosterItem item;
      item.owner = owner.bare();
      item.contact = std::move(*contact);
      item.name = s->col_text(1);
      item.to = *to;
      item.from = *from;
      item.approved = s->col_int64(4) != 0;
      items.push_back(std::move(item));
      last_contact = std::move(contact_text);
    }
    if (!s->col_null(5)) items.back().groups.push_back(s->col_text(5));
  }
  return items;
}

// ---- offline messages ------------------------------------------------------------------

Status SqliteStore::push_offline(const Address& user, const Message& m, const std::string& sender) {
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  auto s = prepare("INSERT INTO offline (user, message, sender) VALUES (?1, ?2, ?3)");
  if (!s) return s.error();
  if (auto r = s->text(1, user.bare().to_string()).blob(2, encode_message(m)).text(3, sender).run(); !r)
    return r;
  return tx->commit();
}

Result<OfflineUsage> SqliteStore::offline_usage(const Address& user, const std::string& sender) {
  // One pass over the user's rows (offline_by_user); length() of a blob reads no content.
  auto s = prepare(
      "SELECT COUNT(*), COALESCE(SUM(length(message)), 0),"
      " COALESCE(SUM(sender = ?2), 0), COALESCE(SUM(CASE WHEN sender = ?2 THEN length(message) END), 0)"
      " FROM offline WHERE user = ?1");
  if (!s) return s.error();
  auto row = s->text(1, user.bare().to_string()).text(2, sender).step();
  if (!row) return row.error();
  OfflineUsage u;
  if (!*row) return u;
  u.messages = static_cast<std::size_t>(s->col_int64(0));
  u.bytes = static_cast<std::size_t>(s->col_int64(1));
  u.sender_messages = static_cast<std::size_t>(s->col_int64(2));
  u.sender_bytes = static_cast<std::size_t>(s->col_int64(3));
  return u;
}

Result<std::vector<Message>> SqliteStore::take_offline(const Address& user) {
  const std::string key = user.bare().to_string();
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  std::vector<Message> out;
  std::int64_t last_seq = -1;
  {
    auto s = prepare("SELECT seq, message FROM offline WHERE user = ?1 ORDER BY seq");
    if (!s) return s.error();
    s->text(1, key);
    for (;;) {
      auto row = s->step();
      if (!row) return row.error();
      if (!*row) break;
      last_seq = s->col_int64(0);
      auto m = decode_message(s->col_blob(1));
      // A row that no longer decodes cannot ever be delivered; keeping it would block the
      // queue forever, so it is dropped with the rest, loudly.
      if (!m) {
        spdlog::warn("store: dropping undecodable offline message {} for {}: {}", last_seq, key,
                     m.error().text);
        continue;
      }
      out.push_back(std::move(*m));
    }
  }
  if (last_seq < 0) return out;
  {
    auto s = prepare("DELETE FROM offline WHERE user = ?1 AND seq <= ?2");
    if (!s) return s.error();
    if (auto r = s->text(1, key).int64(2, last_seq).run(); !r) return r.error();
  }
  if (auto c = tx->commit(); !c) return c.error();
  return out;
}

Result<std::vector<StoredMessage>> SqliteStore::peek_offline(const Address& user, std::int64_t after,
                                                             std::size_t limit) {
  const std::string key = user.bare().to_string();
  std::vector<StoredMessage> out;
  std::vector<std::int64_t> undecodable;
  {
    auto s = prepare("SELECT seq, message FROM offline WHERE user = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
    if (!s) return s.error();
    s->text(1, key).int64(2, after).int64(3, clamp_i64(limit));
    for (;;) {
      auto row = s->step();
      if (!row) return row.error();
      if (!*row) break;
      const std::int64_t seq = s->col_int64(0);
      auto m = decode_message(s->col_blob(1));
      // As in take_offline: a row that no longer decodes can never be delivered.
      if (!m) {
        spdlog::warn("store: dropping undecodable offline message {} for {}: {}", seq, key, m.error().text);
        undecodable.push_back(seq);
        continue;
      }
      out.push_back(StoredMessage{seq, std::move(*m)});
    }
  }
  if (!undecodable.empty())
    if (auto st = delete_offline(user, undecodable); !st) return st.error();
  return out;
}

Status SqliteStore::delete_offline(const Address& user, const std::vector<std::int64_t>& keys) {
  if (keys.empty()) return {};
  const std::string key = user.bare().to_string();
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  for (std::int64_t seq : keys) {
    auto s = prepare("DELETE FROM offline WHERE user = ?1 AND seq = ?2");
    if (!s) return s.error();
    if (auto r = s->text(1, key).int64(2, seq).run(); !r) return r;
  }
  return tx->commit();
}

Result<std::size_t> SqliteStore::count_offline(const Address& user) {
  auto s = prepare("SELECT COUNT(*) FROM offline WHERE user = ?1");
  if (!s) return s.error();
  auto row = s->text(1, user.bare().to_string()).step();
  if (!row) return row.error();
  return static_cast<std::size_t>(*row ? s->col_int64(0) : 0);
}

// ---- rooms -----------------------------------------------------------------------------

Status SqliteStore::put_room(const StoredRoom& r) {
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  {
    auto s = prepare(
        "INSERT INTO rooms (name, topic, topic_set_by, topic_set_at_ns, mode_invite_only, mode_moderated,"
        " mode_no_external, mode_secret, mode_topic_protected, mode_key, mode_limit)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        " ON CONFLICT (name) DO UPDATE SET topic = excluded.topic, topic_set_by = excluded.topic_set_by,"
        " topic_set_at_ns = excluded.topic_set_at_ns, mode_invite_only = excluded.mode_invite_only,"
        " mode_moderated = excluded.mode_moderated, mode_no_external = excluded.mode_no_external,"
        " mode_secret = excluded.mode_secret, mode_topic_protected = excluded.mode_topic_protected,"
        " mode_key = excluded.mode_key, mode_limit = excluded.mode_limit");
    if (!s) return s.error();
    s->text(1, r.name)
        .text(2, r.topic.text)
        .text(3, r.topic.set_by)
        .int64(4, to_ns(r.topic.set_at))
        .int64(5, r.modes.invite_only)
        .int64(6, r.modes.moderated)
        .int64(7, r.modes.no_external)
        .int64(8, r.modes.secret)
        .int64(9, r.modes.topic_protected)
        .text(10, r.modes.key)
        .int64(11, r.modes.limit);
    if (auto st = s->run(); !st) return st;
  }
  for (auto* sql :
       {"DELETE FROM room_bans WHERE room = ?1", "DELETE FROM room_affiliations WHERE room = ?1"}) {
    auto s = prepare(sql);
    if (!s) return s.error();
    if (auto st = s->text(1, r.name).run(); !st) return st;
  }
  for (std::size_t i = 0; i < r.bans.size(); ++i) {
    auto s = prepare("INSERT INTO room_bans (room, position, mask) VALUES (?1, ?2, ?3)");
    if (!s) return s.error();
    if (auto st = s->text(1, r.name).int64(2, static_cast<std::int64_t>(i)).text(3, r.bans[i]).run(); !st)
      return st;
  }
  for (std::size_t i = 0; i < r.affiliations.size(); ++i) {
    auto s = prepare(
        "INSERT INTO room_affiliations (room, position, address, affiliation) VALUES (?1, ?2, ?3, ?4)");
    if (!s) return s.error();
    const auto& [who, aff] = r.affiliations[i];
    s->text(1, r.name)
        .int64(2, static_cast<std::int64_t>(i))
        .text(3, who.to_string())
        .text(4, to_string(aff));
    if (auto st = s->run(); !st) return st;
  }
  return tx->commit();
}

Status SqliteStore::delete_room(const std::string& name) {
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  // Bans and affiliations follow the room row by cascade; history is not keyed to it.
  for (auto* sql : {"DELETE FROM rooms WHERE name = ?1", "DELETE FROM room_history WHERE room = ?1"}) {
    auto s = prepare(sql);
    if (!s) return s.error();
    if (auto st = s->text(1, name).run(); !st) return st;
  }
  return tx->commit();
}

Result<std::vector<StoredRoom>> SqliteStore::rooms() {
  // A read transaction so the rooms and their lists are one consistent snapshot.
  auto tx = Transaction::begin(*this, false);
  if (!tx) return tx.error();
  std::vector<StoredRoom> out;
  {
    auto s = prepare(
        "SELECT name, topic, topic_set_by, topic_set_at_ns, mode_invite_only, mode_moderated, "
        "mode_no_external,"
        " mode_secret, mode_topic_protected, mode_key, mode_limit FROM rooms ORDER BY name");
    if (!s) return s.error();
    for (;;) {
      auto row = s->step();
      if (!row) return row.error();
      if (!*row) break;
      StoredRoom r;
      r.name = s->col_text(0);
      r.topic = {s->col_text(1), s->col_text(2), from_ns(s->col_int64(3))};
      r.modes.invite_only = s->col_int64(4) != 0;
      r.modes.moderated = s->col_int64(5) != 0;
      r.modes.no_external = s->col_int64(6) != 0;
      r.modes.secret = s->col_int64(7) != 0;
      r.modes.topic_protected = s->col_int64(8) != 0;
      r.modes.key = s->col_text(9);
      auto limit = s->col_int64(10);
      if (limit < 0 || limit > std::numeric_limits<std::uint32_t>::max())
        return corrupt_row("room " + r.name + ": limit out of range");
      r.modes.limit = static_cast<std::uint32_t>(limit);
      out.push_back(std::move(r));
    }
  }
  for (auto& r : out) {
    auto bans = prepare("SELECT mask FROM room_bans WHERE room = ?1 ORDER BY position");
    if (!bans) return bans.error();
    bans->text(1, r.name);
    for (;;) {
      auto row = bans->step();
      if (!row) return row.error();
      if (!*row) break;
      r.bans.push_back(bans->col_text(0));
    }
    auto affs =
        prepare("SELECT address, affiliation FROM room_affiliations WHERE room = ?1 ORDER BY position");
    if (!affs) return affs.error();
    affs->text(1, r.name);
    for (;;) {
      auto row = affs->step();
      if (!row) return row.error();
      if (!*row) break;
      auto who = Address::parse(affs->col_text(0));
      auto aff = affiliation_from_string(affs->col_text(1));
      if (!who || !aff) return corrupt_row("room " + r.name + ": affiliation " + affs->col_text(0));
      r.affiliations.emplace_back(std::move(*who), *aff);
    }
  }
  if (auto c = tx->commit(); !c) return c.error();
  return out;
}

Status SqliteStore::append_history(const std::string& room, const Message& m, std::size_t keep) {
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  std::int64_t seq = 0;
  {
    auto s = prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM room_history WHERE room = ?1");
    if (!s) return s.error();
    auto row = s->text(1, room).step();
    if (!row) return row.error();
    seq = *row ? s->col_int64(0) : 1;
  }
  {
    auto s = prepare("INSERT INTO room_history (room, seq, message) VALUES (?1, ?2, ?3)");
    if (!s) return s.error();
    if (auto st = s->text(1, room).int64(2, seq).blob(3, encode_message(m)).run(); !st) return st;
  }
  {
    // Keep the newest `keep` (seq > seq - keep); keep == 0 keeps nothing, not even this one.
    auto s = prepare("DELETE FROM room_history WHERE room = ?1 AND seq <= ?2");
    if (!s) return s.error();
    if (auto st = s->text(1, room).int64(2, seq - std::min(clamp_i64(keep), seq)).run(); !st) return st;
  }
  return tx->commit();
}

Result<std::vector<Message>> SqliteStore::history(const std::string& room, std::size_t limit) {
  auto s = prepare(
      "SELECT seq, message FROM (SELECT seq, message FROM room_history WHERE room = ?1 ORDER BY seq DESC "
      "LIMIT ?2)"
      " ORDER BY seq");
  if (!s) return s.error();
  s->text(1, room).int64(2, clamp_i64(limit));
  std::vector<Message> out;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    auto m = decode_message(s->col_blob(1));
    // History is a courtesy replay: one damaged entry should not hide the others.
    if (!m) {
      spdlog::warn("store: skipping undecodable history entry {} of {}: {}", s->col_int64(0), room,
                   m.error().text);
      continue;
    }
    out.push_back(std::move(*m));
  }
  return out;
}

Result<std::vector<StoredMessage>> SqliteStore::history_page(const std::string& room, std::int64_t after,
                                                             std::int64_t before, std::size_t limit,
                                                             bool newest) {
  // The primary key (room, seq) serves both directions; the newest are read descending and
  // turned around.
  const std::int64_t upper = before > 0 ? before : std::numeric_limits<std::int64_t>::max();
  auto s = prepare(newest ? "SELECT seq, message FROM room_history WHERE room = ?1 AND seq > ?2 AND seq < ?3 "
                            "ORDER BY seq DESC LIMIT ?4"
                          : "SELECT seq, message FROM room_history WHERE room = ?1 AND seq > ?2 AND seq < ?3 "
                            "ORDER BY seq LIMIT ?4");
  if (!s) return s.error();
  s->text(1, room).int64(2, after).int64(3, upper).int64(4, clamp_i64(limit));
  std::vector<StoredMessage> out;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    auto m = decode_message(s->col_blob(1));
    if (!m) {  // as history(): one damaged entry does not hide the others
      spdlog::warn("store: skipping undecodable history entry {} of {}: {}", s->col_int64(0), room,
                   m.error().text);
      continue;
    }
    out.push_back(StoredMessage{s->col_int64(0), std::move(*m)});
  }
  if (newest) std::reverse(out.begin(), out.end());
  return out;
}

Status SqliteStore::put_gateway_setting(const GatewaySetting& g) {
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  {
    auto s = prepare(
        "INSERT INTO gateway_settings (gateway, owner, scope, name, value) VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT (gateway, owner, scope, name) DO UPDATE SET value = excluded.value");
    if (!s) return s.error();
    if (auto st =
            s->text(1, g.gateway).text(2, g.owner).text(3, g.scope).text(4, g.name).text(5, g.value).run();
        !st)
      return st;
  }
  return tx->commit();
}

Status SqliteStore::delete_gateway_setting(const GatewaySetting& k) {
  auto tx = Transaction::begin(*this, true);
  if (!tx) return tx.error();
  {
    auto s = prepare(
        "DELETE FROM gateway_settings WHERE gateway = ?1 AND owner = ?2 AND scope = ?3 AND name = ?4");
    if (!s) return s.error();
    if (auto st = s->text(1, k.gateway).text(2, k.owner).text(3, k.scope).text(4, k.name).run(); !st)
      return st;
  }
  return tx->commit();
}

Result<std::vector<GatewaySetting>> SqliteStore::gateway_settings(const std::string& gateway,
                                                                  const std::string& owner) {
  auto s = prepare(
      "SELECT gateway, owner, scope, name, value FROM gateway_settings"
      " WHERE gateway = ?1 AND (?2 = '' OR owner = ?2) ORDER BY owner, scope, name");
  if (!s) return s.error();
  s->text(1, gateway).text(2, owner);
  std::vector<GatewaySetting> out;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({s->col_text(0), s->col_text(1), s->col_text(2), s->col_text(3), s->col_text(4)});
  }
  return out;
}

}  // namespace parley::core

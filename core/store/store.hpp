#pragma once
// The store interface: everything Parley keeps across restarts.
// Durability: a synchronous store (SqliteStore, MemoryStore) returns from a mutating call
// only after the data is durable. WriteBehindStore (write_behind_store.hpp) returns once the
// write is queued, in order, for its writer thread: a read still sees it at once, and
// sync() is the barrier after which everything written before is durable.
// Calls are made from the core strand; implementations need not be thread-safe (the
// write-behind decorator serialises its inner store itself).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/model/error.hpp"
#include "core/model/message.hpp"
#include "core/model/presence.hpp"
#include "core/model/room.hpp"

namespace parley::core {

// SCRAM (RFC 5802) credentials for one hash function: nothing here reveals the password.
struct ScramCredentials {
  std::string salt;  // raw bytes
  std::uint32_t iterations = 0;
  std::string stored_key;  // raw bytes: H(HMAC(SaltedPassword, "Client Key"))
  std::string server_key;  // raw bytes: HMAC(SaltedPassword, "Server Key")

  friend bool operator==(const ScramCredentials&, const ScramCredentials&) = default;
};

struct AccountRecord {
  std::string user;
  ScramCredentials sha1;
  ScramCredentials sha256;
  Timestamp created{};
  // SIP digest authentication (RFC 3261 §22.4, RFC 7616 §3.4.2) cannot use the SCRAM keys:
  // its verifier is HA1 = H(user ":" realm ":" password), lower-case hex, for MD5 and
  // SHA-256, computed for `digest_realm` when the password is set. Password-equivalent for
  // that realm only (documented in docs/ARCHITECTURE.md); empty when no realm was set then.
  std::string digest_realm;
  std::string ha1_md5;
  std::string ha1_sha256;

  friend bool operator==(const AccountRecord&, const AccountRecord&) = default;
};

// One roster entry of `owner`: the contact, its display name and groups, and the
// subscription states in both directions (RFC 6121 §2.1.2: none/to/from/both + pending).
struct RosterItem {
  Address owner;    // bare local user
  Address contact;  // bare user or foreign address
  std::string name;
  std::vector<std::string> groups;
  SubscriptionState to = SubscriptionState::none;    // owner watching contact
  SubscriptionState from = SubscriptionState::none;  // contact watching owner
  bool approved = false;                             // RFC 6121 §3.4 pre-approval

  friend bool operator==(const RosterItem&, const RosterItem&) = default;
};

struct StoredRoom {
  std::string name;
  Topic topic;
  RoomModes modes;
  std::vector<std::string> bans;
  std::vector<std::pair<Address, Affiliation>> affiliations;

  friend bool operator==(const StoredRoom&, const StoredRoom&) = default;
};

// How full one user's offline box is, and how much of it one sender filled (sizes are the
// stored, encoded sizes). For the quota (core/services/offline_quota.hpp).
struct OfflineUsage {
  std::size_t messages = 0, bytes = 0;                // the whole box
  std::size_t sender_messages = 0, sender_bytes = 0;  // the part one sender filled

  friend bool operator==(const OfflineUsage&, const OfflineUsage&) = default;
};

// An offline message as read back from storage, with the key that deletes it (keys grow in
// arrival order and are never reused).
struct StoredMessage {
  std::int64_t key = 0;
  Message message;

  friend bool operator==(const StoredMessage&, const StoredMessage&) = default;
};

// One per-user setting of the IRC gateway (adapters/gateway/settings.hpp): which gateway
// domain, whose (bare JID), where ("" for the user's defaults, a network name, or
// "network channel" for one channel), what and its value. Opaque text to the store.
struct GatewaySetting {
  std::string gateway, owner, scope, name, value;

  friend bool operator==(const GatewaySetting&, const GatewaySetting&) = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Accounts
  virtual Status put_account(const AccountRecord& a) = 0;  // insert or replace
  virtual Result<std::optional<AccountRecord>> get_account(const std::string& user) = 0;
  // Also the account's roster and offline queue, the roster entries of others that name
  // it, and its room affiliations: a new account of the same name inherits nothing.
  virtual Status delete_account(const std::string& user) = 0;
  virtual Result<std::vector<std::string>> list_accounts() = 0;

  // Rosters and subscriptions
  virtual Status put_roster_item(const RosterItem& item) = 0;  // insert or replace
  virtual Status delete_roster_item(const Address& owner, const Address& contact) = 0;
  virtual Result<std::vector<RosterItem>> roster(const Address& owner) = 0;

  // Offline messages, in arrival order. `sender` is the key the message counts against in
  // offline_usage (core: offline_sender_key); without it, the sender's bare address.
  Status push_offline(const Address& user, const Message& m) {
    return push_offline(user, m, m.from.bare().to_string());
  }
  virtual Status push_offline(const Address& user, const Message& m, const std::string& sender) = 0;
  virtual Result<OfflineUsage> offline_usage(const Address& user, const std::string& sender) = 0;
  virtual Result<std::vector<Message>> take_offline(const Address& user) = 0;  // and delete
  virtual Result<std::size_t> count_offline(const Address& user) = 0;
  // Reads without deleting: up to `limit` messages with a key above `after`, oldest first.
  // A message stays stored until delete_offline, so one that never reached the client is
  // there for the next login (Router::flush_offline).
  virtual Result<std::vector<StoredMessage>> peek_offline(const Address& user, std::int64_t after,
                                                          std::size_t limit) = 0;
  // Deletes the user's messages with these keys; unknown keys are ignored.
  virtual Status delete_offline(const Address& user, const std::vector<std::int64_t>& keys) = 0;

  // Persistent rooms and their history
  virtual Status put_room(const StoredRoom& r) = 0;
  virtual Status delete_room(const std::string& name) = 0;  // and its history
  virtual Result<std::vector<StoredRoom>> rooms() = 0;
  virtual Status append_history(const std::string& room, const Message& m, std::size_t keep) = 0;
  virtual Result<std::vector<Message>> history(const std::string& room, std::size_t limit) = 0;
  // The same history with its keys (append order, growing; the newest entry is never
  // deleted by append_history, so keys are not reused), for paging through it (XEP-0313 /
  // XEP-0059 over the IRC gateway's channel archive): up to `limit` entries with
  // after < key < before (before <= 0: no upper bound), the oldest of them, or with
  // `newest` the newest of them; returned oldest first either way. Stores without it
  // (test fakes) answer service_unavailable.
  virtual Result<std::vector<StoredMessage>> history_page(const std::string& room, std::int64_t after,
                                                          std::int64_t before, std::size_t limit,
                                                          bool newest) {
    (void)room, (void)after, (void)before, (void)limit, (void)newest;
    return make_error(Condition::service_unavailable, "store: no paged history");
  }

  // IRC gateway settings (XEP-0050 ad-hoc commands). Not pure: stores that keep none
  // (test fakes) refuse them. put replaces the row with the same (gateway, owner, scope,
  // name); an empty owner lists every owner's rows of that gateway (the rejoin at start).
  virtual Status put_gateway_setting(const GatewaySetting& s);
  virtual Status delete_gateway_setting(const GatewaySetting& key);  // value ignored
  virtual Result<std::vector<GatewaySetting>> gateway_settings(const std::string& gateway,
                                                               const std::string& owner);

  virtual int schema_version() = 0;

  // A number that changes when another connection (another process: the offline `parleyd
  // account` tool run while the daemon runs) committed to the store since this one last
  // looked; this connection's own writes leave it alone. For caches above the store
  // (WriteBehindStore's rosters, the Directory's SIP digest verifiers). A store nobody else
  // writes returns a constant.
  virtual Result<std::uint64_t> data_version() { return std::uint64_t{0}; }

  // Durability barrier: returns once every write made before it is durable, with the first
  // error of a write that failed after its call had returned (write-behind only). A
  // synchronous store has nothing to wait for.
  virtual Status sync() { return {}; }

  // Group commit: mutating calls between begin_batch() and end_batch() share one
  // transaction, each still all-or-nothing on its own (its Status says whether it
  // applied); end_batch() commits them together and returns once they are durable, or
  // returns the error that lost them all. Stores without transactions do nothing here.
  virtual Status begin_batch() { return {}; }
  virtual Status end_batch() { return {}; }

  // For metrics. A store that commits on its own thread (WriteBehindStore) calls the
  // observer there after each commit with how long it took, and counts the writes it has
  // not committed yet; both may be used from any thread. Stores that commit in the call
  // report nothing.
  using CommitObserver = std::function<void(std::chrono::nanoseconds took)>;
  virtual void set_commit_observer(CommitObserver observer) {}
  virtual std::size_t pending_writes() const { return 0; }
};

}  // namespace parley::core

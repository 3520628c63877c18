#pragma once
// An in-memory Store for tests and benchmarks: same contract as the durable stores, but
// "durable" means "until the object is destroyed". Share one instance between two Cores
// to simulate a restart.
#include <deque>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "core/store/store.hpp"

namespace parley::core {

class MemoryStore final : public Store {
 public:
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
  Status put_gateway_setting(const GatewaySetting& s) override;
  Status delete_gateway_setting(const GatewaySetting& key) override;
  Result<std::vector<GatewaySetting>> gateway_settings(const std::string& gateway,
                                                       const std::string& owner) override;

  int schema_version() override { return 1; }

 private:
  std::map<std::string, AccountRecord> accounts_;
  // owner -> contact -> item; std::map keeps roster order stable for tests.
  std::map<Address, std::map<Address, RosterItem>> rosters_;
  struct Offline {
    std::int64_t key;  // peek_offline / delete_offline
    Message message;
    std::string sender;  // offline_usage key
    std::size_t bytes;   // encoded size, as the durable store counts it
  };
  std::map<Address, std::vector<Offline>> offline_;
  std::int64_t next_offline_key_ = 1;
  std::map<std::string, StoredRoom> rooms_;
  std::map<std::string, std::deque<StoredMessage>> history_;  // keys as SqliteStore's seq
  // (gateway, owner, scope, name) -> the row
  std::map<std::tuple<std::string, std::string, std::string, std::string>, GatewaySetting> gateway_settings_;
};

}  // namespace parley::core

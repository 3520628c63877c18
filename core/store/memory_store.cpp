#include "core/store/memory_store.hpp"

#include <algorithm>

#include "core/store/message_codec.hpp"

namespace parley::core {

Status MemoryStore::put_account(const AccountRecord& a) {
  accounts_[a.user] = a;
  return {};
}

Result<std::optional<AccountRecord>> MemoryStore::get_account(const std::string& user) {
  auto it = accounts_.find(user);
  if (it == accounts_.end()) return std::optional<AccountRecord>{};
  return std::optional<AccountRecord>{it->second};
}

Status MemoryStore::delete_account(const std::string& user) {
  if (accounts_.erase(user) == 0) return make_error(Condition::item_not_found, "no such account");
  const Address bare = Address::user(user);
  rosters_.erase(bare);
  offline_.erase(bare);
  for (auto& [owner, items] : rosters_) items.erase(bare);
  for (auto& [name, room] : rooms_)
    std::erase_if(room.affiliations, [&](const auto& a) { return a.first == bare; });
  return {};
}

Result<std::vector<std::string>> MemoryStore::list_accounts() {
  std::vector<std::string> out;
  out.reserve(accounts_.size());
  for (const auto& [name, rec] : accounts_) out.push_back(name);
  return out;
}

Status MemoryStore::put_roster_item(const RosterItem& item) {
  rosters_[item.owner.bare()][item.contact.bare()] = item;
  return {};
}

Status MemoryStore::delete_roster_item(const Address& owner, const Address& contact) {
  auto it = rosters_.find(owner.bare());
  if (it != rosters_.end()) it->second.erase(contact.bare());
  return {};
}

Result<std::vector<RosterItem>> MemoryStore::roster(const Address& owner) {
  std::vector<RosterItem> out;
  auto it = rosters_.find(owner.bare());
  if (it == rosters_.end()) return out;
  out.reserve(it->second.size());
  for (const auto& [contact, item] : it->second) out.push_back(item);
  return out;
}

Status MemoryStore::push_offline(const Address& user, const Message& m, const std::string& sender) {
  offline_[user.bare()].push_back(Offline{next_offline_key_++, m, sender, encode_message(m).size()});
  return {};
}

Result<std::vector<Message>> MemoryStore::take_offline(const Address& user) {
  std::vector<Message> out;
  auto node = offline_.extract(user.bare());
  if (node.empty()) return out;
  out.reserve(node.mapped().size());
  for (auto& o : node.mapped()) out.push_back(std::move(o.message));
  return out;
}

Result<std::vector<StoredMessage>> MemoryStore::peek_offline(const Address& user, std::int64_t after,
                                                             std::size_t limit) {
  std::vector<StoredMessage> out;
  auto it = offline_.find(user.bare());
  if (it == offline_.end()) return out;
  for (const auto& o : it->second) {
    if (out.size() >= limit) break;
    if (o.key > after) out.push_back(StoredMessage{o.key, o.message});
  }
  return out;
}

Status MemoryStore::delete_offline(const Address& user, const std::vector<std::int64_t>& keys) {
  auto it = offline_.find(user.bare());
  if (it == offline_.end()) return {};
  std::erase_if(it->second,
                [&](const Offline& o) { return std::find(keys.begin(), keys.end(), o.key) != keys.end(); });
  if (it->second.empty()) offline_.erase(it);
  return {};
}

Result<std::size_t> MemoryStore::count_offline(const Address& user) {
  auto it = offline_.find(user.bare());
  return it == offline_.end() ? std::size_t{0} : it->second.size();
}

Result<OfflineUsage> MemoryStore::offline_usage(const Address& user, const std::string& sender) {
  OfflineUsage u;
  auto it = offline_.find(user.bare());
  if (it == offline_.end()) return u;
  for (const auto& o : it->second) {
    ++u.messages;
    u.bytes += o.bytes;
    if (o.sender == sender) ++u.sender_messages, u.sender_bytes += o.bytes;
  }
  return u;
}

Status MemoryStore::put_room(const StoredRoom& r) {
  rooms_[r.name] = r;
  return {};
}

Status MemoryStore::delete_room(const std::string& name) {
  rooms_.erase(name);
  history_.erase(name);
  return {};
}

Result<std::vector<StoredRoom>> MemoryStore::rooms() {
  std::vector<StoredRoom> out;
  for (const auto& [name, r] : rooms_) out.push_back(r);
  return out;
}

Status MemoryStore::append_history(const std::string& room, const Message& m, std::size_t keep) {
  auto& h = history_[room];
  const std::int64_t key = h.empty() ? 1 : h.back().key + 1;
  h.push_back(StoredMessage{key, m});
  while (h.size() > keep) h.pop_front();
  return {};
}

Result<std::vector<Message>> MemoryStore::history(const std::string& room, std::size_t limit) {
  std::vector<Message> out;
  auto it = history_.find(room);
  if (it == history_.end()) return out;
  const auto& h = it->second;
  std::size_t skip = h.size() > limit ? h.size() - limit : 0;
  for (auto e = h.begin() + static_cast<std::ptrdiff_t>(skip); e != h.end(); ++e) out.push_back(e->message);
  return out;
}

Result<std::vector<StoredMessage>> MemoryStore::history_page(const std::string& room, std::int64_t after,
                                                             std::int64_t before, std::size_t limit,
                                                             bool newest) {
  std::vector<StoredMessage> out;
  auto it = history_.find(room);
  if (it == history_.end() || limit == 0) return out;
  for (const auto& e : it->second) {
    if (e.key <= after || (before > 0 && e.key >= before)) continue;
    out.push_back(e);
    if (!newest && out.size() == limit) break;
  }
  if (newest && out.size() > limit) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(limit));
  return out;
}

Status MemoryStore::put_gateway_setting(const GatewaySetting& g) {
  gateway_settings_[{g.gateway, g.owner, g.scope, g.name}] = g;
  return {};
}

Status MemoryStore::delete_gateway_setting(const GatewaySetting& k) {
  gateway_settings_.erase({k.gateway, k.owner, k.scope, k.name});
  return {};
}

Result<std::vector<GatewaySetting>> MemoryStore::gateway_settings(const std::string& gateway,
                                                                  const std::string& owner) {
  std::vector<GatewaySetting> out;
  for (const auto& [k, g] : gateway_settings_)
    if (g.gateway == gateway && (owner.empty() || g.owner == owner)) out.push_back(g);
  return out;
}

}  // namespace parley::core

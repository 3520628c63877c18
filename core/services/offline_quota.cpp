#include "core/services/offline_quota.hpp"

#include <algorithm>

namespace parley::core {

namespace {
// share percent of total, at least one unit so a small box still admits every sender.
std::size_t share_of(std::size_t total, std::uint32_t percent) {
  if (percent >= 100) return total;
  return std::max<std::size_t>(1, total / 100 * percent + total % 100 * percent / 100);
}
}  // namespace

Status check_offline_quota(const OfflineLimits& limits, const OfflineUsage& usage,
                           std::size_t message_bytes) {
  const std::size_t share_messages = share_of(limits.messages, limits.sender_share);
  const std::size_t share_bytes = share_of(limits.bytes, limits.sender_share);
  // Full box: service-unavailable, as RFC 6121 §8.5.2.2.1 answers when a message to an
  // offline user cannot be stored; the sender's own share: resource-constraint.
  if (limits.messages == 0 || limits.bytes == 0)
    return make_error(Condition::service_unavailable, "offline storage is off");
  if (limits.sender_share < 100 &&
      (usage.sender_messages + 1 > share_messages || usage.sender_bytes + message_bytes > share_bytes))
    return make_error(
        Condition::resource_constraint,
        "offline storage: your share of the recipient's box is full; try again when they are back");
  if (usage.messages + 1 > limits.messages || usage.bytes + message_bytes > limits.bytes)
    return make_error(Condition::service_unavailable, "offline storage full");
  return {};
}

std::string offline_sender_key(const Message& m, bool guest, const std::string& guest_host) {
  if (guest && !guest_host.empty()) return "guest@" + guest_host;
  return m.from.bare().to_string();
}

}  // namespace parley::core

#pragma once
// Bounds on one user's offline box (messages stored while every session is away): a count,
// a size in bytes, and a share that any one sender may fill. The share is what keeps the
// box useful under abuse: a sender who floods (an IRC guest, a script with an account)
// fills its own share and is refused from then on, while everyone else's messages still
// get in (the box as a whole is full only when several senders filled it).
// Protocol-neutral and pure: the router asks the store for the usage and this for the verdict.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/model/error.hpp"
#include "core/model/message.hpp"
#include "core/store/store.hpp"

namespace parley::core {

struct OfflineLimits {
  std::size_t messages = 1000;      // 0: nothing is stored
  std::size_t bytes = 1024 * 1024;  // 0: nothing is stored
  std::uint32_t sender_share = 25;  // percent of messages and of bytes one sender may use; 100: no share
};

// ok: the message fits. Else the bound it hit: the sender's share (resource_constraint,
// checked first: that sender is told, others are unaffected) or the whole box
// (service_unavailable).
// `message_bytes` is the size the store will account for the message.
Status check_offline_quota(const OfflineLimits& limits, const OfflineUsage& usage, std::size_t message_bytes);

// Who a stored message counts against. Senders with an account are themselves; guests
// (no account: a new nick is a new user) count per network address, so that reconnecting
// under a fresh nick does not buy a fresh share. `guest_host` is empty for an account.
std::string offline_sender_key(const Message& m, bool guest, const std::string& guest_host);

}  // namespace parley::core

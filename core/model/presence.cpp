#include "core/model/presence.hpp"

#include <tuple>

namespace parley::core {

std::string_view to_string(Availability a) {
  switch (a) {
    case Availability::xa: return "xa";
    case Availability::away: return "away";
    case Availability::dnd: return "dnd";
    case Availability::available: return "available";
    case Availability::chat: return "chat";
  }
  return "available";
}

std::optional<Availability> availability_from_string(std::string_view s) {
  if (s == "xa") return Availability::xa;
  if (s == "away") return Availability::away;
  if (s == "dnd") return Availability::dnd;
  if (s == "available") return Availability::available;
  if (s == "chat") return Availability::chat;
  return std::nullopt;
}

std::string_view to_string(SubscriptionState s) {
  switch (s) {
    case SubscriptionState::none: return "none";
    case SubscriptionState::pending: return "pending";
    case SubscriptionState::active: return "active";
    case SubscriptionState::terminated: return "terminated";
  }
  return "none";
}

Tuple Presentity::aggregate() const {
  const Tuple* best = nullptr;
  for (const auto& t : tuples) {
    if (t.basic != Basic::open) continue;
    if (!best || std::tie(t.priority, t.availability, t.updated) >
                     std::tie(best->priority, best->availability, best->updated))
      best = &t;
  }
  if (!best) {
    Tuple closed;
    closed.basic = Basic::closed;
    return closed;
  }
  return *best;
}

}  // namespace parley::core

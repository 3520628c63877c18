#include "core/services/session_sink.hpp"

namespace parley::core {

std::string_view to_string(SubscriptionAction a) {
  switch (a) {
    case SubscriptionAction::subscribe: return "subscribe";
    case SubscriptionAction::subscribed: return "subscribed";
    case SubscriptionAction::unsubscribe: return "unsubscribe";
    case SubscriptionAction::unsubscribed: return "unsubscribed";
  }
  return "subscribe";
}

}  // namespace parley::core

#include "core/metrics/metrics.hpp"

namespace parley::core {

std::string_view to_string(Rejection r) {
  switch (r) {
    case Rejection::too_long:
      return "too_long";
    case Rejection::rate_limited:
      return "rate_limited";
    case Rejection::refused_connection:
      return "refused_connection";
    case Rejection::malformed:
      return "malformed";
    case Rejection::slow_reader:
      return "slow_reader";
  }
  return "malformed";
}

namespace {

constexpr const char* kSessions = "parley_sessions";
constexpr const char* kConnections = "parley_connections";
constexpr const char* kRouted = "parley_messages_routed_total";
constexpr const char* kAuthFailures = "parley_auth_failures_total";
constexpr const char* kRejected = "parley_rejected_inputs_total";

}  // namespace

Metrics::Metrics() {
  const char* paths[kDeliveryPaths] = {"live", "offline_stored", "offline_sent"};
  for (std::size_t i = 0; i < kDeliveryPaths; ++i)
    deliveries_[i] = &registry_.counter("parley_deliveries_total",
                                        "Message copies handed on: live to a connected session, stored for "
                                        "an offline user, sent from storage",
                                        {{"path", paths[i]}});
  // Group commits of the SQLite store: from 100 us to 10 s (synchronous=FULL waits for the disk).
  store_commit_ = &registry_.histogram(
      "parley_store_commit_seconds", "Time one store commit (one transaction) took",
      {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10});
}

void Metrics::name_protocol(Protocol p, std::string_view name) {
  const std::size_t i = index(p);
  std::lock_guard lock(names_mu_);
  names_[i] = std::string(name);
  const MetricLabels self{{"protocol", names_[i]}};
  sessions_[i].store(
      &registry_.gauge(kSessions, "Sessions (logged-in users' connections) by protocol", self));
  connections_[i].store(&registry_.gauge(kConnections, "Open client connections by protocol", self));
  auth_failures_[i].store(&registry_.counter(kAuthFailures, "Failed logins by protocol", self));
  for (std::size_t r = 0; r < kRejections; ++r)
    rejected_[i][r].store(&registry_.counter(
        kRejected, "Inputs refused, by protocol and reason",
        {{"protocol", names_[i]}, {"reason", std::string(to_string(static_cast<Rejection>(r)))}}));
  for (std::size_t j = 0; j < kProtocols; ++j) {
    if (names_[j].empty()) continue;
    const char* help = "Message copies routed to a session, by the sender's and the recipient's protocol";
    routed_[i][j].store(&registry_.counter(kRouted, help, {{"from", names_[i]}, {"to", names_[j]}}));
    routed_[j][i].store(&registry_.counter(kRouted, help, {{"from", names_[j]}, {"to", names_[i]}}));
  }
}

std::string Metrics::protocol_name(Protocol p) const {
  std::lock_guard lock(names_mu_);
  const std::string& n = names_[index(p)];
  return n.empty() ? std::string(to_string(p)) : n;
}

}  // namespace parley::core

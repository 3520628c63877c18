#pragma once
// Keeps one outbound link up: connect (connector.hpp), hand the stream over, and when the
// owner reports it lost, connect again after a Backoff delay (backoff.hpp). Every failed
// attempt waits; nothing retries in a tight loop. stop() ends it cleanly on shutdown.
//
//   auto r = Reconnector::make(strand, "irc.libera.chat", 6697, opts, policy, {
//       .on_connected = [&](ConnectedStream s) { link = make_link(std::move(s)); },
//       .on_failed = [&](const ConnectError& e, std::optional<ms> retry) { log(e.reason); }});
//   r->start();
//   ... link closed:  r->connection_lost();      ... shutdown:  r->stop();
//
// Everything runs on `strand`: call start/connection_lost/stop there; callbacks run there and
// never after stop() returned.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "protocols/common/backoff.hpp"
#include "protocols/common/connector.hpp"

namespace parley::protocols {

class Reconnector : public std::enable_shared_from_this<Reconnector> {
 public:
  struct Callbacks {
    std::function<void(ConnectedStream)> on_connected;
    // An attempt failed; retry_in is the delay before the next one, nullopt when
    // policy.max_failures ran out (the Reconnector is then stopped).
    std::function<void(const ConnectError&, std::optional<std::chrono::milliseconds> retry_in)> on_failed;
  };
  enum class State : std::uint8_t { idle, connecting, connected, waiting, stopped };

  static std::shared_ptr<Reconnector> make(const Strand& strand, std::string host, std::uint16_t port,
                                           ConnectOptions options, BackoffPolicy policy, Callbacks callbacks,
                                           std::uint64_t seed = std::random_device{}());

  void start();            // the first attempt, at once
  void connection_lost();  // the handed-over connection ended: reconnect after a delay
  void stop();             // cancels the attempt or the wait; final
  State state() const { return state_; }
  const Backoff& backoff() const { return backoff_; }

  Reconnector(const Strand& strand, std::string host, std::uint16_t port, ConnectOptions options,
              BackoffPolicy policy, Callbacks callbacks, std::uint64_t seed);

 private:
  void attempt();
  void on_result(ConnectResult r);
  void wait(std::chrono::milliseconds delay);

  Strand strand_;
  std::string host_;
  std::uint16_t port_;
  ConnectOptions options_;
  std::shared_ptr<asio::ssl::context> tls_ctx_;  // made once, shared by every attempt
  Callbacks cb_;
  Backoff backoff_;
  StrandTimer timer_;
  std::shared_ptr<Connect> pending_;
  std::chrono::steady_clock::time_point connected_at_{};
  State state_ = State::idle;
};

}  // namespace parley::protocols

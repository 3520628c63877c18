#include "protocols/common/reconnector.hpp"

namespace parley::protocols {

std::shared_ptr<Reconnector> Reconnector::make(const Strand& strand, std::string host, std::uint16_t port,
                                               ConnectOptions options, BackoffPolicy policy,
                                               Callbacks callbacks, std::uint64_t seed) {
  return std::make_shared<Reconnector>(strand, std::move(host), port, std::move(options), policy,
                                       std::move(callbacks), seed);
}

Reconnector::Reconnector(const Strand& strand, std::string host, std::uint16_t port, ConnectOptions options,
                         BackoffPolicy policy, Callbacks callbacks, std::uint64_t seed)
    : strand_(strand),
      host_(std::move(host)),
      port_(port),
      options_(std::move(options)),
      cb_(std::move(callbacks)),
      backoff_(policy, seed),
      timer_(strand) {}

void Reconnector::start() {
  if (state_ != State::idle) return;
  if (options_.tls) {
    std::string why;
    tls_ctx_ = make_client_tls(options_, &why);
    // A CA file that cannot be read is reported by the attempt (Kind::invalid), as a failure.
  }
  attempt();
}

void Reconnector::attempt() {
  state_ = State::connecting;
  std::weak_ptr<Reconnector> weak = shared_from_this();
  pending_ = connect(
      strand_, host_, port_, options_,
      [weak](ConnectResult r) {
        if (auto self = weak.lock()) self->on_result(std::move(r));
      },
      tls_ctx_);
}

void Reconnector::on_result(ConnectResult r) {
  pending_.reset();
  if (state_ != State::connecting) return;  // stopped meanwhile
  if (r.ok()) {
    state_ = State::connected;
    connected_at_ = std::chrono::steady_clock::now();
    if (cb_.on_connected) cb_.on_connected(std::move(*r.stream));
    return;
  }
  if (backoff_.policy().max_failures != 0 && backoff_.failures() + 1 >= backoff_.policy().max_failures) {
    state_ = State::stopped;
    if (cb_.on_failed) cb_.on_failed(r.error, std::nullopt);
    return;
  }
  const auto delay = backoff_.next();
  if (cb_.on_failed) cb_.on_failed(r.error, delay);
  if (state_ == State::connecting) wait(delay);  // on_failed may have stopped us
}

void Reconnector::connection_lost() {
  if (state_ != State::connected) return;
  backoff_.connection_ended(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - connected_at_));
  wait(backoff_.next());
}

void Reconnector::wait(std::chrono::milliseconds delay) {
  state_ = State::waiting;
  timer_.expires_after(delay);
  std::weak_ptr<Reconnector> weak = shared_from_this();
  timer_.async_wait([weak](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!self || ec || self->state_ != State::waiting) return;
    self->attempt();
  });
}

void Reconnector::stop() {
  state_ = State::stopped;
  timer_.cancel();
  if (auto p = std::move(pending_)) p->cancel();
}

}  // namespace parley::protocols

#include "adapters/irc/irc_connection.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "adapters/common/post_guarded.hpp"
#include "adapters/irc/irc_client.hpp"
#include "adapters/irc/irc_server.hpp"

namespace parley::adapters::irc {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

IrcConnection::IrcConnection(protocols::Socket s, std::shared_ptr<asio::ssl::context> tls, Limits limits,
                             std::shared_ptr<IrcServer> server, FloodPolicy flood, protocols::irc::Fallback fallback)
    : Connection(std::move(s), std::move(tls), limits), server_(std::move(server)), framer_(fallback), flood_(flood) {}

IrcConnection::IrcConnection(protocols::Connection::Detached d, std::unique_ptr<protocols::Framing> framing,
                             Limits limits, std::shared_ptr<IrcServer> server, FloodPolicy flood,
                             protocols::irc::Fallback fallback)
    : Connection(std::move(d), std::move(framing), limits),
      server_(std::move(server)),
      framer_(fallback),
      flood_(flood) {}

std::size_t IrcConnection::on_data(std::string_view data) {
  // On the core strand: each line is handled as soon as it is framed (the framer's view is
  // valid until its next call), and the replies and fan-out it caused are written once
  // after the whole read.
  std::size_t used = 0;
  const auto now = Clock::now();
  last_read_ = now;
  pinged_ = false;
  const auto allowance = flood_.cost * static_cast<long>(flood_.burst);
  auto keep = client_;  // a line (QUIT, KILL of oneself) may end the client
  bool handled = false;
  // A password check in progress holds the client's next lines back (IrcClient::auth_pending):
  // they stay buffered and are redelivered when its outcome is in place.
  while (used < data.size() && keep && keep->state != IrcClient::State::closed && !keep->auth_pending) {
    if (flood_.burst) {
      if (penalty_until_ < now) penalty_until_ = now;
      if (penalty_until_ - now > allowance) {
        // Too far ahead: the rest waits in the (bounded) read buffer. If the client keeps
        // sending, the buffer overflows and on_read_overflow disconnects it.
        server_->runtime().core.metrics().rejected(core::Protocol::irc, core::Rejection::rate_limited);
        schedule_resume(penalty_until_ - now - allowance);
        break;
      }
    }
    auto r = framer_.next(data.substr(used));
    used += r.consumed;
    if (r.status == protocols::irc::LineFramer::Status::need_more) break;
    if (r.status == protocols::irc::LineFramer::Status::line)
      server_->handle_input(*keep, Incoming{r.line, protocols::irc::ParseError::none, r.converted});
    else {
      // An over-long line or bytes that are not text (irc.fallback_encoding: reject).
      server_->runtime().core.metrics().rejected(core::Protocol::irc,
                                                 r.error == protocols::irc::ParseError::line_too_long ||
                                                         r.error == protocols::irc::ParseError::tags_too_long
                                                     ? core::Rejection::too_long
                                                     : core::Rejection::malformed);
      server_->handle_input(*keep, Incoming{{}, r.error});
    }
    handled = true;
    if (flood_.burst) penalty_until_ += flood_.cost;
  }
  if (handled) server_->flush_soon();
  return used;
}

void IrcConnection::schedule_resume(Clock::duration after) {
  if (!resume_timer_) resume_timer_ = std::make_unique<asio::steady_timer>(executor());
  else if (resume_timer_->expiry() > Clock::now()) return;  // already scheduled
  resume_timer_->expires_after(after + std::chrono::milliseconds(1));
  auto self = std::static_pointer_cast<IrcConnection>(shared_from_this());
  resume_timer_->async_wait([self](boost::system::error_code ec) {
    if (ec || self->closed()) return;
    self->redeliver();
  });
}

void IrcConnection::on_read_overflow() {
  server_->runtime().core.metrics().rejected(core::Protocol::irc, core::Rejection::rate_limited);
  error_and_close("Excess Flood");
}

// The client does not read what it is sent (its sendq is full): counted, then closed as
// before ("SendQ exceeded").
void IrcConnection::on_write_overflow() {
  server_->runtime().core.metrics().rejected(core::Protocol::irc, core::Rejection::slow_reader);
  Connection::on_write_overflow();
}

void IrcConnection::on_open() {
  // After the TLS handshake (if any): the client has registration_timeout to finish NICK,
  // USER, CAP and SASL. The deadline fires once; a client registered by then ignores it.
  set_deadline(Deadline::auth, std::chrono::seconds(server_->config().registration_timeout));
}

void IrcConnection::on_deadline(Deadline kind) {
  if (kind != Deadline::auth) return Connection::on_deadline(kind);  // TLS handshake: nothing to say
  if (client_ && client_->state == IrcClient::State::registering) error_and_close("Registration timeout");
}

void IrcConnection::on_exception(std::string_view what) {
  spdlog::error("irc: exception handling input from {}: {}; closing that connection", peer_host(), what);
  error_and_close("Internal error");
  if (!closed()) close("Internal error");
}

void IrcConnection::error_and_close(const std::string& text) {
  if (closed()) return;
  std::string line = "ERROR :Closing Link: " + peer_host() + " (" + text + ")\r\n";
  send(line);
  close_after_flush(text);
}

void IrcConnection::check_idle(std::chrono::seconds ping_interval, std::chrono::seconds timeout,
                               const std::string& server_name) {
  if (closed()) return;
  auto idle = Clock::now() - last_read_;
  if (idle > timeout) {
    error_and_close("Ping timeout: " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(idle).count()) +
                    " seconds");
  } else if (idle > ping_interval && !pinged_) {
    pinged_ = true;
    send("PING :" + server_name + "\r\n");
  }
}

void IrcConnection::on_close(std::string_view reason) {
  if (resume_timer_) resume_timer_->cancel();
  if (client_) {
    post_guarded(
        server_->core_strand(), "irc: detach",
        [server = server_, client = client_, r = std::string(reason)] { server->detach(*client, r); });
    client_.reset();
  }
}

}  // namespace parley::adapters::irc

#include "protocols/common/net.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>

namespace parley::protocols {

namespace {

// One receive buffer per thread: idle plain connections hold no read buffer at all, only
// the bytes a partial line left behind (InspIRCd does the same).
constexpr std::size_t kSharedReadBuffer = 64 * 1024;
thread_local char t_read_buffer[kSharedReadBuffer];

}  // namespace

Socket rehome(Socket socket, const Strand& strand) {
  boost::system::error_code ec;
  const auto protocol = socket.local_endpoint(ec).protocol();
  if (ec) return Socket(strand);
  const auto fd = socket.release(ec);
  if (ec) return Socket(strand);  // closed: the connection fails at its first read
  return Socket(strand, protocol, fd);
}

// ---------------------------------------------------------------------------------------
// Connection

Connection::Connection(Socket socket, std::shared_ptr<asio::ssl::context> tls, Limits limits)
    : socket_(std::move(socket)), tls_ctx_(std::move(tls)), limits_(limits) {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    auto a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    peer_host_ = a.to_string();
    peer_port_ = ep.port();
  }
  socket_.non_blocking(true, ec);
}

Connection::Connection(Socket socket, TlsSession tls, std::string pending, Limits limits)
    : Connection(std::move(socket), nullptr, limits) {
  tls_ = std::move(tls);
  if (tls_ && !pending.empty()) rare().adopted = std::move(pending);
}

Connection::Connection(Detached d, std::unique_ptr<Framing> framing, Limits limits)
    : Connection(std::move(d.socket), nullptr, limits) {
  tls_ = std::move(d.tls);
  framing_ = std::move(framing);
  admission_ = std::move(d.admission);
  if (!d.input.empty()) rare().adopted_plain = std::move(d.input);
}

Connection::~Connection() = default;

std::optional<Connection::Detached> Connection::detach() {
  if (state_ != State::open || in_on_data_ || reading_ || writing_busy_ || !out_.empty()) return std::nullopt;
  clear_deadline();
  Detached d{std::move(socket_), std::move(tls_), std::move(in_), std::move(admission_)};
  in_.clear();
  close("upgraded");
  return d;
}

void Connection::start() {
  if (limits_.handshake_timeout_ms)
    set_deadline(Deadline::handshake, std::chrono::milliseconds(limits_.handshake_timeout_ms));
  if (tls_ctx_) {
    tls_ = TlsSession(tls_ctx_->native_handle());
    if (!tls_) return close("TLS setup failed");
    state_ = State::handshaking;
    read_some();
    return;
  }
  state_ = State::open;
  open_guarded();
  if (!closed() && rare_ && !rare_->adopted.empty()) {
    std::string cipher = std::move(rare_->adopted);
    rare_->adopted.clear();
    on_cipher(cipher.data(), cipher.size());
  }
  if (!closed() && rare_ && !rare_->adopted_plain.empty()) {
    std::string plain = std::move(rare_->adopted_plain);
    rare_->adopted_plain.clear();
    on_read_bytes(plain.data(), plain.size());
  }
  if (!closed()) read_some();
}

void Connection::open_guarded() {
  try {
    on_open();
  } catch (const std::exception& e) {
    on_exception(e.what());
  }
}

void Connection::read_some() {
  if (reading_ || tls_upgrade_pending_ || !(state_ == State::open || (state_ == State::handshaking && tls_)))
    return;
  if (input_held_ && state_ == State::open) return;  // hold_input(false) reads again
  reading_ = true;
  if (limits_.read_ahead) return read_into_own_buffer();
  auto self = shared_from_this();
  // Plain and TLS alike: wait until readable, then read into the per-thread buffer, so an
  // idle connection holds no receive buffer (TLS decrypts from there, see tls_session.hpp).
  socket_.async_wait(tcp::socket::wait_read, [self](boost::system::error_code ec) {
    self->reading_ = false;
    if (self->closed()) return;
    if (ec == asio::error::operation_aborted && self->tls_upgrade_pending_) return self->do_start_tls();
    if (ec) return self->close("Read error");
    // Held meanwhile: the bytes stay in the kernel until the hold ends.
    if (self->input_held_ && self->state_ == State::open) return;
    self->drain(0);
  });
}

// Limits::read_ahead: the read itself is what waits, into the connection's own buffer.
// Boost 1.74 first tries the next read at once (a recv that fails fast on a drained socket;
// it stops trying only after end of file, reactive_socket_recv_op), which costs about what
// the epoll_ctl of a wait costs every time (epoll_reactor::start_op) and saves the recv
// after the wait. On a direct lane ReactorRead skips that recv after a short read.
void Connection::read_into_own_buffer() {
  if (!read_ahead_) read_ahead_ = std::make_unique<char[]>(limits_.read_ahead);
  if (socket_.get_executor().is_direct()) {
    if (!reactor_read_)
      reactor_read_ = std::make_unique<ReactorRead>(this, &Connection::own_buffer_read_done,
                                                    &Connection::probe_hidden_eof);
    if (reactor_read_->start(socket_, read_ahead_.get(), limits_.read_ahead, shared_from_this())) return;
  }
  auto self = shared_from_this();
  socket_.async_read_some(
      asio::buffer(read_ahead_.get(), limits_.read_ahead),
      [self](boost::system::error_code ec, std::size_t n) { self->on_own_buffer_read(ec, n); });
}

void Connection::own_buffer_read_done(void* self, const boost::system::error_code& ec, std::size_t n) {
  static_cast<Connection*>(self)->on_own_buffer_read(ec, n);
}

// ReactorRead's sweep: the peer's end of file may sit behind a short read a while ago, with
// no epoll edge to come for it (reactor_read.hpp); reading what is queued finds it. A closed
// connection has nothing to find; one whose read does not wait now (input held) is asked
// again later.
bool Connection::probe_hidden_eof(void* self) {
  auto* c = static_cast<Connection*>(self);
  return c->state_ != State::open || c->read_queued();
}

void Connection::on_own_buffer_read(const boost::system::error_code& ec, std::size_t n) {
  reading_ = false;
  if (closed()) return;
  if (ec == asio::error::operation_aborted && tls_upgrade_pending_) return do_start_tls();
  if (ec) return close(ec == asio::error::eof ? "Connection closed" : "Read error");
  // RFC 6120 §5.4.3.3: nothing may be pipelined across an upgrade; such bytes are dropped.
  if (tls_upgrade_pending_) return do_start_tls();
  if (input_held_ && state_ == State::open && !tls_ && !framing_) {
    // Held while the read was queued: keep the bytes for hold_input(false), bounded.
    if (in_.size() + n > limits_.max_read_buffer) {
      in_.clear();
      return on_read_overflow();
    }
    in_.append(read_ahead_.get(), n);
    return;
  }
  on_received(read_ahead_.get(), n, n < limits_.read_ahead);
  if (closed()) return;
  if (n < limits_.read_ahead) return read_some();
  drain(1);  // a full buffer: the kernel may hold more
}

// Reads what the kernel has into the per-thread buffer, bounded so one client cannot
// starve the others, then waits again.
void Connection::drain(int rounds_done) {
  for (int round = rounds_done; round < 4 && !tls_upgrade_pending_; ++round) {
    if (state_ != State::open && !(state_ == State::handshaking && tls_)) break;
    boost::system::error_code rec;
    std::size_t n = socket_.read_some(asio::buffer(t_read_buffer, kSharedReadBuffer), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) break;
    if (rec) return close(rec == asio::error::eof ? "Connection closed" : "Read error");
    on_received(t_read_buffer, n, n < kSharedReadBuffer);
    if (closed()) return;
    if (n < kSharedReadBuffer || input_held_) break;
  }
  if (tls_upgrade_pending_) return do_start_tls();
  read_some();
}

void Connection::on_cipher(const char* data, std::size_t n) {
  std::string_view in(data, n);
  if (state_ == State::handshaking) {
    auto st = tls_.handshake(in, out_);
    flush();
    if (st == TlsSession::Status::want_read || closed()) return;
    if (st != TlsSession::Status::done) {
      if (tls_from_starttls_) on_tls_started(false);
      return close("TLS handshake failed");
    }
    state_ = State::open;
    if (tls_from_starttls_)
      on_tls_started(true);
    else
      open_guarded();
    if (closed()) return;
    if (rare_ && !rare_->tls_pending.empty()) {
      std::string pending = std::move(rare_->tls_pending);
      rare_->tls_pending.clear();
      send_wire(pending);  // already in wire form
      if (closed()) return;
    }
    if (rare_) {
      for (auto& m : rare_->markers)
        if (m.after_handshake) m = {out_.size() + writing_.size(), false, std::move(m.f)};
      note_written(0);
    }
    if (rare_ && rare_->tls_pending.empty() && rare_->close_reason.empty() && rare_->markers.empty())
      rare_.reset();
  }
  // Records that followed the handshake in the same read are decrypted now.
  auto st = tls_.read(in, out_, [this](const char* p, std::size_t k) {
    on_read_bytes(p, k);
    return !closed() && state_ == State::open;
  });
  flush();
  if (closed()) return;
  if (st == TlsSession::Status::closed) return close("Connection closed");
  if (st == TlsSession::Status::error) return close("Read error");
}

void Connection::on_read_bytes(const char* data, std::size_t n) {
  if (framing_) [[unlikely]]
    return on_framed_bytes(std::string_view(data, n));
  on_plain_bytes(data, n);
}

// Through the message layer (framing.hpp): what the peer's frames carry goes to on_data as
// if it had come as a byte stream; control answers are written as they are.
void Connection::on_framed_bytes(std::string_view wire) {
  std::string app, reply;
  auto r = framing_->unwrap(wire, app, reply);
  if (!reply.empty()) send_wire(reply);
  if (closed()) return;
  if (!app.empty()) on_plain_bytes(app.data(), app.size());
  if (r.close && !closed()) close_after_flush(r.reason);
}

void Connection::on_plain_bytes(const char* data, std::size_t n) {
  if (in_.empty()) {
    feed(std::string_view(data, n));
  } else {
    in_.append(data, n);
    std::string buffered = std::move(in_);
    in_.clear();
    feed(buffered);
  }
}

void Connection::feed(std::string_view data) {
  in_on_data_ = true;
  std::size_t used = 0;
  try {
    used = on_data(data);
  } catch (const std::exception& e) {
    // Exception firewall: a handler that throws ends this connection, not the io thread
    // (whose other connections would stall) nor the read loop (which would stall this one).
    in_on_data_ = false;
    on_exception(e.what());
    if (!closed()) close("Internal error");
    return;
  }
  in_on_data_ = false;
  if (closed()) return;
  if (used > data.size()) used = data.size();
  std::string_view rest = data.substr(used);
  if (tls_upgrade_pending_) {
    in_.clear();  // RFC 6120 §5.4.3.3: nothing may be pipelined across the upgrade
    return;
  }
  if (rest.empty()) return;
  if (rest.size() > limits_.max_read_buffer) {
    in_.clear();
    on_read_overflow();
    return;
  }
  in_.assign(rest.data(), rest.size());
  if (in_.capacity() > 4 * in_.size() + 256) in_.shrink_to_fit();
}

void Connection::redeliver() {
  if (state_ != State::open || in_.empty() || in_on_data_) return;
  std::string buffered = std::move(in_);
  in_.clear();
  feed(buffered);
}

bool Connection::set_receive_low_water(int bytes) {
  if (closed()) return false;
  boost::system::error_code ec;
  socket_.set_option(asio::socket_base::receive_low_watermark(bytes), ec);
  return !ec;
}

// What one read got from the socket: acknowledged at once (Limits::quick_ack), or once
// on_data is done unless it wrote (ack_rides_answer); decrypted or fed as it is.
void Connection::on_received(const char* data, std::size_t n, bool emptied, bool ack) {
  ack = ack && limits_.quick_ack;
  if (ack && !limits_.ack_rides_answer) ack_now(n, emptied);
  wrote_ = false;
  if (tls_)
    on_cipher(data, n);
  else
    on_read_bytes(data, n);
  // A segment written meanwhile carried the ACK (RFC 9293 §3.1: once the connection is
  // established, every segment acknowledges what was received).
  if (ack && limits_.ack_rides_answer && !wrote_ && state_ != State::closed) ack_now(n, emptied);
}

// Linux holds back the ACK of a read only in "pingpong" mode, which a connection enters by
// sending data soon after receiving (tcp_event_data_sent) and leaves by TCP_QUICKACK.
// Outside it, a read that empties the receive queue sends the ACK itself (tcp_cleanup_rbuf)
// when a segment since the last ACK set ICSK_ACK_PUSHED, which tcp_measure_rcv_mss does for
// any segment under TCP_MSS_DEFAULT (536) counted with its TCP options, up to 40 bytes: so
// for every read under 496 bytes. The system call is needed only after this side wrote since
// the last one (or is still writing), or for a read that may have left bytes queued or that
// size; otherwise it costs a system call per read for nothing (the gateway's channel leader:
// one per message). Not covered, at the cost of a delayed ACK (~40 ms), never of data: bytes
// the kernel took before the last call and sends only now (held by the windows, or sent
// again after a loss), and equal-sized segments of 76-495 bytes without PSH (a peer that
// corks its writes; Linux sets PSH on the last segment of every write otherwise).
void Connection::ack_now(std::size_t n, bool emptied) {
  constexpr std::size_t kSmallRead = 536 - 40;  // TCP_MSS_DEFAULT (RFC 9293 §3.7.1) less the options
  if (!wrote_since_quick_ack_ && emptied && n < kSmallRead) return;
  wrote_since_quick_ack_ = writing_busy_;  // an async write still going sends more
  ++quick_acks_;
  const int one = 1;
  ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

bool Connection::read_queued(bool ack, int rounds) {
  if (state_ != State::open || !reading_ || !reactor_read_ || !reactor_read_->waiting() || in_on_data_ ||
      input_held_ || tls_upgrade_pending_)
    return false;
  // As drain(): bounded rounds, so one connection cannot keep the strand.
  for (int round = 0; round < rounds; ++round) {
    const ssize_t n = ::recv(socket_.native_handle(), read_ahead_.get(), limits_.read_ahead, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) close("Read error");
      return true;
    }
    if (n == 0) {
      close("Connection closed");
      return true;
    }
    on_received(read_ahead_.get(), static_cast<std::size_t>(n),
                static_cast<std::size_t>(n) < limits_.read_ahead, ack);
    if (closed() || input_held_ || static_cast<std::size_t>(n) < limits_.read_ahead) return true;
  }
  return true;
}

void Connection::hold_input(bool hold) {
  if (input_held_ == hold) return;
  input_held_ = hold;
  if (hold || state_ != State::open || in_on_data_) return;
  redeliver();  // what was read before the hold, first
  if (!closed() && !input_held_) read_some();
}

void Connection::send(std::string_view bytes) {
  if (framing_) [[unlikely]] {
    if (state_ == State::closed || bytes.empty()) return;
    std::string wire;
    framing_->wrap(bytes, wire);
    return send_wire(wire);
  }
  send_wire(bytes);
}

void Connection::send_wire(std::string_view bytes) {
  if (state_ == State::closed || bytes.empty()) return;
  if (out_.size() + writing_.size() + tls_pending_size() + bytes.size() > limits_.max_write_queue) {
    on_write_overflow();
    if (state_ != State::closed) close("SendQ exceeded");  // an override that forgot to close
    return;
  }
  if (tls_) {
    if (state_ == State::handshaking) {
      rare().tls_pending.append(bytes);  // encrypted once the handshake is done
      return;
    }
    if (!tls_.write(bytes, out_)) return close("Write error");
    flush();
    return;
  }
  // Plain socket, nothing in flight: try to write straight away (no queueing, no syscall
  // wake-up later). Whatever the kernel does not take is queued.
  if (!writing_busy_ && out_.empty() && state_ != State::handshaking) {
    boost::system::error_code ec;
    std::size_t n = socket_.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      close("Write error");
      return;
    }
    if (n > 0) wrote_ = wrote_since_quick_ack_ = true;
    bytes.remove_prefix(n);
    if (bytes.empty()) return;
  }
  out_.append(bytes);
  flush();
}

void Connection::flush() {
  // out_ holds wire bytes only (ciphertext under TLS, handshake records included), so it is
  // written in every state but closed.
  if (writing_busy_ || out_.empty() || state_ == State::closed) return;
  // Nothing in flight: the kernel usually takes it all at once.
  boost::system::error_code ec;
  std::size_t n = socket_.write_some(asio::buffer(out_.data(), out_.size()), ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return close("Write error");
  if (n > 0) wrote_ = wrote_since_quick_ack_ = true;
  out_.erase(0, n);
  note_written(n);
  if (out_.empty()) return write_drained();
  writing_busy_ = true;
  wrote_since_quick_ack_ = true;  // as the kernel takes it
  writing_.swap(out_);
  out_.clear();
  auto self = shared_from_this();
  asio::async_write(socket_, asio::buffer(writing_),
                    [self](boost::system::error_code wec, std::size_t k) { self->write_done(wec, k); });
}

void Connection::write_done(const boost::system::error_code& ec, std::size_t n) {
  writing_busy_ = false;
  std::string().swap(writing_);  // an idle connection keeps no write buffer
  if (state_ == State::closed) return;
  if (ec) return close("Write error");
  note_written(n);
  if (!out_.empty()) return flush();
  write_drained();
}

// Everything queued is on the wire.
void Connection::write_drained() {
  // An idle connection keeps no write buffer at all (under TLS every send passes through it).
  if (out_.capacity() > 15) std::string().swap(out_);
  if (state_ == State::draining) return finish_close();
  if (tls_upgrade_pending_ && !reading_ && !in_on_data_) do_start_tls();
}

void Connection::when_written(std::function<void()> f) {
  if (state_ == State::closed || !f) return;
  const bool after_handshake = state_ == State::handshaking && tls_pending_size() > 0;
  rare().markers.push_back({out_.size() + writing_.size(), after_handshake, std::move(f)});
  note_written(0);
}

void Connection::note_written(std::size_t n) {
  if (!rare_ || rare_->markers.empty()) return;
  auto& markers = rare_->markers;
  std::size_t due = 0;
  for (auto& m : markers) {
    if (m.after_handshake) break;  // later ones were registered later still
    m.remaining -= std::min(n, m.remaining);
    if (m.remaining == 0 && due == static_cast<std::size_t>(&m - markers.data())) ++due;
  }
  if (due == 0) return;
  std::vector<std::function<void()>> run;
  run.reserve(due);
  for (std::size_t i = 0; i < due; ++i) run.push_back(std::move(markers[i].f));
  markers.erase(markers.begin(), markers.begin() + static_cast<std::ptrdiff_t>(due));
  // Called now, not posted: a post would queue behind a read that the peer's answer to
  // these very bytes may already have queued (e.g. its stream close, whose session end
  // would then overtake the confirmation).
  for (auto& f : run) f();
}

namespace {
std::atomic<std::uint32_t> g_flush_cap_ms{0};  // Connection::cap_flush_wait

// Limits::close_timeout_ms, or the shutdown cap when it is shorter (or there is no timeout).
std::uint32_t flush_wait_ms(std::uint32_t close_timeout_ms) {
  const std::uint32_t cap = g_flush_cap_ms.load(std::memory_order_relaxed);
  if (cap == 0) return close_timeout_ms;
  return close_timeout_ms == 0 ? cap : std::min(cap, close_timeout_ms);
}
}  // namespace

void Connection::cap_flush_wait(std::chrono::milliseconds cap) {
  g_flush_cap_ms.store(static_cast<std::uint32_t>(std::max<std::int64_t>(cap.count(), 0)),
                       std::memory_order_relaxed);
}

void Connection::close_after_flush(std::string_view reason) {
  if (state_ == State::closed || state_ == State::draining) return;
  if (framing_ && state_ == State::open) {
    std::string wire;
    framing_->closing(wire);   // e.g. the WebSocket close frame
    std::string keep(reason);  // send_wire may close (and free what `reason` views)
    send_wire(wire);
    if (state_ == State::closed) return;
    rare().close_reason = keep;
    state_ = State::draining;
    if (!writing_busy_ && out_.empty()) return finish_close();
    if (const auto ms = flush_wait_ms(limits_.close_timeout_ms))
      set_deadline(Deadline::flush, std::chrono::milliseconds(ms));
    return;
  }
  rare().close_reason = std::string(reason);
  state_ = State::draining;
  if (!writing_busy_ && out_.empty()) return finish_close();
  // A peer that never reads would hold the fd and the queue for ever.
  if (const auto ms = flush_wait_ms(limits_.close_timeout_ms))
    set_deadline(Deadline::flush, std::chrono::milliseconds(ms));
}

void Connection::set_deadline(Deadline kind, std::chrono::milliseconds after) {
  if (state_ == State::closed) return;
  if (after.count() <= 0 || kind == Deadline::none) return clear_deadline();
  if (!deadline_) deadline_ = std::make_unique<StrandTimer>(executor());
  deadline_kind_ = kind;
  const auto gen = ++deadline_gen_;
  deadline_->expires_after(after);  // a wait in progress ends with operation_aborted
  deadline_->async_wait([self = shared_from_this(), kind, gen](boost::system::error_code ec) {
    if (ec || self->closed() || gen != self->deadline_gen_) return;
    self->deadline_kind_ = Deadline::none;
    self->deadline_.reset();  // its wait is over: safe to free it from its own handler
    if (kind == Deadline::flush) {
      std::string reason = self->rare_ ? self->rare_->close_reason : std::string();
      return self->close(reason.empty() ? "Flush timeout" : reason + " (flush timeout)");
    }
    self->on_deadline(kind);
  });
}

void Connection::clear_deadline() {
  deadline_kind_ = Deadline::none;
  ++deadline_gen_;
  deadline_.reset();  // cancels the wait; its handler sees operation_aborted
}

void Connection::on_deadline(Deadline kind) {
  close(kind == Deadline::handshake ? "Handshake timeout" : "Authentication timeout");
}

void Connection::on_exception(std::string_view) { close("Internal error"); }

void Connection::finish_close() {
  boost::system::error_code ec;
  if (tls_ && state_ != State::closed) {
    std::string notify;
    tls_.shutdown(notify);  // close_notify, best effort
    if (!notify.empty()) socket_.write_some(asio::buffer(notify), ec);
  }
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  std::string reason = rare_ ? rare_->close_reason : std::string();
  close(reason);
}

void Connection::close(std::string_view reason) {
  if (state_ == State::closed) return;
  state_ = State::closed;
  boost::system::error_code ec;
  socket_.cancel(ec);
  socket_.close(ec);
  if (reactor_read_) reactor_read_->settle();
  out_.clear();
  in_.clear();
  if (rare_) rare_->markers.clear();  // those bytes never left: their markers never run
  clear_deadline();
  admission_.reset();  // the fd is gone: it no longer counts against its address
  closed_token_.reset();
  auto self = shared_from_this();  // keep alive through the callbacks
  on_close(reason);
  if (manager_) manager_->remove(this);
}

void Connection::start_tls(std::shared_ptr<asio::ssl::context> ctx) {
  if (tls_ || state_ != State::open) return;
  tls_ctx_ = std::move(ctx);
  tls_upgrade_pending_ = true;
  if (!in_on_data_ && !reading_ && !writing_busy_ && out_.empty()) do_start_tls();
  // Otherwise: when the read in progress completes (or the writes drain) do_start_tls runs.
  if (!in_on_data_ && reading_) {
    boost::system::error_code ec;
    socket_.cancel(ec);  // the pending wait ends; its handler sees tls_upgrade_pending_
  }
}

void Connection::do_start_tls() {
  if (!tls_upgrade_pending_ || closed()) return;
  if (writing_busy_ || !out_.empty()) return;  // write_done calls again when drained
  tls_upgrade_pending_ = false;
  tls_ = TlsSession(tls_ctx_->native_handle());
  tls_from_starttls_ = true;
  if (!tls_) {
    on_tls_started(false);
    return close("TLS setup failed");
  }
  state_ = State::handshaking;
  read_some();
}

// ---------------------------------------------------------------------------------------
// ConnectionManager

void ConnectionManager::add(const std::shared_ptr<Connection>& c) {
  c->set_manager(this);
  std::lock_guard lock(mu_);
  conns_.emplace(c.get(), c);
}

void ConnectionManager::remove(Connection* c) {
  std::shared_ptr<Connection> keep;  // destroyed outside the lock
  std::lock_guard lock(mu_);
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  keep = std::move(it->second);
  conns_.erase(it);
}

void ConnectionManager::close_all(std::string_view reason) {
  std::vector<std::shared_ptr<Connection>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [_, c] : conns_) all.push_back(c);
  }
  for (auto& c : all) asio::post(c->executor(), [c, r = std::string(reason)] { c->close(r); });
}

std::size_t ConnectionManager::size() const {
  std::lock_guard lock(mu_);
  return conns_.size();
}

void ConnectionManager::for_each_posted(const std::function<void(Connection&)>& f) {
  std::vector<std::shared_ptr<Connection>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [_, c] : conns_) all.push_back(c);
  }
  for (auto& c : all)
    asio::post(c->executor(), [c, f] {
      if (!c->closed()) f(*c);
    });
}

}  // namespace parley::protocols

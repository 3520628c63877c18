#pragma once
// Protocol-agnostic networking shared by every stream protocol (IRC, XMPP c2s, PSYC).
//
//   ListenAddress (listen_address.hpp)  "127.0.0.1:6667", "[::1]:6667", "tls:0.0.0.0:6697"
//   Listener                         binds a typed ListenAddress, accepts, sets TCP_NODELAY,
//                                    hands each socket (a Socket: its executor is its own
//                                    strand) to a callback
//   Connection                       owns the socket (plain or ssl::stream), a bounded read
//                                    buffer and a bounded write queue, runs on its strand
//   ConnectionManager                tracks live connections, can close them all
//   AddressLimiter (address_limiter.hpp)  per-address concurrent and rate limits, checked by
//                                    Listener before a connection exists
//
// Threading: one io_context run by any number of threads. Every Connection's handlers run
// on its own strand (a Lane, lane.hpp: a strand, or the core's direct lane when one thread
// runs the core's io_context); send(), close() and friends must be called on that strand
// (post to executor() from elsewhere). ConnectionManager is thread-safe.
//
// Usage (a protocol server):
//   class MyConn : public Connection {
//     std::size_t on_data(std::string_view d) override { ...parse lines...; return consumed; }
//     void on_close(std::string_view reason) override { ...tell the core... }
//   };
//   Listener l(io, address, [&](Socket s, bool tls, Admission a) {
//     auto c = std::make_shared<MyConn>(std::move(s), tls ? ctx : nullptr, limits);
//     manager.add(c); c->start(); });
//   l.open(); l.start();
//
// Bounds: bytes not consumed by on_data stay buffered up to Limits::max_read_buffer; more
// than that calls on_read_overflow() (default: close "Read buffer exceeded"). Writes beyond
// Limits::max_write_queue call on_write_overflow() (default: close "SendQ exceeded" at
// once): a stuck client costs only itself. Time is bounded too:
// Limits::handshake_timeout_ms from start() until the protocol moves the deadline on
// (set_deadline / clear_deadline: a protocol arms its authentication deadline once its
// opening is done), and Limits::close_timeout_ms for a
// close_after_flush() whose peer does not read. A listener with an AddressLimiter refuses
// connections over the per-address limits before any protocol state exists.
// An exception escaping on_data/on_open ends only that connection (on_exception()).
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocols/common/address_limiter.hpp"
#include "protocols/common/framing.hpp"
#include "protocols/common/lane.hpp"
#include "protocols/common/limits.hpp"
#include "protocols/common/listen_address.hpp"
#include "protocols/common/reactor_read.hpp"
#include "protocols/common/tls_session.hpp"

namespace parley::protocols {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
// A connection's executor: its strand, or the core's direct lane (lane.hpp).
using Strand = Lane;
// A TCP socket whose executor is its connection's strand, as a concrete type. With
// tcp::socket (any_io_executor) the strand does not fit any_executor's small buffer, so the
// socket kept a heap copy of it and every pending wait allocated another (the
// outstanding_work.tracked preference): ~100 bytes per idle connection and one malloc/free
// per read. Handlers without an executor of their own run on the socket's, i.e. the strand.
using Socket = asio::basic_stream_socket<tcp, Strand>;
// A timer typed on the strand for the same reason (no heap copy of the executor per wait).
using StrandTimer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                               asio::wait_traits<std::chrono::steady_clock>, Strand>;
using Admission = AddressLimiter::Admission;

class Listener {
 public:
  // Called on the socket's own fresh strand (the socket's executor is that strand). The
  // admission counts the connection against its address until it is destroyed: hand it to
  // the Connection (Connection::keep_admission).
  using AcceptHandler = std::function<void(Socket socket, bool tls, Admission admission)>;
  // What a refused plain connection is told before it is closed (e.g. IRC "ERROR :...");
  // empty: nothing. A TLS listener closes refused sockets without a word.
  using Refusal = std::function<std::string(AddressLimiter::Verdict)>;
  enum class Event : std::uint8_t {
    refused,         // a connection over the per-address limits (text: address and why)
    accept_paused,   // out of descriptors (or near: kFdReserve) or other resources: first of an episode
    accept_resumed,  // accepting again after such an episode (text: how many failures)
  };
  using Notify = std::function<void(Event, std::string_view text)>;

  Listener(asio::io_context& io, ListenAddress address, AcceptHandler on_accept);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Before start(): per-address limits (shared by every listener given the same limiter).
  void set_limiter(std::shared_ptr<AddressLimiter> limiter, Refusal refusal = {});
  void set_notify(Notify notify);

  // Binds and listens (SO_REUSEADDR). Port 0 picks a free port: see local_endpoint().
  boost::system::error_code open();
  void start();  // begins accepting
  void stop();   // closes the acceptor; when it returns, no new connection is handed over
  tcp::endpoint local_endpoint() const;
  const ListenAddress& address() const;

  // Accept back-off when descriptors run out. Accepting stops kFdReserve descriptors short
  // of RLIMIT_NOFILE: the connection that got one of those is closed at once, so that the
  // store (SQLite opens its journal per transaction), TLS and logging keep working while
  // clients hold every other descriptor. And on a resource error from accept(2) (EMFILE,
  // ENFILE, ENOBUFS, ENOMEM) the pending connection stays in the kernel's backlog and the
  // acceptor stays readable, so retrying at once would spin every io thread. Either way
  // accepting pauses, from kMinPause doubling up to kMaxPause while it persists, logged once
  // per episode (Event::accept_paused, then accept_resumed).
  static constexpr int kFdReserve = 16;
  static constexpr std::chrono::milliseconds kMinPause{100};
  static constexpr std::chrono::milliseconds kMaxPause{1000};

 private:
  // Accept handlers run on any io thread and may still be running when stop() or the
  // destructor runs on another (a plugin stops its listeners from the core strand): they
  // own the state through a shared_ptr, and every use of the acceptor holds its mutex.
  struct State;
  std::shared_ptr<State> state_;
};

// The same connected socket on another strand (a socket's executor is fixed when it is
// made): e.g. IRC puts every connection on the core strand. A socket that cannot be moved
// comes back closed.
Socket rehome(Socket socket, const Strand& strand);

class ConnectionManager;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  struct Limits {
    std::size_t max_read_buffer = 16 * 1024;
    std::size_t max_write_queue = kMaxWriteQueueBytes;
    // 0: none. From start() (TLS handshake included) until the protocol sets its next
    // deadline; see set_deadline().
    std::uint32_t handshake_timeout_ms = 0;
    // 0: none. How long close_after_flush() waits for a peer that does not read.
    std::uint32_t close_timeout_ms = 0;
    // 0: an idle connection holds no receive buffer; each read first waits for readiness,
    // which Boost's epoll reactor re-arms with one epoll_ctl per wait. > 0: a buffer of
    // this many bytes is held for the connection's life and reads go straight into it:
    // one recv per read, no epoll_ctl (the gateway's puppets, which read a line per
    // occupant per message). Not for connections that start_tls().
    std::uint16_t read_ahead = 0;
    // TCP_QUICKACK after every read that got data: the kernel acknowledges it at once. Linux
    // holds the ACK of a connection that answers what it reads ("pingpong" mode) to ride on
    // the answer; a peer that keeps Nagle on (Prosody's default, net.server_epoll `nagle`)
    // holds its next small write until that ACK. Where the answer comes only later (a
    // gateway's after an IRC round trip), every stanza would wait for it. Not after
    // read_queued: a socket read on a timer gains nothing from a prompt ACK (the peer's
    // Nagle may batch what it sends there).
    bool quick_ack = false;
    // With quick_ack: the ACK waits until on_data has returned, and a read whose on_data
    // wrote to the socket is not acknowledged apart: the written segment carries the ACK
    // (one system call and one packet fewer). For a stream whose owner answers within the
    // read when it can (the XEP-0114 component link: a stanza's copies, Component::flush).
    bool ack_rides_answer = false;
  };
  // What a deadline guards; on_deadline() is told which one passed.
  enum class Deadline : std::uint8_t { none, handshake, auth, flush };

  // A connection taken over by another protocol after an upgrade (HTTP -> WebSocket): the
  // socket (still on its strand), its TLS session, the plaintext read past the upgrade and
  // the per-address admission. See detach().
  struct Detached {
    Socket socket;
    TlsSession tls;
    std::string input;
    Admission admission;
  };

  // tls non-null: implicit TLS, the handshake runs first in start().
  // The connection runs on the socket's executor (a strand): Listener gives each socket a
  // fresh one; a protocol whose state lives on one shared strand (IRC: the core strand)
  // re-homes the socket there first (rehome()), so it can send() without a post per recipient.
  Connection(Socket socket, std::shared_ptr<asio::ssl::context> tls, Limits limits);
  // An outbound stream opened by the connector (connector.hpp): `tls` is its established
  // client session (or empty: plain) and `pending` the ciphertext read past the handshake,
  // decrypted first when start() opens the connection.
  Connection(Socket socket, TlsSession tls, std::string pending, Limits limits);
  // A detached connection carried on by another protocol through `framing` (WebSocket):
  // start() feeds d.input through the framing first; no handshake (TLS is established).
  Connection(Detached d, std::unique_ptr<Framing> framing, Limits limits);
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts the connection (handshake, then on_open(), then reading). Call once, from the
  // strand, after the object is owned by a shared_ptr.
  void start();
  // Queues bytes. Closes the connection when the queue would exceed max_write_queue.
  void send(std::string_view bytes);
  // Closes now (queued bytes are dropped); on_close(reason) runs once.
  void close(std::string_view reason);
  // Stops reading, sends what is queued, then closes with `reason`.
  void close_after_flush(std::string_view reason);
  // Process-wide, from shutdown on: close_after_flush waits at most `cap` for a peer to take
  // what is queued (instead of Limits::close_timeout_ms, 10 s by default), so that a client
  // that never reads cannot hold a shutdown past its drain limit. Zero: no cap.
  static void cap_flush_wait(std::chrono::milliseconds cap);
  // STARTTLS (XMPP RFC 6120 §5.4): after the on_data call in progress returns, reading
  // stops, the write queue drains, the server handshake runs on the same socket and reading
  // resumes over TLS. Bytes the peer sent before the handshake are discarded (§5.4.3.3).
  void start_tls(std::shared_ptr<asio::ssl::context> ctx);
  // Feeds the bytes left unconsumed by on_data again (e.g. after a flood penalty expired).
  void redeliver();
  // Backpressure (a shaper's pause, a full queue toward the core): while held, nothing more
  // is read from the socket, so the kernel's receive buffer fills and TCP flow control
  // slows the peer down instead of the bytes piling up here (where they would hit
  // max_read_buffer). Bytes on_data left unconsumed stay buffered; releasing the hold feeds
  // them again (redeliver) and then resumes reading. On the strand; holding may happen
  // inside on_data, releasing outside it (it feeds on_data).
  void hold_input(bool hold);
  bool input_held() const { return input_held_; }
  // TCP_QUICKACK system calls made (Limits::quick_ack): reads the kernel would not have
  // acknowledged at once by itself.
  std::uint64_t quick_acks() const { return quick_acks_; }
  // SO_RCVLOWAT (Linux: poll and epoll report a TCP socket readable only once this many
  // bytes are queued, or at end of file or an error): with a high mark the kernel does not
  // wake a reader for every small write; lowering it wakes the reader at once if enough is
  // queued (tcp_set_rcvlowat). A read still takes whatever is queued. False: not set.
  bool set_receive_low_water(int bytes);
  // Reads what the kernel holds now, without waiting to be told it is readable (a socket
  // whose low-water mark keeps the kernel from saying so), and feeds it to on_data as a read
  // would. Only while the connection's own read waits in the reactor with nothing read yet,
  // so nothing read earlier can arrive after these bytes (ReactorRead::waiting). False: not
  // possible now (another kind of read, a read completed but not delivered, input held);
  // lower the mark instead. On the strand, outside on_data. ack: acknowledged at once
  // (Limits::quick_ack) as a read would be, for a read that is late rather than periodic.
  // rounds: at most this many recvs of read_ahead bytes (one connection cannot keep the
  // strand); a periodic reader whose kernel queue is bounded by its low-water mark passes
  // enough for that whole queue.
  bool read_queued(bool ack = false, int rounds = 4);
  // Calls f once every byte sent so far has been handed to the kernel (at once, inside this
  // call, when nothing is queued). Never if the connection closes first: e.g. stored
  // messages are deleted only when they actually left (a dead peer or an overflowing send
  // queue leaves them stored). f runs on this strand, possibly inside send() or a write
  // completion, before anything the peer sent in answer is read; it must not call back
  // into this connection (post instead).
  void when_written(std::function<void()> f);
  // One deadline at a time: arming one replaces the previous. When it passes, on_deadline()
  // runs (the flush deadline closes at once). A zero duration clears it. The timer exists
  // only while a deadline is armed: an authenticated idle connection keeps none.
  void set_deadline(Deadline kind, std::chrono::milliseconds after);
  void clear_deadline();
  Deadline deadline() const { return deadline_kind_; }
  // Hands the socket, TLS session, unconsumed input and admission over (an HTTP upgrade),
  // then closes this connection (on_close("upgraded")). On the strand, outside on_data,
  // with input held and nothing being written (after when_written): nullopt otherwise.
  std::optional<Detached> detach();
  // The connection runs over a message layer (WebSocket), not a plain byte stream.
  bool framed() const { return framing_ != nullptr; }
  // Keeps the per-address admission until the connection closes.
  void keep_admission(Admission admission) { admission_ = std::move(admission); }
  // Keeps `token` (e.g. an adapter's count of open connections) until the connection closes.
  void keep_until_closed(std::shared_ptr<void> token) { closed_token_ = std::move(token); }

  bool is_tls() const { return tls_.valid(); }
  bool closed() const { return state_ == State::closed; }
  const std::string& peer_host() const { return peer_host_; }
  // A connection whose socket is not the client's (BOSH: a socketpair) names its client.
  void set_peer_host(std::string host) { peer_host_ = std::move(host); }
  std::uint16_t peer_port() const { return peer_port_; }
  // Any thread: copies the executor the socket was created with, which never changes (Boost
  // 1.74's basic_socket::get_executor() is merely not declared const).
  Strand executor() const { return const_cast<Socket&>(socket_).get_executor(); }
  std::size_t queued_bytes() const { return out_.size() + writing_.size(); }
  void set_manager(ConnectionManager* m) { manager_ = m; }

 protected:
  // Data arrived. Returns how many bytes were consumed; the rest is kept and prepended to
  // the next read. The view is valid only during the call.
  virtual std::size_t on_data(std::string_view data) = 0;
  virtual void on_open() {}
  virtual void on_close(std::string_view reason) = 0;
  virtual void on_read_overflow() { close("Read buffer exceeded"); }
  // A send() would pass Limits::max_write_queue: the peer does not read. Default: close
  // "SendQ exceeded" at once. An adapter overrides it to count the slow reader (metrics live
  // in core/, which protocols/ never includes), then calls this. Runs inside send().
  virtual void on_write_overflow() { close("SendQ exceeded"); }
  // STARTTLS finished (ok == false: handshake failed, the connection is closing).
  virtual void on_tls_started(bool ok) {}
  // A handshake or authentication deadline passed (default: close). Flush deadlines do not
  // come here: they close at once.
  virtual void on_deadline(Deadline kind);
  // on_data or on_open threw: the exception firewall of one connection. Default: close
  // "Internal error". Override to log with the protocol's context, then call this.
  virtual void on_exception(std::string_view what);

 private:
  enum class State : std::uint8_t { handshaking, open, draining, closed };
  void read_some();
  void read_into_own_buffer();
  void on_own_buffer_read(const boost::system::error_code& ec, std::size_t n);
  static void own_buffer_read_done(void* self, const boost::system::error_code& ec, std::size_t n);
  static bool probe_hidden_eof(void* self);
  void drain(int rounds_done);
  // One read's bytes, whatever read them; emptied: the read took less than its buffer holds
  // (the kernel had no more); ack: Limits::quick_ack applies.
  void on_received(const char* data, std::size_t n, bool emptied, bool ack = true);
  void on_read_bytes(const char* data, std::size_t n);
  void on_plain_bytes(const char* data, std::size_t n);
  void on_framed_bytes(std::string_view wire);
  void send_wire(std::string_view bytes);
  void feed(std::string_view data);
  void flush();
  void write_done(const boost::system::error_code& ec, std::size_t n);
  void do_start_tls();
  void on_cipher(const char* data, std::size_t n);
  void write_drained();
  void finish_close();
  void note_written(std::size_t n);  // n wire bytes went to the kernel: runs due markers
  void ack_now(std::size_t n, bool emptied);  // Limits::quick_ack, after a read of n bytes
  void open_guarded();

  // What only a handshake or a graceful close needs lives apart, allocated then: an idle
  // connection is mostly this object, one per client.
  struct Rare {
    std::string tls_pending;   // plaintext sent while the handshake runs
    std::string close_reason;  // close_after_flush() -> finish_close()
    struct Marker {
      std::size_t remaining;  // wire bytes still to be written before f runs
      bool after_handshake;   // counts from when tls_pending is encrypted
      std::function<void()> f;
    };
    std::vector<Marker> markers;  // when_written(), in order
    std::string adopted;          // ciphertext handed over with an outbound stream, until start()
    std::string adopted_plain;    // plaintext handed over with a detached stream, until start()
  };
  Rare& rare() {
    if (!rare_) rare_ = std::make_unique<Rare>();
    return *rare_;
  }
  std::size_t tls_pending_size() const { return rare_ ? rare_->tls_pending.size() : 0; }

  Socket socket_;
  TlsSession tls_;  // TLS over memory (tls_session.hpp), empty for plain
  // The TLS context: of the session, or (tls_upgrade_pending_) the one start_tls() asked for.
  std::shared_ptr<asio::ssl::context> tls_ctx_;
  Limits limits_;
  std::string in_;                      // unconsumed input
  std::unique_ptr<char[]> read_ahead_;  // limits_.read_ahead bytes, or null
  std::unique_ptr<ReactorRead> reactor_read_;  // reads into read_ahead_ on a direct lane
  std::string out_;                     // queued, not yet handed to the socket
  std::string writing_;                 // handed to an async write in progress
  std::string peer_host_;
  std::unique_ptr<Rare> rare_;
  ConnectionManager* manager_ = nullptr;
  std::unique_ptr<StrandTimer> deadline_;
  std::unique_ptr<Framing> framing_;  // null: a plain byte stream (framing.hpp)
  Admission admission_;
  std::shared_ptr<void> closed_token_;
  std::uint16_t peer_port_ = 0;
  State state_ = State::handshaking;
  Deadline deadline_kind_ = Deadline::none;
  std::uint8_t deadline_gen_ = 0;  // a wait already completed but not yet run is stale
  bool reading_ = false;
  bool writing_busy_ = false;
  bool in_on_data_ = false;
  bool tls_from_starttls_ = false;    // the handshake in progress came from start_tls()
  bool tls_upgrade_pending_ = false;  // start_tls() was called; the handshake has not begun
  bool input_held_ = false;           // hold_input(true): no reads until released
  bool wrote_ = false;                // bytes went to the socket (Limits::ack_rides_answer)
  bool wrote_since_quick_ack_ = true;  // data written may have put the socket in pingpong mode (ack_now)
  std::uint64_t quick_acks_ = 0;
};

class ConnectionManager {
 public:
  void add(const std::shared_ptr<Connection>& c);
  void remove(Connection* c);
  // Posts close(reason) to every live connection's strand.
  void close_all(std::string_view reason);
  std::size_t size() const;
  // Runs f(connection) on each connection's strand (e.g. idle checks).
  void for_each_posted(const std::function<void(Connection&)>& f);

 private:
  mutable std::mutex mu_;
  std::unordered_map<Connection*, std::shared_ptr<Connection>> conns_;
};

}  // namespace parley::protocols

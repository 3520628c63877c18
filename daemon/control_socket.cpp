#include "daemon/control_socket.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <mutex>
#include <set>

namespace parley::daemon {

namespace asio = boost::asio;
using unix_socket = asio::local::stream_protocol;

namespace {

class ControlConnection;

}  // namespace

struct ControlServer::State {
  asio::io_context& io;
  Options options;
  Handler handler;
  unix_socket::acceptor acceptor;
  std::atomic<unsigned> open{0};
  std::mutex mu;  // connections, stopped
  std::set<std::shared_ptr<ControlConnection>> connections;
  bool stopped = false;

  State(asio::io_context& i, Options o, Handler h)
      : io(i), options(std::move(o)), handler(std::move(h)), acceptor(asio::make_strand(i)) {}
  void accept(std::shared_ptr<State> self);
};

namespace {

// SO_PEERCRED (unix(7)): root, or the daemon's own user or group.
bool peer_allowed(int fd, std::string& who) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  who = "uid " + std::to_string(cred.uid) + " gid " + std::to_string(cred.gid) + " pid " +
        std::to_string(cred.pid);
  return cred.uid == 0 || cred.uid == geteuid() || cred.gid == getegid();
}

class ControlConnection : public std::enable_shared_from_this<ControlConnection> {
 public:
  ControlConnection(unix_socket::socket s, std::shared_ptr<ControlServer::State> server)
      : socket_(std::move(s)),
        timer_(socket_.get_executor()),
        server_(std::move(server)),
        in_(kMaxControlRequest) {}

  void start() {
    arm_timer();
    read_line();
  }
  void refuse(std::string answer_text) { answer(std::move(answer_text)); }
  // Any thread.
  void close() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->finish(); });
  }
  // On the strand: writes `answer` and closes.
  void answer(std::string a) {
    if (done_) return;
    out_ = std::move(a);
    arm_timer();  // a client that never reads is closed when it passes
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->finish();
                        // Lingering close: end our side, then discard what the client still
                        // sends (the rest of an oversized request) until it closes, so that
                        // closing with unread input does not reset the answer away.
                        boost::system::error_code ignored;
                        self->socket_.shutdown(unix_socket::socket::shutdown_send, ignored);
                        self->drain();
                      });
  }

 private:
  void arm_timer() {
    timer_.expires_after(server_->options.timeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->finish();
    });
  }

  void drain() {
    socket_.async_read_some(asio::buffer(sink_),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              if (ec || self->done_) return self->finish();
                              self->drain();
                            });
  }

  void read_line() {
    asio::async_read_until(
        socket_, in_, '\n',
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) { self->on_line(ec, n); });
  }

  void on_line(boost::system::error_code ec, std::size_t n) {
    if (done_) return;
    if (ec) {
      // The streambuf's bound: a request over kMaxControlRequest bytes.
      if (ec == asio::error::not_found) return answer(control_error("request too long"));
      return finish();
    }
    std::string line(asio::buffers_begin(in_.data()), asio::buffers_begin(in_.data()) + n - 1);
    in_.consume(n);
    if (!have_words_) {
      std::string why;
      auto words = parse_control_line(line, why);
      if (!words) return answer(control_error(why));
      request_.words = std::move(*words);
      have_words_ = true;
      if (control_needs_secret(request_.words)) return read_line();
    } else {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      request_.secret = std::move(line);
    }
    auto self = shared_from_this();
    server_->handler(std::move(request_), [self](std::string a) {
      asio::post(self->socket_.get_executor(),
                 [self, a = std::move(a)]() mutable { self->answer(std::move(a)); });
    });
  }

  void finish() {
    if (done_) return;
    done_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
    server_->open.fetch_sub(1);
    std::lock_guard lock(server_->mu);
    server_->connections.erase(shared_from_this());
  }

  unix_socket::socket socket_;
  asio::steady_timer timer_;
  std::shared_ptr<ControlServer::State> server_;
  asio::streambuf in_;
  ControlRequest request_;
  bool have_words_ = false;
  bool done_ = false;
  std::string out_;
  std::array<char, 4096> sink_;
};

}  // namespace

void ControlServer::State::accept(std::shared_ptr<State> self) {
  acceptor.async_accept(asio::make_strand(io), [self](boost::system::error_code ec, unix_socket::socket s) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (!ec) {
      std::string who;
      if (!peer_allowed(s.native_handle(), who)) {
        spdlog::warn("control: refused {} (not root, nor the daemon's user or group)", who);
      } else if (const unsigned n = self->open.load(); n < 2 * self->options.max_clients) {
        // Beyond max_clients a connection is only told "busy" (as many again at most, each
        // for at most the timeout); beyond that it is closed without a word.
        auto c = std::make_shared<ControlConnection>(std::move(s), self);
        std::lock_guard lock(self->mu);
        if (!self->stopped) {
          self->open.fetch_add(1);
          self->connections.insert(c);
          if (n < self->options.max_clients)
            c->start();
          else
            c->refuse(control_error("busy: too many control connections"));
        }
      }
    } else {
      spdlog::warn("control: accept failed: {}", ec.message());
    }
    self->accept(self);
  });
}

core::Result<std::shared_ptr<ControlServer>> ControlServer::open(asio::io_context& io, Options options,
                                                                 Handler handler) {
  namespace fs = std::filesystem;
  auto fail = [&](const std::string& what) {
    return core::make_error(core::Condition::service_unavailable,
                            "control socket " + options.path + ": " + what);
  };
  std::error_code fec;
  const auto st = fs::symlink_status(options.path, fec);
  if (!fec && fs::exists(st)) {
    if (!fs::is_socket(st)) return fail("exists and is not a socket");
    // A socket file outlives its daemon (kill -9): replace it unless a daemon answers there.
    unix_socket::socket probe(io);
    boost::system::error_code pec;
    probe.connect(unix_socket::endpoint(options.path), pec);
    if (!pec) return fail("another daemon is listening there");
    fs::remove(options.path, fec);
  }
  if (auto parent = fs::path(options.path).parent_path(); !parent.empty())
    fs::create_directories(parent, fec);
  auto state = std::make_shared<State>(io, std::move(options), std::move(handler));
  boost::system::error_code ec;
  const std::string path = state->options.path;
  // Created 0600 by the umask below, then opened to the group: never world-accessible.
  const mode_t old = ::umask(0177);
  state->acceptor.open(unix_socket(), ec);
  if (!ec) state->acceptor.bind(unix_socket::endpoint(path), ec);
  ::umask(old);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec.message());
  if (::chmod(path.c_str(), 0660) != 0) return fail("cannot set mode 0660");
  state->accept(state);
  spdlog::info("control: listening on {}", path);
  return std::shared_ptr<ControlServer>(new ControlServer(state));
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::stop() {
  std::set<std::shared_ptr<ControlConnection>> open;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopped) return;
    state_->stopped = true;
    open.swap(state_->connections);
  }
  asio::post(state_->acceptor.get_executor(), [s = state_] {
    boost::system::error_code ignored;
    s->acceptor.close(ignored);
  });
  for (const auto& c : open) c->close();
  std::error_code ec;
  std::filesystem::remove(state_->options.path, ec);
}

unsigned ControlServer::open_connections() const { return state_->open.load(); }

}  // namespace parley::daemon

#pragma once
// The control socket (server.control_socket): a unix stream socket, mode 0660, for
// `parleyd ctl`. Only root and the daemon's own user or group may use it (SO_PEERCRED,
// checked at accept). At most `max_clients` connections at once; each gets `timeout` to
// send its request (daemon/control_protocol.hpp) and to read the answer, so a client that
// never sends or never reads costs one slot for that long. Each connection runs on its own
// strand; the handler decides where the work runs (core commands post to the core strand).
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/model/error.hpp"
#include "daemon/control_protocol.hpp"

namespace parley::daemon {

class ControlServer {
 public:
  struct Options {
    std::string path;
    unsigned max_clients = 8;
    std::chrono::milliseconds timeout{5000};
  };
  // Called once per valid request; `reply` may be called from any thread, once.
  using Reply = std::function<void(std::string answer)>;
  using Handler = std::function<void(ControlRequest request, Reply reply)>;

  // Binds `path` (a stale socket file left by a crash is replaced; any other file is an
  // error), sets mode 0660 and starts accepting.
  static core::Result<std::shared_ptr<ControlServer>> open(boost::asio::io_context& io, Options options,
                                                           Handler handler);
  ~ControlServer();
  // Stops accepting, closes open connections and removes the socket file. Any thread.
  void stop();
  unsigned open_connections() const;

  struct State;  // shared with the connections (control_socket.cpp)

 private:
  explicit ControlServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace parley::daemon

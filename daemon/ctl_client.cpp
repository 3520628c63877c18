#include "daemon/ctl_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/control_protocol.hpp"

namespace parley::daemon {

namespace {

// Answers (a metrics scrape, a long session list) are bounded too: a daemon is trusted, but
// a wrong path could name something that never stops talking.
constexpr std::size_t kMaxAnswer = 64 * 1024 * 1024;

}  // namespace

int ctl_command(const std::string& socket_path, const std::vector<std::string>& words, std::istream& in,
                std::ostream& out, std::ostream& err) {
  ControlRequest r;
  r.words = words;
  if (words.empty()) {
    err << "parleyd ctl: expected a command: status, sessions, kick ID [REASON], reload, metrics, account "
           "...\n";
    return 1;
  }
  if (control_needs_secret(words)) {
    if (!std::getline(in, r.secret) || r.secret.empty() || r.secret == "\r") {
      err << "parleyd: expected the password as one line on standard input\n";
      return 1;
    }
    if (r.secret.back() == '\r') r.secret.pop_back();
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path) {
    err << "parleyd ctl: no usable control socket path (server.control_socket or --control)\n";
    return 1;
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err << "parleyd ctl: socket: " << std::strerror(errno) << "\n";
    return 1;
  }
  timeval tv{30, 0};  // a kick or an account change waits for the core and the store
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    err << "parleyd ctl: cannot connect to " << socket_path << ": " << std::strerror(errno)
        << " (is parleyd running with server.control_socket set?)\n";
    ::close(fd);
    return 1;
  }
  const std::string request = render_control_request(r);
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
    if (answer.size() > kMaxAnswer) break;
  }
  ::close(fd);
  const ControlAnswer a = parse_control_answer(answer);
  if (!a.ok) {
    err << "parleyd ctl: " << a.text << "\n";
    return 1;
  }
  out << a.text;
  return 0;
}

}  // namespace parley::daemon

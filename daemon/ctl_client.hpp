#pragma once
// `parleyd ctl COMMAND ...`: sends one request to a running daemon's control socket
// (daemon/control_protocol.hpp) and prints the answer.
#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace parley::daemon {

// account add|passwd read the password as one line from `in`. Returns the exit code: 0 for
// "ok", 1 for an error answer or when the daemon cannot be reached.
int ctl_command(const std::string& socket_path, const std::vector<std::string>& words, std::istream& in,
                std::ostream& out, std::ostream& err);

}  // namespace parley::daemon

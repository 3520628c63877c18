#pragma once
// What `parleyd ctl` can ask a running daemon (the handler behind daemon/control_socket):
//   status                 uptime, sessions per protocol, rooms
//   sessions               one line per session: id protocol user address since
//   kick ID [REASON...]    ends session ID (its client is told REASON)
//   reload                 what SIGHUP does
//   metrics                the Prometheus exposition text
//   account add|passwd USER (password on the second line) | remove USER | list
// Everything that touches the core runs on the core strand; metrics read atomics only.
#include <chrono>
#include <functional>
#include <string>

#include "adapters/common/runtime.hpp"
#include "daemon/control_socket.hpp"

namespace parley::daemon {

struct ControlContext {
  adapters::Runtime& rt;
  std::chrono::steady_clock::time_point started;
  // SIGHUP's work: empty string when the reload was started, else why it was not.
  std::function<std::string()> reload;
};

// Runs `r` and answers through `reply` (from the core strand or the calling thread).
void run_control(ControlContext& ctx, ControlRequest r, const ControlServer::Reply& reply);

// The body of `status` and `sessions`: on the core strand.
std::string control_status(core::Core& core, std::chrono::seconds uptime);
std::string control_sessions(core::Core& core);

}  // namespace parley::daemon

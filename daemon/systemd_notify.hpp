#pragma once
// systemd's readiness protocol (sd_notify(3), Type=notify in packaging/parleyd.service):
// READY=1 once every listener accepts, RELOADING=1 ... READY=1 around a SIGHUP reload,
// STOPPING=1 on shutdown, STATUS= lines for `systemctl status`, and WATCHDOG=1 pings for
// WatchdogSec=. Built on libsystemd when it is found at build time (pkg-config libsystemd);
// without it every call is a no-op and the daemon still runs (e.g. under Type=simple).
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string>

#include "protocols/common/lane.hpp"

namespace parley::daemon::systemd {

// True if parleyd was built with libsystemd.
bool supported();

// Sends `state` (KEY=VALUE lines, e.g. "READY=1\nSTATUS=...") to $NOTIFY_SOCKET; nothing
// happens when the variable is unset (not started by systemd). Errors are ignored: a
// supervisor that stopped listening must not stop the daemon.
void notify(const std::string& state);

// Logs a warning when systemd expects notifications ($NOTIFY_SOCKET set) that this build
// cannot send, so Type=notify does not just time out without a word.
void warn_if_unsupported();

// The interval to send WATCHDOG=1 at: half of $WATCHDOG_USEC (sd_watchdog_enabled(3)
// recommends pinging at half the timeout), or zero when no watchdog is asked for.
std::chrono::microseconds watchdog_interval();

// Sends WATCHDOG=1 every watchdog_interval() from the core strand, so the ping proves that
// the strand every routing decision runs on still turns, not merely that a thread lives.
class Watchdog {
 public:
  using Strand = protocols::Lane;
  explicit Watchdog(const Strand& strand) : timer_(strand) {}

  // Starts the pings if systemd asked for them; call once, from any thread.
  void start();
  // Cancels the pings; call on the strand (the shutdown path) so the io_context can run out.
  void stop();

 private:
  void arm();

  boost::asio::steady_timer timer_;
  std::chrono::microseconds interval_{0};
  bool stopped_ = false;
};

}  // namespace parley::daemon::systemd

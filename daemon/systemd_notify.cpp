#include "daemon/systemd_notify.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <cstdlib>

#if PARLEY_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace parley::daemon::systemd {

bool supported() { return PARLEY_HAVE_SYSTEMD != 0; }

void notify(const std::string& state) {
#if PARLEY_HAVE_SYSTEMD
  // unset_environment = 0: parleyd starts no children that could inherit the socket.
  sd_notify(0, state.c_str());
#else
  (void)state;
#endif
}

void warn_if_unsupported() {
  if (!supported() && std::getenv("NOTIFY_SOCKET") != nullptr)
    spdlog::warn(
        "NOTIFY_SOCKET is set but parleyd was built without libsystemd: no readiness notification "
        "(use Type=simple, or rebuild with libsystemd-dev installed)");
}

std::chrono::microseconds watchdog_interval() {
#if PARLEY_HAVE_SYSTEMD
  std::uint64_t usec = 0;
  // > 0 only if WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) return std::chrono::microseconds(usec / 2);
#endif
  return std::chrono::microseconds(0);
}

void Watchdog::start() {
  interval_ = watchdog_interval();
  if (interval_.count() == 0) return;
  spdlog::info("systemd watchdog: pinging every {} ms from the core strand", interval_.count() / 1000);
  boost::asio::post(timer_.get_executor(), [this] {
    notify("WATCHDOG=1");
    arm();
  });
}

void Watchdog::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Watchdog::arm() {
  if (stopped_) return;
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    notify("WATCHDOG=1");
    arm();
  });
}

}  // namespace parley::daemon::systemd

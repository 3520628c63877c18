#pragma once
// server.connections for SIP over TCP and TLS (issue 12 hardening): the per-address limit
// and rate every other listener applies, and a reserve of file descriptors SIP may not take.
//
// libre accepts SIP's TCP connections itself (sip/transp.c tcp_connect_handler), with no
// hook before or after. So, as libre_timers.cpp does for timers, the executable defines
// libre's tcp_accept: libre's call binds here (the link exports the name, CMakeLists.txt),
// this runs libre's own, then admits the peer through the shared AddressLimiter. A refused
// connection is closed at once; libre sees an accept error and rejects as it would on any.
//
// libre gives no event when it destroys a connection, so each admission is kept with its
// descriptor and that socket's inode: an entry whose descriptor was closed (or now names
// another socket) is dropped, which releases its count. Dropped when the descriptor number
// comes back from accept, on a refusal (then admission is tried once more), and by sweep(),
// which the SIP stack runs every few seconds on the libre thread.
//
// All on the libre thread (accept, sweep, set, clear).
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "protocols/common/address_limiter.hpp"

namespace parley::adapters::sip {

struct TcpAdmission {
  std::shared_ptr<protocols::AddressLimiter> limiter;     // null: per-address limits off
  std::function<void(std::string_view peer)> on_refused;  // metrics and a debug line
  std::size_t fd_reserve = 256;  // descriptors below RLIMIT_NOFILE SIP leaves to everyone else
};

// True when libre's tcp_accept resolves to this file's definition (the link exported it).
bool tcp_admission_interposed();
// From now on every connection libre accepts is admitted through `a`.
void set_tcp_admission(TcpAdmission a);
// Stops admitting (and releases every count held for SIP connections).
void clear_tcp_admission();
// Drops the entries of connections libre has closed since. Returns how many remain.
std::size_t sweep_tcp_admissions();

}  // namespace parley::adapters::sip

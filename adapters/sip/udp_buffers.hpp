#pragma once
// The SIP UDP socket's kernel buffers (sip.udp_buffer). libre 1.1.0 creates the socket
// inside sip_transp_add and does not hand it out, so the socket is found by its bound
// address among the process's descriptors. Why the size matters: a NOTIFY fan-out to N
// watchers brings N 200 OKs back at once; with the default ~208 KiB receive buffer the
// kernel drops most of them and every dropped one costs a retransmitted NOTIFY (RFC 3261
// §17.1.2.2, timer E).
#include <sys/socket.h>

#include <cstddef>
#include <string>

namespace parley::adapters::sip {

struct UdpBufferResult {
  int fd = -1;                 // the socket found, -1: none is bound to that address
  int rcvbuf = 0, sndbuf = 0;  // what the kernel reports afterwards (Linux doubles the request)
  std::string error;           // empty on success
};

// Sets SO_RCVBUF and SO_SNDBUF to `bytes` on this process's UDP socket bound to `addr`
// (tried with SO_*BUFFORCE first, which lifts net.core.[rw]mem_max for a privileged daemon).
UdpBufferResult set_udp_buffers(const sockaddr* addr, socklen_t len, std::size_t bytes);

}  // namespace parley::adapters::sip

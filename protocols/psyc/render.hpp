#pragma once
// Renders PSYC packets (packet.hpp) into wire bytes; the inverse of the parser: a parsed
// packet renders back to its exact input. For packets built by hand it also chooses what
// the bytes need: a text value holding LF goes out in binary form, and data that could
// end the packet early (LF "|" LF) gets an explicit content length.
//
// Preconditions for built packets (the parser guarantees them): names and the method are
// keywords (is_keyword), routing values hold no LF, state_sync is "=\n"/"?\n" lines.
#include <cstddef>
#include <string>

#include "protocols/psyc/packet.hpp"

namespace parley::protocols::psyc {

// Appends the packet to `out`.
void render(const Packet& p, std::string& out);
// The empty packet "|" LF: a circuit's greeting (each side sends one first) and a no-op.
inline constexpr std::string_view kEmptyPacket = "|\n";

}  // namespace parley::protocols::psyc

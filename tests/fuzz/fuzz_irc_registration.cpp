// Fuzzes both sides of IRC registration with lines from the input: the server-side machine
// (CAP, PASS, NICK, USER, AUTHENTICATE reassembly and its bounds) and the client side (CAP
// LS/ACK/NAK/NEW/DEL lists, AUTHENTICATE payloads and SASL numerics from a server).
// clang-format off (run_libfuzzer.sh reads these lines as they are)
// fuzz-sources: protocols/irc/message.cpp protocols/irc/text.cpp protocols/irc/caps.cpp protocols/irc/registration.cpp protocols/irc/cap_client.cpp protocols/common/sasl.cpp
// fuzz-libs: -lgsasl
// clang-format on
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/irc/cap_client.hpp"
#include "protocols/irc/message.hpp"
#include "protocols/irc/registration.hpp"

using namespace parley::protocols::irc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Registration reg;
  reg.caps |= cap_sasl;
  CapNegotiator caps({"sasl", "server-time", "batch", "away-notify"});
  SaslClient plain("PLAIN", "alice", "pw");
  SaslClient scram("SCRAM-SHA-256", "alice", "pw");
  std::string out;
  caps.start(out);
  plain.start(out);
  scram.start(out);
  LineFramer framer;
  int guard = 0;
  while (!in.empty() && ++guard < 10000) {
    auto r = framer.next(in);
    if (r.consumed > in.size()) __builtin_trap();
    in.remove_prefix(r.consumed);
    if (r.status == LineFramer::Status::need_more) break;
    if (r.status != LineFramer::Status::line) continue;
    Message m;
    if (parse_line(r.line, m) != ParseError::none) continue;
    out.clear();
    std::string_view cmd = m.command;
    bool registered = (guard % 7) == 0;
    if (cmd == "CAP") {
      (void)on_cap(reg, m, registered, "irc.test", "nick", out);
    } else if (cmd == "PASS") {
      (void)on_pass(reg, m, registered);
    } else if (cmd == "NICK") {
      (void)check_nick(m, 30);
    } else if (cmd == "USER") {
      std::string u, real;
      (void)on_user(m, registered, u, real);
      if (u.size() > 19) __builtin_trap();
    } else if (cmd == "AUTHENTICATE") {
      auto s = on_authenticate(reg, m.param(0), false, registered);
      if (s.payload.size() > kMaxSaslMessage) __builtin_trap();
      if (s.kind == SaslStep::Kind::payload) append_authenticate(out, s.payload);
    }
    (void)caps.on_message(m, out);
    (void)plain.on_message(m, out);
    (void)scram.on_message(m, out);
    for (std::size_t p = 0; (p = out.find('\n', p)) != std::string::npos; ++p)
      if (p == 0 || out[p - 1] != '\r') __builtin_trap();
  }
  return 0;
}

// Fuzzes what a relay bot makes of a line heard in another room (adapters/bridge/relay_text):
// the nick and text come from remote people. Checked: every IRC wire line is one command
// (no CR, LF or NUL inside, CRLF at the end, within 512 bytes), at most max_lines relayed
// lines, and the nick in a prefix has no control characters.
// clang-format off (run_libfuzzer.sh reads these lines as they are)
// fuzz-sources: adapters/bridge/relay_text.cpp adapters/gateway/outgoing.cpp protocols/irc/message.cpp protocols/irc/text.cpp
// clang-format on
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapters/bridge/relay_text.hpp"

using namespace parley::adapters::bridge;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t cut = static_cast<unsigned char>(in[0]) % (size - 1) + 1;  // nick | text
  const std::string_view nick = in.substr(1, cut - 1);
  const std::string_view text = in.substr(cut);
  const bool action = (in[0] & 1) != 0;
  for (char c : clean_nick(nick))
    if (static_cast<unsigned char>(c) < 0x20) std::abort();
  const Heard h{std::string(nick), std::string(text), action};
  const std::size_t max_lines = 4;
  if (relay_lines("<{nick}> ", h, max_lines).size() > max_lines) std::abort();
  for (bool puppet : {false, true})
    for (const auto& w : irc_wire_lines("dev-bridge", "#dev", "<{nick}> ", h, max_lines, puppet)) {
      if (w.size() > 512 || w.size() < 2 || w.substr(w.size() - 2) != "\r\n") std::abort();
      const std::string_view body(w.data(), w.size() - 2);
      if (body.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) std::abort();
    }
  return 0;
}

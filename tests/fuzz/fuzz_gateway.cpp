// Fuzzes what the IRC gateway parses: Biboumi addresses (a JID localpart and resource from
// the input), the XMPP body -> IRC lines conversion (no CR, LF or NUL inside a line, every
// line within 512 bytes, the fast path equal to the general one), and the outbound
// registration machine fed server lines.
// clang-format off (run_libfuzzer.sh reads these lines as they are)
// fuzz-sources: adapters/gateway/address.cpp adapters/gateway/outgoing.cpp protocols/irc/message.cpp protocols/irc/text.cpp protocols/irc/caps.cpp protocols/irc/registration.cpp protocols/irc/cap_client.cpp protocols/irc/isupport.cpp protocols/irc/client_registration.cpp protocols/common/sasl.cpp
// fuzz-libs: -lgsasl
// clang-format on
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/gateway/address.hpp"
#include "adapters/gateway/outgoing.hpp"
#include "protocols/irc/client_registration.hpp"
#include "protocols/irc/message.hpp"

using namespace parley::adapters::gateway;
namespace irc = parley::protocols::irc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // 1. address: localpart / resource
  auto slash = in.find('/');
  std::string_view local = in.substr(0, slash);
  std::string_view resource = slash == std::string_view::npos ? std::string_view{} : in.substr(slash + 1);
  if (auto a = parse_gateway_address(local, resource)) {
    for (char c : a->target)
      if (c == ' ' || c == '\r' || c == '\n' || c == '\0' || c == ',') std::abort();
    if (a->server.empty()) std::abort();
    if (jid_unescape(jid_escape(a->target)) != a->target) std::abort();
  }
  // 2. body -> lines
  std::vector<std::string> lines;
  privmsg_lines("nick", "#chan", in, 20, lines);
  for (const auto& l : lines) {
    if (l.size() > irc::kMaxBody || l.size() < 2 || l.substr(l.size() - 2) != "\r\n") std::abort();
    std::string_view body(l.data(), l.size() - 2);
    if (body.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) std::abort();
  }
  // ... and its one-line fast path writes what the general path writes (a short nick and
  // target so a short input is within the budget, a long one so it is not).
  std::vector<std::string> general;
  privmsg_lines_general("nick", "#chan", in, 20, general, "PRIVMSG", {});
  if (general != lines) std::abort();
  const std::string long_nick(size % 64 * 4, 'n');
  lines.clear(), general.clear();
  privmsg_lines(long_nick, "#c", in, 2, lines, "NOTICE");
  privmsg_lines_general(long_nick, "#c", in, 2, general, "NOTICE", {});
  if (general != lines) std::abort();
  // 3. registration fed the input as server lines
  irc::ClientIdentity id;
  id.nicks = {"a", "b"};
  id.sasl_user = "u";
  id.sasl_password = "p";
  irc::ClientRegistration reg(id);
  std::string out;
  reg.start(out);
  irc::LineFramer framer;
  std::string_view rest = in;
  while (!rest.empty()) {
    auto r = framer.next(rest);
    if (r.consumed == 0) break;
    rest.remove_prefix(r.consumed);
    if (r.status != irc::LineFramer::Status::line) continue;
    irc::Message m;
    if (irc::parse_line(r.line, m) != irc::ParseError::none) continue;
    out.clear();
    reg.on_message(m, out);
  }
  return 0;
}

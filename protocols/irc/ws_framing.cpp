#include "protocols/irc/ws_framing.hpp"

namespace parley::protocols::irc {

bool IrcWsFraming::on_message(std::string_view payload, bool, std::string& app, const char*& why,
                              ws::CloseCode& code) {
  if (payload.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    why = "IRC over WebSocket: CR, LF or NUL inside a message";
    code = ws::CloseCode::policy;
    return false;
  }
  app.append(payload);
  app += "\r\n";
  return true;
}

void IrcWsFraming::on_outgoing(std::string_view app, std::string& wire) {
  std::string_view in = app;
  if (!pending_.empty()) {
    pending_.append(app);
    in = pending_;
  }
  std::size_t start = 0;
  std::string fixed;
  for (;;) {
    const auto nl = in.find('\n', start);
    if (nl == std::string_view::npos) break;
    auto line = in.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = nl + 1;
    if (line.empty()) continue;
    if (binary_) {
      ws::write_frame(wire, ws::Opcode::binary, line);
    } else if (ws::valid_utf8(line)) {
      ws::write_frame(wire, ws::Opcode::text, line);
    } else {
      fixed.clear();
      ws::append_utf8_sanitized(fixed, line);
      ws::write_frame(wire, ws::Opcode::text, fixed);
    }
  }
  std::string left(in.substr(start));
  pending_ = std::move(left);
}

}  // namespace parley::protocols::irc

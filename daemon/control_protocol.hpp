#pragma once
// The control socket's wire format (`parleyd ctl`), pure: no sockets.
//
// One request per connection. The client sends one line of words separated by spaces and
// ended by LF ("status", "kick 12 too noisy", "account add alice"); a command that takes a
// secret (account add, account passwd) sends it as a second line. Requests are bounded
// (kMaxControlRequest bytes, kMaxControlWords words) and must be printable UTF-8.
// The daemon answers "ok" or "error TEXT" on the first line, then the body, and closes.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::daemon {

inline constexpr std::size_t kMaxControlRequest = 4096;  // bytes, both lines
inline constexpr std::size_t kMaxControlWords = 64;

struct ControlRequest {
  std::vector<std::string> words;  // words[0] is the command
  std::string secret;              // the second line, for commands that take one
};

// Whether the request starting with `words` carries a second line (account add|passwd).
bool control_needs_secret(const std::vector<std::string>& words);

// One request line (without its LF; a trailing CR is dropped). nullopt with `why` set on
// an empty line, control characters, too many words or a line over the bound.
std::optional<std::vector<std::string>> parse_control_line(std::string_view line, std::string& why);

// The request as the client sends it.
std::string render_control_request(const ControlRequest& r);

// The answer: "ok\n" + body, or "error TEXT\n" (TEXT on one line).
std::string control_ok(std::string_view body);
std::string control_error(std::string_view text);

// Client side: splits an answer into success and the text to print (the body, or the error).
struct ControlAnswer {
  bool ok = false;
  std::string text;
};
ControlAnswer parse_control_answer(std::string_view answer);

}  // namespace parley::daemon

#include "daemon/control_protocol.hpp"

namespace parley::daemon {

bool control_needs_secret(const std::vector<std::string>& words) {
  return words.size() >= 2 && words[0] == "account" && (words[1] == "add" || words[1] == "passwd");
}

std::optional<std::vector<std::string>> parse_control_line(std::string_view line, std::string& why) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > kMaxControlRequest) {
    why = "request too long";
    return std::nullopt;
  }
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < line.size()) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c == ' ') {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < line.size() && line[end] != ' ') {
      const auto b = static_cast<unsigned char>(line[end]);
      if (b < 0x20 || b == 0x7f) {
        why = "control character in the request";
        return std::nullopt;
      }
      ++end;
    }
    if (words.size() == kMaxControlWords) {
      why = "too many words in the request";
      return std::nullopt;
    }
    words.emplace_back(line.substr(i, end - i));
    i = end;
  }
  if (words.empty()) {
    why = "empty request";
    return std::nullopt;
  }
  return words;
}

std::string render_control_request(const ControlRequest& r) {
  std::string out;
  for (const auto& w : r.words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  out += '\n';
  if (control_needs_secret(r.words)) out += r.secret + '\n';
  return out;
}

std::string control_ok(std::string_view body) {
  std::string out = "ok\n";
  out += body;
  if (!body.empty() && body.back() != '\n') out += '\n';
  return out;
}

std::string control_error(std::string_view text) {
  std::string out = "error ";
  for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  out += '\n';
  return out;
}

ControlAnswer parse_control_answer(std::string_view answer) {
  const auto nl = answer.find('\n');
  const std::string_view first = answer.substr(0, nl);
  if (first == "ok")
    return {true, nl == std::string_view::npos ? std::string() : std::string(answer.substr(nl + 1))};
  if (first.starts_with("error ")) return {false, std::string(first.substr(6))};
  return {false,
          answer.empty() ? "no answer (connection closed)" : "unexpected answer: " + std::string(first)};
}

}  // namespace parley::daemon

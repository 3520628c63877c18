#include "protocols/irc/isupport.hpp"

namespace parley::protocols::irc {

void Isupport::apply(const Message& m) {
  // 005 <client> <tokens...> :are supported by this server
  for (std::size_t i = 1; i + 1 < m.nparams; ++i) apply_token(m.param(i));
}

void Isupport::apply_token(std::string_view token) {
  if (token.empty()) return;
  if (token.front() == '-') {  // a token withdrawn: back to the default
    token.remove_prefix(1);
    if (token == "CHANTYPES") chantypes = "#&";
    if (token == "PREFIX") prefix_modes = "ov", prefix_chars = "@+";
    return;
  }
  auto eq = token.find('=');
  std::string_view key = token.substr(0, eq);
  std::string_view value = eq == std::string_view::npos ? std::string_view{} : token.substr(eq + 1);
  if (key == "CHANTYPES") {
    // An empty value means the server has no channels at all.
    chantypes.assign(value.substr(0, kMaxIsupportValue));
  } else if (key == "PREFIX") {
    // "(modes)prefixes", the two lists the same length; empty: no membership prefixes.
    if (value.empty()) {
      prefix_modes.clear();
      prefix_chars.clear();
      return;
    }
    auto close = value.find(')');
    if (value.front() != '(' || close == std::string_view::npos) return;  // malformed: keep what we had
    std::string_view modes = value.substr(1, close - 1);
    std::string_view chars = value.substr(close + 1);
    if (modes.size() != chars.size() || modes.size() > kMaxIsupportValue) return;
    prefix_modes.assign(modes);
    prefix_chars.assign(chars);
  }
}

char Isupport::mode_of_prefix(char c) const {
  auto i = prefix_chars.find(c);
  return i == std::string::npos ? 0 : prefix_modes[i];
}

NamesEntry split_names_entry(const Isupport& is, std::string_view entry) {
  NamesEntry e;
  std::size_t i = 0;
  while (i < entry.size() && e.modes.size() < kMaxIsupportValue) {
    char m = is.mode_of_prefix(entry[i]);
    if (m == 0) break;
    e.modes.push_back(m);
    ++i;
  }
  std::string_view nick = entry.substr(i);
  e.nick = nick.substr(0, nick.find('!'));
  return e;
}

}  // namespace parley::protocols::irc

#include "adapters/irc/command.hpp"

#include <stdexcept>

#include "protocols/common/ascii.hpp"

namespace parley::adapters::irc {

void CommandRegistry::add(const Command& cmd) {
  if (cmd.name.empty() || cmd.name.size() > kMaxName || cmd.run == nullptr || cmd.min_params > cmd.max_params)
    throw std::invalid_argument("irc: bad command " + std::string(cmd.name));
  for (char ch : cmd.name)
    if (ch >= 'a' && ch <= 'z')
      throw std::invalid_argument("irc: command not upper case: " + std::string(cmd.name));
  by_name_.insert_or_assign(cmd.name, cmd);
  if (cmd.name.size() > longest_) longest_ = cmd.name.size();
}

void CommandRegistry::add(std::span<const Command> group) {
  for (const auto& cmd : group) add(cmd);
}

std::string_view CommandRegistry::upper(std::string_view name, char* buf) const {
  // longest_ <= kMaxName (add): the second test is for gcc 12, which cannot see that and
  // warned of an overflow of find()'s buffer in optimised builds.
  if (name.size() > longest_ || name.size() > kMaxName) return {};
  for (std::size_t i = 0; i < name.size(); ++i) {
    char ch = name[i];
    buf[i] = (ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 'a' + 'A') : ch;
  }
  return {buf, name.size()};
}

const Command* CommandRegistry::find(std::string_view name) const {
  char buf[kMaxName];
  std::string_view key = upper(name, buf);
  if (key.empty()) return nullptr;
  auto it = by_name_.find(key);
  return it == by_name_.end() ? nullptr : &it->second;
}

const Command* CommandRegistry::check(std::string_view command, std::size_t nparams, bool registered,
                                      CommandReplies& out) const {
  const Command* cmd = find(command);
  if (!cmd) {
    if (registered)
      out.reply(421, protocols::ascii_upper(command), "Unknown command");
    else
      out.reply(451, {}, "You have not registered");
    return nullptr;
  }
  if (cmd->needs_registration && !registered) {
    out.reply(451, {}, "You have not registered");
    return nullptr;
  }
  if (nparams < cmd->min_params) {
    out.reply(461, cmd->name, "Not enough parameters");
    return nullptr;
  }
  return cmd;
}

}  // namespace parley::adapters::irc

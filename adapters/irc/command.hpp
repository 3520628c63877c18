#pragma once
// IRC commands as values (the shape of InspIRCd's core modules): a name, the parameters it
// takes, whether registration must be complete, and a plain function to run. Each area's
// commands live in adapters/irc/commands/<area>.cpp and are added to one CommandRegistry,
// which IrcServer owns; the registry makes the checks every command shares, so a handler
// starts with its parameters counted and its client in the state it needs.
//
// Per line: one hash lookup and one call through a function pointer (no std::function, no
// allocation); only a refused line costs a reply.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocols/irc/message.hpp"

namespace parley::adapters::irc {

class IrcServer;
class IrcClient;

using CommandHandler = void (*)(IrcServer&, IrcClient&, const protocols::irc::Message&);

struct Command {
  static constexpr std::uint8_t kUnlimited = 0xff;

  std::string_view name;  // upper case; static storage (a literal)
  // Fewer parameters than min_params: ERR_NEEDMOREPARAMS. Parameters past max_params (the
  // command's syntax in Modern IRC) are not read and not refused: the Modern IRC document
  // names no reply for too many, and ircds ignore them.
  std::uint8_t min_params = 0;
  std::uint8_t max_params = kUnlimited;
  bool needs_registration = true;  // before the welcome: ERR_NOTREGISTERED
  CommandHandler run = nullptr;
};

// Where the registry's own replies go: the client's output in IrcServer, a recorder in tests.
// Called only for a refused line.
class CommandReplies {
 public:
  virtual void reply(int numeric, std::string_view param, std::string_view text) = 0;

 protected:
  ~CommandReplies() = default;
};

class CommandRegistry {
 public:
  // Adds one command, or an area's group; a later one of the same name replaces it.
  void add(const Command& cmd);
  void add(std::span<const Command> group);

  // The command named `name`, compared case-insensitively, or nullptr.
  const Command* find(std::string_view name) const;

  // The command `command` names when `registered` and `nparams` allow it to run; otherwise
  // nullptr after the reply today's clients expect (Modern IRC numerics, in this order):
  //   unknown, registered:      421 ERR_UNKNOWNCOMMAND <COMMAND> :Unknown command
  //   unknown or needing registration, not registered:
  //                             451 ERR_NOTREGISTERED :You have not registered
  //   too few parameters:       461 ERR_NEEDMOREPARAMS <COMMAND> :Not enough parameters
  const Command* check(std::string_view command, std::size_t nparams, bool registered,
                       CommandReplies& out) const;

  std::size_t size() const { return by_name_.size(); }

 private:
  // Upper-cases `name` into `buf` when no longer than the longest command; else empty.
  std::string_view upper(std::string_view name, char* buf) const;

  static constexpr std::size_t kMaxName = 32;
  std::unordered_map<std::string_view, Command> by_name_;  // keys view Command::name
  std::size_t longest_ = 0;
};

}  // namespace parley::adapters::irc

// The command registry (adapters/irc/command.hpp): lookup, and the checks every command
// shares (registration, parameter count, unknown command) with the replies they send.
#include "adapters/irc/command.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "adapters/irc/commands/commands.hpp"

using namespace parley::adapters::irc;

namespace {

struct Reply {
  int numeric;
  std::string param, text;
  bool operator==(const Reply&) const = default;
};

struct Recorder final : CommandReplies {
  std::vector<Reply> got;
  void reply(int numeric, std::string_view param, std::string_view text) override {
    got.push_back({numeric, std::string(param), std::string(text)});
  }
};

void noop(IrcServer&, IrcClient&, const parley::protocols::irc::Message&) {}
void other(IrcServer&, IrcClient&, const parley::protocols::irc::Message&) {}

CommandRegistry sample() {
  static constexpr Command kGroup[] = {
      {"JOIN", 1, 2, true, &noop},
      {"NICK", 0, 1, false, &noop},
      {"KICK", 2, 3, true, &noop},
      {"ISON", 1, Command::kUnlimited, true, &noop},
  };
  CommandRegistry r;
  r.add(kGroup);
  return r;
}

}  // namespace

TEST_CASE("irc commands: lookup is case-insensitive") {
  auto r = sample();
  CHECK(r.size() == 4);
  REQUIRE(r.find("JOIN"));
  CHECK(r.find("join") == r.find("JOIN"));
  CHECK(r.find("JoIn") == r.find("JOIN"));
  CHECK(r.find("JOIN")->name == "JOIN");
  CHECK(r.find("JOINS") == nullptr);
  CHECK(r.find("JOI") == nullptr);
  CHECK(r.find("") == nullptr);
  CHECK(r.find(std::string(200, 'j')) == nullptr);  // longer than any command
}

TEST_CASE("irc commands: unknown command is 421 once registered, 451 before") {
  auto r = sample();
  Recorder out;
  CHECK(r.check("frob", 0, true, out) == nullptr);
  CHECK(out.got == std::vector<Reply>{{421, "FROB", "Unknown command"}});
  out.got.clear();
  // Longer than any command: still named, upper-cased, in the reply.
  CHECK(r.check("averyveryverylongcommandnamethatisnotthere", 0, true, out) == nullptr);
  CHECK(out.got ==
        std::vector<Reply>{{421, "AVERYVERYVERYLONGCOMMANDNAMETHATISNOTTHERE", "Unknown command"}});
  out.got.clear();
  CHECK(r.check("frob", 0, false, out) == nullptr);
  CHECK(out.got == std::vector<Reply>{{451, "", "You have not registered"}});
}

TEST_CASE("irc commands: registration gate") {
  auto r = sample();
  Recorder out;
  CHECK(r.check("JOIN", 1, false, out) == nullptr);
  CHECK(out.got == std::vector<Reply>{{451, "", "You have not registered"}});
  out.got.clear();
  // The gate comes before the parameter count, as it always did.
  CHECK(r.check("KICK", 0, false, out) == nullptr);
  CHECK(out.got == std::vector<Reply>{{451, "", "You have not registered"}});
  out.got.clear();
  CHECK(r.check("nick", 0, false, out) == r.find("NICK"));
  CHECK(r.check("JOIN", 1, true, out) == r.find("JOIN"));
  CHECK(out.got.empty());
}

TEST_CASE("irc commands: too few parameters is 461 naming the command, too many are ignored") {
  auto r = sample();
  Recorder out;
  CHECK(r.check("kick", 1, true, out) == nullptr);
  CHECK(out.got == std::vector<Reply>{{461, "KICK", "Not enough parameters"}});
  out.got.clear();
  CHECK(r.check("kick", 2, true, out) == r.find("KICK"));
  CHECK(r.check("kick", 5, true, out) == r.find("KICK"));  // past max_params: run, extras unread
  CHECK(r.check("ISON", 15, true, out) == r.find("ISON"));
  CHECK(out.got.empty());
}

TEST_CASE("irc commands: a later registration replaces, bad commands are refused") {
  auto r = sample();
  r.add(Command{"JOIN", 0, 2, false, &other});
  CHECK(r.size() == 4);
  CHECK((r.find("join")->run == &other));
  CHECK(!r.find("join")->needs_registration);
  CHECK_THROWS_AS(r.add(Command{"join", 0, 1, true, &noop}), std::invalid_argument);
  CHECK_THROWS_AS(r.add(Command{"", 0, 1, true, &noop}), std::invalid_argument);
  CHECK_THROWS_AS(r.add(Command{"PART", 2, 1, true, &noop}), std::invalid_argument);
  CHECK_THROWS_AS(r.add(Command{"PART", 0, 1, true, nullptr}), std::invalid_argument);
}

TEST_CASE("irc commands: the server's table keeps today's arity and registration rules") {
  CommandRegistry r;
  register_all_commands(r);
  struct Expect {
    const char* name;
    int min;
    bool registered;
  };
  // The table IrcServer had before commands became values (one per line of the old table).
  const Expect expected[] = {
      {"CAP", 1, false},     {"AUTHENTICATE", 1, false}, {"PASS", 1, false},   {"NICK", 0, false},
      {"USER", 4, false},    {"PING", 1, false},         {"PONG", 0, false},   {"QUIT", 0, false},
      {"JOIN", 1, true},     {"PART", 1, true},          {"PRIVMSG", 0, true}, {"NOTICE", 0, true},
      {"TAGMSG", 1, true},   {"TOPIC", 1, true},         {"NAMES", 0, true},   {"LIST", 0, true},
      {"KICK", 2, true},     {"INVITE", 2, true},        {"MODE", 1, true},    {"WHO", 0, true},
      {"WHOIS", 1, true},    {"WHOWAS", 1, true},        {"AWAY", 0, true},    {"ISON", 1, true},
      {"USERHOST", 1, true}, {"OPER", 2, true},          {"KILL", 2, true},    {"MOTD", 0, true},
      {"LUSERS", 0, true},   {"VERSION", 0, true},       {"TIME", 0, true},    {"MONITOR", 1, true},
      {"SETNAME", 1, true},  {"INFO", 0, true},          {"LINKS", 0, true},
  };
  CHECK(r.size() == std::size(expected));
  for (const auto& e : expected) {
    CAPTURE(e.name);
    const Command* c = r.find(e.name);
    REQUIRE(c);
    CHECK(c->min_params == e.min);
    CHECK(c->needs_registration == e.registered);
    CHECK(c->max_params >= c->min_params);
  }
}

// IRC client pieces shared by the IRC workloads and the mixed chat workload: line parsing,
// PING answers, registration and JOIN (each waits for the numeric that completes it).
#pragma once

#include "common.hpp"

namespace loadgen {

// The command of an IRC line (after optional @tags and :prefix).
std::string_view irc_command(std::string_view line);
// Answers PING; throws Failure on ERROR. Returns true if the line was handled here.
bool irc_housekeeping(Conn& c, std::string_view cmd, std::string_view line);
bool is_numeric_error(std::string_view cmd);
// NICK/USER (after PASS when `pass` is set, with CAP REQ :caps ... CAP END when `caps` is),
// until 001; a 4xx/5xx numeric fails.
awaitable<void> irc_register(Conn& c, const std::string& nick, const std::string& pass,
                             const std::string& caps = "");
// JOIN until 366 (RPL_ENDOFNAMES).
awaitable<void> irc_join(Conn& c, const std::string& nick, const std::string& channel);

}  // namespace loadgen

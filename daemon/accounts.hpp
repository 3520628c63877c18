#pragma once
// `parleyd account add|remove|passwd|list [USER]`: account management on the store in
// data_dir, through core::Directory (so passwords are only ever stored as SCRAM credentials).
#include <istream>
#include <ostream>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/services/directory.hpp"

namespace parley::daemon {

// Runs one account action against `directory`. add and passwd read the password as one line
// from `in`. Prints results to `out` and errors to `err`; returns the process exit code.
int account_command(core::Directory& directory, std::string_view action, const std::string& user, std::istream& in,
                    std::ostream& out, std::ostream& err);

// Opens the store in c.server.data_dir and runs account_command on it.
int account_command(const config::Config& c, std::string_view action, const std::string& user, std::istream& in,
                    std::ostream& out, std::ostream& err);

}  // namespace parley::daemon

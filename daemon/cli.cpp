#include "daemon/cli.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

#include "config/loader.hpp"
#include "core/services/password_hash.hpp"
#include "daemon/accounts.hpp"
#include "daemon/ctl_client.hpp"
#include "daemon/daemon.hpp"
#include "parley/version.hpp"

namespace parley::daemon {

namespace {

constexpr const char* kDefaultConfig = "config/parley.yaml";

// Loads a config, printing every error to stderr; nullopt if it has errors.
std::optional<config::Config> load_or_report(const std::string& path) {
  auto r = config::load_file(path);
  if (!r) {
    std::cerr << config::format(r.errors());
    std::cerr << "parleyd: " << path << ": " << r.errors().size() << (r.errors().size() == 1 ? " error" : " errors")
              << "\n";
    return std::nullopt;
  }
  return std::move(r).value();
}

int hash_password_command(std::uint32_t iterations, std::istream& in, std::ostream& out, std::ostream& err) {
  std::string password;
  if (!std::getline(in, password)) {
    err << "parleyd: expected the password as one line on standard input\n";
    return 1;
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    err << "parleyd: the password must not be empty\n";
    return 1;
  }
  std::string h = core::hash_password(password, iterations);
  if (h.empty()) {
    err << "parleyd: cannot hash the password\n";
    return 1;
  }
  out << h << "\n";
  return 0;
}

}  // namespace

int main_cli(int argc, char** argv) {
  CLI::App app{"parleyd: multi-protocol IM gateway (IRC, XMPP, SIP/SIMPLE, PSYC around one neutral core)", "parleyd"};
  std::string config_path = kDefaultConfig;
  std::string check_path;
  app.add_option("-c,--config", config_path, "configuration file (relative to the working directory)")
      ->capture_default_str();
  app.add_option("--check-config", check_path, "check FILE, print every error to stderr, exit 0 if valid, else 1")
      ->type_name("FILE");
  app.set_version_flag("--version", "parleyd " + std::string(kVersion));

  auto* account = app.add_subcommand("account", "manage accounts in the store of data_dir");
  account->require_subcommand(1);
  std::string action;
  std::string user;
  for (const char* name : {"add", "remove", "passwd", "list"}) {
    std::string help = name == std::string("add")      ? "add USER; reads the password as one line from stdin"
                       : name == std::string("passwd") ? "set USER's password; reads it as one line from stdin"
                       : name == std::string("remove") ? "remove USER"
                                                       : "list all accounts";
    auto* sub = account->add_subcommand(name, help);
    if (name != std::string("list")) sub->add_option("USER", user, "account name")->required();
    sub->add_option("-c,--config", config_path, "configuration file")->capture_default_str();
    sub->callback([&action, name] { action = name; });
  }

  // For irc.opers / irc.password: a PBKDF2 hash to put in the config instead of plaintext.
  auto* hash = app.add_subcommand(
      "hash-password",
      "read a password as one line from stdin, print its hash for irc.opers or irc.password");
  std::uint32_t iterations = core::kDefaultHashIterations;
  hash->add_option("-i,--iterations", iterations, "PBKDF2-HMAC-SHA-256 iterations")
      ->capture_default_str()
      ->check(CLI::Range(1000u, core::kMaxHashIterations));

  // Operations on a running daemon, through its control socket (server.control_socket).
  auto* ctl =
      app.add_subcommand("ctl",
                         "talk to the running daemon: status, sessions, kick ID [REASON], reload, metrics, "
                         "account add|passwd|remove USER (password on stdin), account list");
  std::string control_path;
  std::vector<std::string> ctl_words;
  ctl->add_option("--control", control_path, "control socket (default: server.control_socket of --config)")
      ->type_name("PATH");
  ctl->add_option("-c,--config", config_path, "configuration file naming the control socket")
      ->capture_default_str();
  ctl->add_option("COMMAND", ctl_words, "the command and its arguments")->required();
  ctl->positionals_at_end();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (hash->parsed()) return hash_password_command(iterations, std::cin, std::cout, std::cerr);
  if (ctl->parsed()) {
    if (control_path.empty()) {
      auto c = load_or_report(config_path);
      if (!c) return 1;
      control_path = c->server.control_socket;
    }
    return ctl_command(control_path, ctl_words, std::cin, std::cout, std::cerr);
  }
  if (!check_path.empty()) {
    if (!load_or_report(check_path)) return 1;
    std::cout << check_path << ": ok\n";
    return 0;
  }
  auto c = load_or_report(config_path);
  if (!c) return 1;
  if (!action.empty()) return account_command(*c, action, user, std::cin, std::cout, std::cerr);
  return run_daemon(config_path, std::move(*c));
}

}  // namespace parley::daemon

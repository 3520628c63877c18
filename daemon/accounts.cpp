#include "daemon/accounts.hpp"

#include <filesystem>

#include "core/store/sqlite_store.hpp"

namespace parley::daemon {

namespace {

bool read_password(std::istream& in, std::string& password, std::ostream& err) {
  if (!std::getline(in, password)) {
    err << "parleyd: expected the password as one line on standard input\n";
    return false;
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    err << "parleyd: the password must not be empty\n";
    return false;
  }
  return true;
}

int report(const core::Status& s, std::string_view done, const std::string& user, std::ostream& out,
           std::ostream& err) {
  if (!s) {
    err << "parleyd: " << user << ": " << s.error().text << "\n";
    return 1;
  }
  out << done << " " << user << "\n";
  return 0;
}

}  // namespace

int account_command(core::Directory& directory, std::string_view action, const std::string& user, std::istream& in,
                    std::ostream& out, std::ostream& err) {
  if (action == "list") {
    auto users = directory.list();
    if (!users) {
      err << "parleyd: " << users.error().text << "\n";
      return 1;
    }
    for (const auto& u : users.value()) out << u << "\n";
    return 0;
  }
  if (user.empty()) {
    err << "parleyd: account " << action << " needs a USER\n";
    return 1;
  }
  std::string password;
  if (action == "add") {
    if (!read_password(in, password, err)) return 1;
    return report(directory.add(user, password), "added", user, out, err);
  }
  if (action == "passwd") {
    if (!read_password(in, password, err)) return 1;
    return report(directory.set_password(user, password), "changed password of", user, out, err);
  }
  if (action == "remove") return report(directory.remove(user), "removed", user, out, err);
  err << "parleyd: unknown account action '" << action << "'; expected add, remove, passwd or list\n";
  return 1;
}

int account_command(const config::Config& c, std::string_view action, const std::string& user, std::istream& in,
                    std::ostream& out, std::ostream& err) {
  std::error_code ec;
  std::filesystem::create_directories(c.server.data_dir, ec);
  if (ec) {
    err << "parleyd: cannot create data_dir " << c.server.data_dir << ": " << ec.message() << "\n";
    return 1;
  }
  auto store = core::SqliteStore::open((std::filesystem::path(c.server.data_dir) / "parley.db").string());
  if (!store) {
    err << "parleyd: cannot open the store: " << store.error().text << "\n";
    return 1;
  }
  core::Directory directory(*store.value());
  // SIP digest verifiers are stored for this realm when a password is set (AccountRecord).
  if (c.sip.enabled) directory.set_digest_realm(config::sip_domain(c));
  return account_command(directory, action, user, in, out, err);
}

}  // namespace parley::daemon

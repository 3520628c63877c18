#pragma once
// Directory of accounts. Passwords are never stored: only salted SCRAM credentials
// (RFC 5802 §3) for SHA-1 and SHA-256, from which PLAIN logins are verified too.
#include <string>
#include <string_view>
#include <vector>

#include "core/model/error.hpp"
#include "core/store/store.hpp"

namespace parley::core {

enum class ScramHash : std::uint8_t { sha1, sha256 };

class Directory {
 public:
  explicit Directory(Store& store, std::uint32_t iterations = 4096) : store_(store), iterations_(iterations) {}

  Status add(const std::string& user, std::string_view password);  // conflict if it exists
  Status set_password(const std::string& user, std::string_view password);
  Status remove(const std::string& user);
  bool exists(const std::string& user);
  Result<std::vector<std::string>> list();
  // For SCRAM servers: the stored credentials. item_not_found for an unknown user.
  Result<ScramCredentials> scram(const std::string& user, ScramHash hash);
  // For PLAIN/PASS: not_authorized on a wrong password or an unknown user (same error, so
  // the answer does not reveal which accounts exist).
  Status verify_password(const std::string& user, std::string_view password);

  static ScramCredentials derive(ScramHash hash, std::string_view password, std::string_view salt,
                                 std::uint32_t iterations);

 private:
  Store& store_;
  std::uint32_t iterations_;
};

}  // namespace parley::core

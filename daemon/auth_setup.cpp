#include "daemon/auth_setup.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace parley::daemon {

namespace {
constexpr std::size_t kSecretSize = 32;
}

std::optional<std::string> load_decoy_secret(const std::string& data_dir, std::string& why) {
  const std::string path = (std::filesystem::path(data_dir) / "auth_secret").string();
  std::string secret(kSecretSize, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = ::read(fd, secret.data(), secret.size());
    ::close(fd);
    if (n == static_cast<ssize_t>(kSecretSize)) return secret;
    why = path + ": expected " + std::to_string(kSecretSize) + " bytes; delete it to make a new one";
    return std::nullopt;
  }
  if (errno != ENOENT) {
    why = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), static_cast<int>(secret.size())) != 1) {
    why = "RAND_bytes failed";
    return std::nullopt;
  }
  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, secret.data(), secret.size()) != static_cast<ssize_t>(secret.size())) {
    why = path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return std::nullopt;
  }
  ::close(fd);
  return secret;
}

core::AuthThrottle::Options throttle_options(const config::AuthConfig& c) {
  core::AuthThrottle::Options o;
  o.window = std::chrono::seconds(c.throttle.window);
  o.address_failures = c.throttle.address_failures;
  o.account_failures = c.throttle.account_failures;
  o.account_delay = std::chrono::milliseconds(c.throttle.account_delay_ms);
  o.max_tracked = c.throttle.max_tracked;
  return o;
}

}  // namespace parley::daemon

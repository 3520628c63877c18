#pragma once
// Password checks for every adapter, off the core strand (docs/ARCHITECTURE.md, Threads).
//
// PBKDF2 costs milliseconds by design; run on the core strand, a flood of wrong passwords
// stalled every user. So a check is split: the credentials (real, or decoys for an
// unknown user: core::Directory::login_credentials) are read on the core strand, which is
// cheap; the derivation runs on a small thread pool that never touches the core; the
// verdict is posted back to the caller's executor. The throttle (core::AuthThrottle) is
// consulted first: a refused attempt costs no derivation at all.
//
//   core strand                 auth pool                caller's executor
//   login_credentials()  --->  Directory::matches()  ---> done(AuthResult)
//   throttle.check()                                      (failures recorded)
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "adapters/common/runtime.hpp"
#include "core/services/auth_throttle.hpp"
#include "core/services/directory.hpp"

namespace parley::adapters {

// Owned by the daemon, handed to adapters through Runtime::auth.
class AuthService {
 public:
  AuthService(unsigned workers, core::AuthThrottle::Options throttle, unsigned max_failures_per_connection);
  ~AuthService();  // waits for the checks in progress
  AuthService(const AuthService&) = delete;
  AuthService& operator=(const AuthService&) = delete;

  boost::asio::thread_pool& pool() { return pool_; }
  core::AuthThrottle& throttle() { return throttle_; }
  unsigned max_failures_per_connection() const { return max_failures_.load(); }
  void set_max_failures_per_connection(unsigned n) { max_failures_.store(n); }
  // Stops accepting work: checks queued later never run (shutdown).
  void stop();

 private:
  boost::asio::thread_pool pool_;
  core::AuthThrottle throttle_;
  std::atomic<unsigned> max_failures_;
};

enum class AuthResult : std::uint8_t { ok, wrong, throttled };

using AuthDone = std::function<void(AuthResult)>;

// Core strand. PLAIN / PASS: does `password` open `user`'s account? An unknown user costs
// the same PBKDF2 as a known one. `address` keys the throttle. done() runs on `back`.
void check_account_password(Runtime& rt, const std::string& address, const std::string& user,
                            std::string password, boost::asio::any_io_executor back, AuthDone done);

// Any thread. A password from the configuration (plaintext or core::password_matches
// hash) against what the client gave; throttled per address (account: `what`, e.g. "oper:boss").
void check_config_password(Runtime& rt, const std::string& address, const std::string& what,
                           std::string stored, std::string given, boost::asio::any_io_executor back,
                           AuthDone done);

// Core strand. Start of a SCRAM exchange: the credentials to run it with (decoys for an
// unknown user), after the throttle's verdict; done(result, creds) runs on `back`
// (result: ok or throttled; the exchange itself decides wrong).
using ScramStartDone = std::function<void(AuthResult, core::Directory::LoginCredentials)>;
void start_scram(Runtime& rt, const std::string& address, const std::string& user, core::ScramHash hash,
                 boost::asio::any_io_executor back, ScramStartDone done);

// Any thread: a failed login (wrong SCRAM proof, decoy) for the throttle.
void record_auth_failure(Runtime& rt, const std::string& address, const std::string& user);

// Failed logins a connection may make before it is closed.
unsigned max_auth_failures(const Runtime& rt);

}  // namespace parley::adapters

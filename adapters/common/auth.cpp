#include "adapters/common/auth.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "adapters/common/post_guarded.hpp"
#include "core/core.hpp"
#include "core/services/password_hash.hpp"

namespace parley::adapters {

namespace asio = boost::asio;

AuthService::AuthService(unsigned workers, core::AuthThrottle::Options throttle,
                         unsigned max_failures_per_connection)
    : pool_(workers ? workers : 1), throttle_(throttle), max_failures_(max_failures_per_connection) {}

AuthService::~AuthService() {
  pool_.stop();
  pool_.join();
}

void AuthService::stop() { pool_.stop(); }

namespace {

// Runs `fn` after `delay` (a throttled account) on `ex`, or at once through a post; every
// hop goes through the exception firewall (a throwing derivation or verdict is logged and
// dropped, the pool thread and the io thread go on).
template <class Fn>
void after(Runtime& rt, std::chrono::steady_clock::duration delay, const asio::any_io_executor& ex, Fn fn) {
  if (delay <= std::chrono::steady_clock::duration::zero()) {
    post_guarded(ex, "auth: password check", std::move(fn));
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(rt.io, delay);
  timer->async_wait([timer, ex, fn = std::move(fn)](const boost::system::error_code&) mutable {
    post_guarded(ex, "auth: password check", std::move(fn));
  });
}

// Without an AuthService (unit tests) everything runs inline, synchronously.
template <class Fn>
void reply(Runtime& rt, const asio::any_io_executor& back, Fn fn) {
  if (rt.auth)
    post_guarded(back, "auth: reply", std::move(fn));
  else
    fn();
}

// The derivation on the pool (inline without a pool: unit tests), then done() on `back`
// with failures recorded.
void derive_then(Runtime& rt, std::chrono::steady_clock::duration delay, std::string address,
                 std::string account, std::function<bool()> work, asio::any_io_executor back, AuthDone done) {
  if (!rt.auth) {
    bool ok = work();
    done(ok ? AuthResult::ok : AuthResult::wrong);
    return;
  }
  AuthService* auth = rt.auth;
  auto job = [auth, address = std::move(address), account = std::move(account), work = std::move(work), back,
              done = std::move(done)]() mutable {
    bool ok = work();
    if (!ok) auth->throttle().failure(address, account);
    post_guarded(back, "auth: verdict",
                 [ok, done = std::move(done)] { done(ok ? AuthResult::ok : AuthResult::wrong); });
  };
  after(rt, delay, rt.auth->pool().get_executor(), std::move(job));
}

}  // namespace

void check_account_password(Runtime& rt, const std::string& address, const std::string& user,
                            std::string password, asio::any_io_executor back, AuthDone done) {
  core::AuthThrottle::Verdict v;
  if (rt.auth) v = rt.auth->throttle().check(address, user);
  if (v.refused) {
    reply(rt, back, [done = std::move(done)] { done(AuthResult::throttled); });
    return;
  }
  auto creds = rt.core.directory().login_credentials(user, core::ScramHash::sha256);
  if (!creds) {
    // A store error: no derivation to hide (it does not depend on the name), no failure.
    reply(rt, back, [done = std::move(done)] { done(AuthResult::wrong); });
    return;
  }
  derive_then(
      rt, v.delay, address, user,
      [c = std::move(creds).value(), pw = std::move(password)] { return core::Directory::matches(c, pw); },
      back, std::move(done));
}

void check_config_password(Runtime& rt, const std::string& address, const std::string& what,
                           std::string stored, std::string given, asio::any_io_executor back, AuthDone done) {
  core::AuthThrottle::Verdict v;
  if (rt.auth) v = rt.auth->throttle().check(address, what);
  if (v.refused) {
    reply(rt, back, [done = std::move(done)] { done(AuthResult::throttled); });
    return;
  }
  derive_then(
      rt, v.delay, address, what,
      [stored = std::move(stored), given = std::move(given)] {
        return core::password_matches(stored, given);
      },
      back, std::move(done));
}

void start_scram(Runtime& rt, const std::string& address, const std::string& user, core::ScramHash hash,
                 asio::any_io_executor back, ScramStartDone done) {
  core::AuthThrottle::Verdict v;
  if (rt.auth) v = rt.auth->throttle().check(address, user);
  if (v.refused) {
    reply(rt, back, [done = std::move(done)] { done(AuthResult::throttled, {}); });
    return;
  }
  auto creds = rt.core.directory().login_credentials(user, hash);
  if (!creds) {
    reply(rt, back, [done = std::move(done)] { done(AuthResult::wrong, {}); });
    return;
  }
  auto go = [done = std::move(done), c = std::move(creds).value()]() mutable {
    done(AuthResult::ok, std::move(c));
  };
  if (!rt.auth)
    go();
  else
    after(rt, v.delay, back, std::move(go));
}

void record_auth_failure(Runtime& rt, const std::string& address, const std::string& user) {
  if (rt.auth) rt.auth->throttle().failure(address, user);
}

unsigned max_auth_failures(const Runtime& rt) { return rt.auth ? rt.auth->max_failures_per_connection() : 3; }

}  // namespace parley::adapters

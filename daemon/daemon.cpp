#include "daemon/daemon.hpp"

#include <malloc.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/common/auth.hpp"
#include "adapters/common/listeners.hpp"
#include "adapters/common/runtime.hpp"
#include "config/loader.hpp"
#include "core/core.hpp"
#include "core/plugin/plugin.hpp"
#include "core/store/sqlite_store.hpp"
#include "core/store/write_behind_store.hpp"
#include "daemon/auth_setup.hpp"
#include "daemon/control_commands.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/io_threads.hpp"
#include "daemon/log_json.hpp"
#include "daemon/plugins.hpp"
#include "daemon/systemd_notify.hpp"
#include "daemon/tls.hpp"
#include "parley/version.hpp"
#include "protocols/common/net.hpp"

namespace parley::daemon {

namespace asio = boost::asio;

void setup_logging(const std::string& level, const std::string& format) {
  auto logger = spdlog::get("parley");
  if (!logger) {
    logger = spdlog::stderr_color_mt("parley");
    logger->flush_on(spdlog::level::trace);  // tests and supervisors read stderr as it comes
    spdlog::set_default_logger(logger);
  }
  if (format == "json")
    logger->set_formatter(std::make_unique<JsonLogFormatter>());
  else
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

namespace {

// How long a shutdown may take: plugins stop and sessions close within kDrain, then the
// io_context is stopped and the threads get kStopGrace to return; past that we exit anyway.
constexpr auto kDrain = std::chrono::seconds(4);
constexpr auto kStopGrace = std::chrono::seconds(1);
constexpr auto kStoreGrace = std::chrono::seconds(2);  // queued writes, when the threads are stuck

void seed_accounts(core::Core& core, const config::Config& c) {
  auto& dir = core.directory();
  for (const auto& a : c.accounts) {
    if (dir.exists(a.user)) {
      // A seed account made before SIP (or under another sip.domain) gets its digest
      // verifier now: the config holds its password (RFC 7616 HA1, AccountRecord).
      if (!dir.digest_realm().empty() && !dir.digest_ha1(a.user, dir.digest_realm(), false) &&
          dir.verify_password(a.user, a.password)) {
        if (auto s = dir.set_password(a.user, a.password); !s)
          spdlog::error("cannot add the SIP digest of seed account {}: {}", a.user, s.error().text);
      }
      continue;
    }
    auto s = core.directory().add(a.user, a.password);
    if (s)
      spdlog::info("added seed account {}", a.user);
    else
      spdlog::error("cannot add seed account {}: {}", a.user, s.error().text);
  }
}

// Shutdown: every write the core made is committed before the process exits (SIGTERM
// loses nothing; only kill -9 can lose the writes still queued).
void flush_store(core::WriteBehindStore& store) {
  if (auto st = store.sync(); !st) spdlog::error("store: a write failed: {}", st.error().text);
  const auto s = store.stats();
  spdlog::info("store: {} writes in {} commits; {} reads and {} writes waited, {} failed", s.writes,
               s.commits, s.read_waits, s.full_waits, s.errors);
}

// SIGHUP: re-reads the certificate and key (renewed in place, or other files named in the
// new config) and swaps the context every plugin's listeners hand to new connections;
// established connections keep theirs. A bad pair keeps the running one.
void reload_tls(adapters::ServerTls& tls, const config::Config& c) {
  auto files = server_tls_files(c);
  core::Status st = files ? tls.reload(files->cert, files->key) : core::Status(files.error());
  if (st)
    spdlog::info("TLS: loaded certificate {}", files->cert);
  else
    spdlog::error("TLS: {}; keeping the previous certificate", st.error().text);
}

}  // namespace

int run_daemon(const std::string& config_path, config::Config config) {
  setup_logging(config.server.log_level, config.server.log_format);
  spdlog::info("parleyd {} starting with {}", kVersion, config_path);
  systemd::warn_if_unsupported();

  std::error_code ec;
  std::filesystem::create_directories(config.server.data_dir, ec);
  if (ec) {
    spdlog::critical("cannot create data_dir {}: {}", config.server.data_dir, ec.message());
    return 1;
  }
  const std::string db_path = (std::filesystem::path(config.server.data_dir) / "parley.db").string();
  auto sqlite = core::SqliteStore::open(db_path);
  if (!sqlite) {
    spdlog::critical("cannot open the store {}: {}", db_path, sqlite.error().text);
    return 1;
  }
  // Commits run on the store's writer thread, grouped, not on the core strand
  // (docs/ARCHITECTURE.md, Threads). Declared before the core: destroyed after it, and its
  // destructor commits whatever is still queued.
  core::WriteBehindStore::Options store_options;
  store_options.queue_limit = config.server.store_queue;
  store_options.on_error = [](std::string_view what, const core::Error& e) {
    spdlog::error("store: {} failed after it was accepted: {}", what, e.text);
  };
  core::WriteBehindStore store(*sqlite.value(), store_options);

  core::CoreOptions options;
  options.domain = config.server.domain;
  // Read at start: a SIGHUP does not change them for the running core.
  options.max_rooms = config.server.limits.max_rooms;
  options.roster_size = config.server.limits.roster_size;
  options.offline_limit = config.server.limits.offline_messages;
  options.offline_bytes = config.server.limits.offline_bytes;
  options.offline_sender_share = config.server.limits.offline_sender_share;
  core::Core core(store, options);
  {
    std::string why;
    auto secret = load_decoy_secret(config.server.data_dir, why);
    if (!secret) {
      spdlog::critical("cannot keep the authentication secret: {}", why);
      return 1;
    }
    core.directory().set_decoy_secret(std::move(*secret));
  }
  if (config.sip.enabled) core.directory().set_digest_realm(config::sip_domain(config));
  seed_accounts(core, config);
  // Persistent rooms (IRC +P / XEP-0045 muc#roomconfig_persistentroom) outlive restarts.
  if (auto st = core.rooms().load(); !st) spdlog::error("cannot load persistent rooms: {}", st.error().text);

  auto tls_files = server_tls_files(config);
  if (!tls_files) {
    spdlog::critical("TLS: {}", tls_files.error().text);
    return 1;
  }
  if (tls_files->generated) spdlog::info("generated a self-signed certificate for {} in {}", config.server.domain, tls_files->cert);
  auto tls = adapters::ServerTls::load(tls_files->cert, tls_files->key);
  if (!tls) {
    spdlog::critical("TLS: {}", tls.error().text);
    return 1;
  }

  unsigned threads = config.server.threads ? config.server.threads : std::max(1u, std::thread::hardware_concurrency());
  // With two threads or more, the core strand gets an io_context of its own, run by one
  // thread, and the other threads run the connections' strands (XMPP c2s, TLS). Everything
  // on the core strand (the core, IRC and line connections, the IRC gateway's puppets and
  // its component stream) then wakes one thread per event instead of having Asio hand its
  // reactor to the other thread at every wake-up only for it to find the strand busy: 13-23
  // context switches per gateway line with one shared io_context of two threads, 2-5 here
  // (bench/README.md, issue 11). One thread: one io_context, as before. core_io is declared
  // before io: handlers still queued on io when it is destroyed may hold the core strand.
  const unsigned conn_threads = threads > 1 ? threads - 1 : 1;
  std::optional<asio::io_context> own_core_io;
  if (threads > 1) own_core_io.emplace(kCoreIoConcurrencyHint);
  asio::io_context io(static_cast<int>(conn_threads));
  asio::io_context& core_io = own_core_io ? *own_core_io : io;
  // Password checks run on their own threads (declared after io: destroyed, and joined,
  // before it).
  adapters::AuthService auth(config.auth.workers, throttle_options(config.auth),
                             config.auth.max_failures_per_connection);
  // The core's own io_context is run by exactly one thread (pool.run(core_io, 1) below): its
  // handlers skip the strand (protocols/common/lane.hpp, a direct lane). Shared with the
  // connections' threads (one io thread), the core keeps a strand, so that the core's thread
  // check still tells its handlers from the c2s strands'.
  adapters::CoreStrand core_lane =
      own_core_io ? protocols::Lane::direct(core_io) : protocols::Lane(asio::make_strand(core_io));
  auto limiter = protocols::AddressLimiter::make(adapters::limiter_policy(config.server.connections));
  adapters::Runtime rt{io, core_lane, core, tls.value(), &auth, std::move(limiter)};
  // Declared after io: plugins close their sockets while the io_context still exists.
  core::PluginRegistry registry(
      [](std::string_view plugin, std::string_view what) { spdlog::error("plugin {}: {}", plugin, what); });
  add_protocol_plugins(registry, rt, config);
  if (!registry.start_all()) {
    spdlog::critical("a plugin failed to start; shutting down");
    registry.stop_all();
    return 1;
  }

  auto work = asio::make_work_guard(io);
  auto core_work = asio::make_work_guard(core_io);
  ControlContext control_ctx{rt, std::chrono::steady_clock::now(), {}};
  std::shared_ptr<ControlServer> control;  // declared after io: closed while it exists
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  IoThreads pool;
  systemd::Watchdog watchdog(rt.core_strand);

  // SIGHUP and `parleyd ctl reload`: the file is read on the calling thread, applied on the
  // core strand. Returns why it was not reloaded (empty: reloading).
  std::function<std::string()> reload = [&]() -> std::string {
    spdlog::info("reloading {}", config_path);
    systemd::notify("RELOADING=1\nSTATUS=reloading " + config_path);
    auto r = config::load_file(config_path);
    if (!r) {
      for (const auto& d : r.errors()) spdlog::error("{}", d.str());
      spdlog::error("configuration not reloaded ({} errors); keeping the running one", r.errors().size());
      systemd::notify("READY=1\nSTATUS=reload failed; running on the previous configuration");
      return fmt::format("{} errors in {}; keeping the running configuration (first: {})", r.errors().size(),
                         config_path, r.errors().front().str());
    } else {
      asio::post(rt.core_strand, [&, fresh = std::move(r).value()]() mutable {
        // The store and the hub's identity are fixed for the life of the process.
        if (fresh.server.domain != config.server.domain || fresh.server.data_dir != config.server.data_dir)
          spdlog::warn("server.domain and server.data_dir changes take effect after a restart");
        fresh.server.domain = config.server.domain;
        fresh.server.data_dir = config.server.data_dir;
        config = std::move(fresh);
        rt.connections->set_policy(adapters::limiter_policy(config.server.connections));
        reload_tls(*rt.tls, config);
        setup_logging(config.server.log_level, config.server.log_format);
        seed_accounts(core, config);
        auth.throttle().set_options(throttle_options(config.auth));
        auth.set_max_failures_per_connection(config.auth.max_failures_per_connection);
        registry.reload_all();
        spdlog::info("configuration reloaded");
        systemd::notify("READY=1\nSTATUS=running; configuration reloaded");
      });
    }
    return {};
  };

  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& error, int signo) {
        if (error) return;
        if (signo == SIGHUP) {
          spdlog::info("SIGHUP");
          reload();
          signals.async_wait(on_signal);
          return;
        }
        spdlog::info("{}: shutting down", signo == SIGTERM ? "SIGTERM" : "SIGINT");
        systemd::notify("STOPPING=1\nSTATUS=shutting down");
        signals.cancel();
        // Closing streams wait for their peers to take what is queued; a peer that never
        // reads must not hold the io_context past kDrain (then tasks are dropped unrun).
        protocols::Connection::cap_flush_wait(kDrain / 4);
        if (control) control->stop();
        asio::post(rt.core_strand, [&] {
          watchdog.stop();
          registry.stop_all();
          core.sessions().terminate_all("server shutting down");
          work.reset();
          core_work.reset();
        });
        pool.request_shutdown();
      };
  signals.async_wait(on_signal);

  // server.control_socket (read at start): `parleyd ctl`. Opened before the io threads run
  // (it sets the umask around bind).
  control_ctx.reload = reload;
  if (!config.server.control_socket.empty()) {
    auto c = ControlServer::open(
        io, ControlServer::Options{config.server.control_socket, config.server.control_clients},
        [&control_ctx](ControlRequest r, ControlServer::Reply reply) {
          run_control(control_ctx, std::move(r), reply);
        });
    // An operator's aid, not a service: without it the daemon still serves its users.
    if (!c)
      spdlog::error("{}; running without a control socket", c.error().text);
    else
      control = std::move(c).value();
  }

  // Start-up garbage (seed accounts' SCRAM derivations, store reads) goes back to the system
  // before clients arrive; otherwise sessions quietly reuse it and the process keeps it.
  malloc_trim(0);
  // From here on the core belongs to the core strand; PARLEY_ASSERT_ON_CORE checks it.
  core.set_thread_check([strand = rt.core_strand] { return strand.running_in_this_thread(); });
  pool.run(io, conn_threads);
  if (own_core_io) pool.run(core_io, 1);
  spdlog::info("parleyd ready ({} io threads{}, {} plugins)", threads,
               own_core_io ? ", one of them the core strand's" : "", registry.size());
  // Every listener was bound in start_all() and accepts now that the threads run.
  systemd::notify(fmt::format("READY=1\nSTATUS=running ({} io threads, {} plugins)", threads, registry.size()));
  watchdog.start();

  pool.wait_shutdown_request();
  if (pool.unexpected_exit()) {
    // Nobody asked for this: exit non-zero so that a supervisor restarts the daemon.
    spdlog::critical("every io thread has stopped; exiting with status 1");
    pool.join();
    core.set_thread_check({});  // no io thread is left: this one owns the core now
    registry.stop_all();
    flush_store(store);
    spdlog::default_logger()->flush();
    return 1;
  }
  if (!pool.wait_finished(kDrain)) {
    spdlog::warn("shutdown is taking longer than {} s; stopping the io threads",
                 std::chrono::duration_cast<std::chrono::seconds>(kDrain).count());
    io.stop();
    core_io.stop();
    if (!pool.wait_finished(kStopGrace)) {
      // The writes the core queued before it got stuck are whole (each is queued under the
      // store's lock): commit them, bounded, for the writer thread may be what is stuck.
      const bool committed = store.sync_for(kStoreGrace);
      spdlog::critical(
          "io threads did not stop; exiting anyway ({})",
          committed ? "every queued store write committed" : "store writes still queued were lost");
      spdlog::default_logger()->flush();
      std::_Exit(1);
    }
  }
  pool.join();
  // Two io_contexts: each returned once it was out of work, but the one that returned first
  // may have been handed work since by the other (a connection's last close, posted to the
  // core strand; the core's last words to a connection). Run it here, a bounded number of
  // rounds, so that nothing queued is lost (the store is flushed after).
  if (own_core_io)
    for (int round = 0; round < 100; ++round) {
      io.restart();
      core_io.restart();
      if (io.poll() + core_io.poll() == 0) break;
    }
  core.set_thread_check({});  // no io thread is left: this one owns the core now
  flush_store(store);
  spdlog::info("parleyd stopped");
  return 0;
}

}  // namespace parley::daemon

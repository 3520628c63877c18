// The run context every subcommand shares: the io_context, a TLS client context that
// accepts any certificate (benchmarks use self-signed ones), the first fatal error, and a
// hard deadline after which the run is abandoned with a non-zero exit.
#pragma once

#include "common.hpp"

namespace loadgen {

class Run {
 public:
  Run();
  asio::io_context io;
  asio::ssl::context tls{asio::ssl::context::tls_client};

  // Records the first failure and stops the event loop; later ones are ignored.
  void fail(const std::string& what);
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // Set before closing connections at the end, so their read errors are not failures.
  bool stopping = false;
  // Arms the hard deadline: after `seconds`, the run fails with `what` in the message.
  void deadline(double seconds, std::string phase);
  void phase(std::string p) { phase_ = std::move(p); }
  // Runs `main` to completion (or failure/deadline); returns the process exit code.
  int run(std::function<awaitable<void>()> main);

 private:
  std::string error_;
  std::string phase_ = "setup";
  asio::steady_timer hard_{io};
};

// Spawns a detached coroutine whose failure (unless stopping) fails the run.
void spawn_guarded(Run& run, std::string who, std::function<awaitable<void>()> body);

int irc_main(const std::string& cmd, Options& o);
int xmpp_main(const std::string& cmd, Options& o);
int chat_main(Options& o);

}  // namespace loadgen

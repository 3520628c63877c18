#include "daemon/control_commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <charconv>
#include <ctime>
#include <map>
#include <sstream>

#include "adapters/common/metrics_exposition.hpp"
#include "adapters/common/post_guarded.hpp"
#include "daemon/accounts.hpp"

namespace parley::daemon {

namespace {

std::string iso_time(core::Timestamp t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Words 2.. joined: the kick reason.
std::string rest(const std::vector<std::string>& w, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < w.size(); ++i) {
    if (!out.empty()) out += ' ';
    out += w[i];
  }
  return out;
}

void on_core(ControlContext& ctx, const ControlServer::Reply& reply, std::function<std::string()> f) {
  adapters::post_guarded(ctx.rt.core_strand, "control", [reply, f = std::move(f)] {
    try {
      reply(f());
    } catch (const std::exception& e) {
      reply(control_error(std::string("internal error: ") + e.what()));
    }
  });
}

}  // namespace

std::string control_status(core::Core& core, std::chrono::seconds uptime) {
  std::map<std::string, std::size_t> per_protocol;
  core.sessions().for_each(
      [&](const core::SessionInfo& s) { ++per_protocol[core.metrics().protocol_name(s.protocol)]; });
  std::string out = fmt::format("uptime {}\nsessions {}\n", uptime.count(), core.sessions().size());
  for (const auto& [name, n] : per_protocol) out += fmt::format("sessions.{} {}\n", name, n);
  out += fmt::format("rooms {}\n", core.rooms().list().size());
  return out;
}

std::string control_sessions(core::Core& core) {
  std::vector<const core::SessionInfo*> all;
  core.sessions().for_each([&](const core::SessionInfo& s) { all.push_back(&s); });
  std::sort(all.begin(), all.end(), [](auto* a, auto* b) { return a->id < b->id; });
  std::string out;
  for (const auto* s : all)
    out += fmt::format("{} {} {} {} {}\n", s->id, core.metrics().protocol_name(s->protocol), s->user.id(),
                       s->host.empty() ? "-" : s->host, iso_time(s->since));
  return out;
}

void run_control(ControlContext& ctx, ControlRequest r, const ControlServer::Reply& reply) {
  const auto& w = r.words;
  const std::string& cmd = w[0];
  core::Core& core = ctx.rt.core;
  if (cmd == "metrics" && w.size() == 1)  // atomics: no need for the core strand
    return reply(control_ok(adapters::metrics_exposition(core.metrics().registry())));
  if (cmd == "status" && w.size() == 1) {
    const auto up =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - ctx.started);
    return on_core(ctx, reply, [&core, up] { return control_ok(control_status(core, up)); });
  }
  if (cmd == "sessions" && w.size() == 1)
    return on_core(ctx, reply, [&core] { return control_ok(control_sessions(core)); });
  if (cmd == "kick" && w.size() >= 2) {
    core::SessionId id = 0;
    const auto& s = w[1];
    if (std::from_chars(s.data(), s.data() + s.size(), id).ec != std::errc{} || id == 0)
      return reply(control_error("kick: expected a session id, got '" + s + "'"));
    std::string reason = w.size() > 2 ? rest(w, 2) : "Kicked by the server administrator";
    return on_core(ctx, reply, [&core, id, reason] {
      if (!core.sessions().find(id)) return control_error("kick: no session " + std::to_string(id));
      core.sessions().terminate(id, reason);
      return control_ok("kicked " + std::to_string(id));
    });
  }
  if (cmd == "reload" && w.size() == 1) {
    std::string why = ctx.reload();
    return reply(why.empty() ? control_ok("reloading") : control_error(why));
  }
  if (cmd == "account" && w.size() >= 2) {
    const std::string action = w[1];
    if (!(action == "list" ? w.size() == 2
                           : w.size() == 3 && (action == "add" || action == "passwd" || action == "remove")))
      return reply(control_error("usage: account add|passwd|remove USER, account list"));
    const std::string user = w.size() == 3 ? w[2] : std::string();
    // The running core's Directory, on the core strand: no second writer on the SQLite file.
    return on_core(ctx, reply, [&core, action, user, secret = std::move(r.secret)] {
      std::istringstream in(secret + "\n");
      std::ostringstream out, err;
      if (account_command(core.directory(), action, user, in, out, err) != 0) {
        std::string e = err.str();
        if (e.starts_with("parleyd: ")) e.erase(0, 9);
        while (!e.empty() && e.back() == '\n') e.pop_back();
        return control_error(e);
      }
      return control_ok(out.str());
    });
  }
  reply(control_error(
      "unknown command '" + cmd +
      "' or wrong arguments; expected status, sessions, kick ID [REASON], reload, metrics, account ..."));
}

}  // namespace parley::daemon

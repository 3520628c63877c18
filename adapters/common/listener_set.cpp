#include "adapters/common/listener_set.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "adapters/common/listeners.hpp"

namespace parley::adapters {

ListenerSet::ListenerSet(Runtime& rt, Options options)
    : rt_(rt), options_(std::move(options)), sweep_(rt.core_strand) {
  if (options_.log_name.empty()) options_.log_name = options_.protocol + ":";
  if (options_.tag) rt_.core.metrics().name_protocol(*options_.tag, options_.protocol);
}

void ListenerSet::adopt(const std::shared_ptr<protocols::Connection>& c, protocols::Admission admission,
                        protocols::ConnectionManager& manager) const {
  c->keep_admission(std::move(admission));
  if (options_.tag)
    c->keep_until_closed(std::make_shared<core::Metrics::ConnectionCount>(rt_.core.metrics(), *options_.tag));
  manager.add(c);
}

ListenerSet::~ListenerSet() { stop(); }

core::Status ListenerSet::tls_usable(const config::ListenAddress* address) const {
  if (rt_.tls && rt_.tls->current()) return {};
  std::string where = options_.key + (address ? " " + address->str() : "");
  return core::make_error(core::Condition::bad_request,
                          where +
                              ": TLS needs a certificate and key (xmpp.c2s.tls, or the generated pair "
                              "in data_dir/tls), and none is loaded");
}

core::Status ListenerSet::start(const std::vector<config::ListenAddress>& addresses) {
  stopped_ = false;
  if (options_.starttls)
    if (auto st = tls_usable(nullptr); !st) return st;
  for (const auto& a : addresses)
    if (a.tls())
      if (auto st = tls_usable(&a); !st) return st;
  for (const auto& a : addresses) {
    if (auto st = open(a); !st) {
      stop();
      return st;
    }
  }
  return {};
}

core::Status ListenerSet::open(const config::ListenAddress& address) {
  auto l = std::make_unique<protocols::Listener>(
      rt_.io, address, [this](protocols::Socket s, bool tls, protocols::Admission admission) {
        // The context current now: a SIGHUP that swapped it applies from this connection on.
        options_.accept(std::move(s), tls && rt_.tls ? rt_.tls->current() : nullptr, std::move(admission));
      });
  guard_listener(*l, rt_, options_.protocol, options_.refusal, options_.tag);
  if (auto ec = l->open())
    return core::make_error(core::Condition::service_unavailable,
                            options_.key + " " + address.str() + ": " + ec.message());
  l->start();
  config::ListenAddress bound = address;
  bound.port = l->local_endpoint().port();
  spdlog::info("{} listening on {}", options_.log_name, bound.str());
  listeners_.push_back(std::move(l));
  return {};
}

void ListenerSet::reload(const std::vector<config::ListenAddress>& addresses) {
  if (stopped_) return;
  auto wanted = [&](const config::ListenAddress& a) {
    return std::find(addresses.begin(), addresses.end(), a) != addresses.end();
  };
  std::erase_if(listeners_, [&](const std::unique_ptr<protocols::Listener>& l) {
    if (wanted(l->address())) return false;
    l->stop();
    spdlog::info("{} no longer listening on {}", options_.log_name, l->address().str());
    return true;
  });
  for (const auto& a : addresses) {
    bool open_already =
        std::any_of(listeners_.begin(), listeners_.end(), [&](const auto& l) { return l->address() == a; });
    if (open_already) continue;
    core::Status st = a.tls() ? tls_usable(&a) : core::Status{};
    if (st) st = open(a);
    if (!st) spdlog::error("{}; not listening there", st.error().text);
  }
}

void ListenerSet::stop() {
  stopped_ = true;
  for (auto& l : listeners_) l->stop();
  listeners_.clear();
  sweep_.cancel();
}

void ListenerSet::sweep_every(std::chrono::milliseconds interval, std::function<void()> f) {
  sweep_interval_ = interval;
  sweep_fn_ = std::move(f);
  schedule_sweep();
}

void ListenerSet::schedule_sweep() {
  sweep_.expires_after(sweep_interval_);
  sweep_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    sweep_fn_();
    schedule_sweep();
  });
}

std::vector<protocols::tcp::endpoint> ListenerSet::endpoints() const {
  std::vector<protocols::tcp::endpoint> out;
  for (const auto& l : listeners_) out.push_back(l->local_endpoint());
  return out;
}

}  // namespace parley::adapters

#include "adapters/gateway/identd.hpp"

#include <spdlog/spdlog.h>

#include "adapters/common/listener_set.hpp"
#include "adapters/common/post_guarded.hpp"
#include "protocols/common/net.hpp"
#include "protocols/ident/ident.hpp"

namespace parley::adapters::gateway {

namespace ident = protocols::ident;
using Endpoint = IdentRegistry::Endpoint;

namespace {
Endpoint plain(const Endpoint& e) {
  auto a = e.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return {boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()), e.port()};
  return e;
}
}  // namespace

void IdentRegistry::add(const Endpoint& local, const Endpoint& remote, std::string user) {
  map_[{plain(local), plain(remote)}] = std::move(user);
}
void IdentRegistry::remove(const Endpoint& local, const Endpoint& remote) {
  map_.erase({plain(local), plain(remote)});
}
const std::string* IdentRegistry::find(const Endpoint& local, const Endpoint& remote) const {
  auto it = map_.find({plain(local), plain(remote)});
  return it == map_.end() ? nullptr : &it->second;
}

struct Identd::State {
  std::shared_ptr<IdentRegistry> registry;
  Options options;
  std::size_t open = 0;  // connections now (core strand)
  bool stopped = false;
  protocols::ConnectionManager manager;
};

namespace {

// One query, one answer, closed (RFC 1413 §6 lets the server close after a reply).
class IdentConnection : public protocols::Connection {
 public:
  IdentConnection(protocols::Socket s, Limits limits, std::shared_ptr<Identd::State> state, Endpoint local,
                  Endpoint peer)
      : Connection(std::move(s), nullptr, limits), state_(std::move(state)), local_(local), peer_(peer) {
    ++state_->open;
  }
  ~IdentConnection() override { --state_->open; }

 protected:
  std::size_t on_data(std::string_view data) override {
    if (answered_) return data.size();
    const auto nl = data.find('\n');
    if (nl == std::string_view::npos) {
      if (data.size() > ident::kMaxQueryLine) close("ident: query line too long");
      return 0;  // kept until the rest of the line arrives (bounded by max_read_buffer)
    }
    answered_ = true;
    ident::Query q;
    switch (ident::parse_query(data.substr(0, nl), &q)) {
      case ident::ParseResult::malformed:
        close("ident: malformed query");
        return data.size();
      case ident::ParseResult::invalid_port:
        send(ident::error_reply(q, "INVALID-PORT"));
        break;
      case ident::ParseResult::ok: {
        // Our side of the asked-about connection is the address this query came in on; the
        // other side is the asker's address (§2: only the two hosts of a connection may ask).
        const std::string* user = state_->registry->find(Endpoint(local_.address(), q.server_port),
                                                         Endpoint(peer_.address(), q.client_port));
        send(user ? ident::userid_reply(q, *user) : ident::error_reply(q, "NO-USER"));
        spdlog::debug("identd: {} asked {},{}: {}", peer_.address().to_string(), q.server_port, q.client_port,
                      user ? *user : std::string("NO-USER"));
        break;
      }
    }
    close_after_flush("ident: answered");
    return data.size();
  }
  void on_close(std::string_view) override { state_->manager.remove(this); }

 private:
  std::shared_ptr<Identd::State> state_;
  Endpoint local_, peer_;
  bool answered_ = false;
};

}  // namespace

Identd::Identd(Runtime& rt, Options options, std::shared_ptr<IdentRegistry> registry)
    : rt_(rt), state_(std::make_shared<State>()) {
  state_->registry = std::move(registry);
  state_->options = options;
}

Identd::~Identd() { stop(); }

core::Status Identd::start(const std::vector<config::ListenAddress>& listen) {
  auto accept = [this, state = state_](protocols::Socket s, std::shared_ptr<boost::asio::ssl::context>,
                                       protocols::Admission admission) {
    post_guarded(rt_.core_strand, "identd: accept",
                 [rt = &rt_, state, s = std::move(s), admission = std::move(admission)]() mutable {
                   if (state->stopped || state->open >= state->options.max_connections) return;  // closed
                   boost::system::error_code e1, e2;
                   const Endpoint local = s.local_endpoint(e1), peer = s.remote_endpoint(e2);
                   if (e1 || e2) return;
                   protocols::Connection::Limits limits;
                   limits.max_read_buffer = ident::kMaxQueryLine + 2;  // a query and its CR LF
                   limits.max_write_queue = 1024;
                   limits.handshake_timeout_ms =
                       static_cast<std::uint32_t>(state->options.timeout.count() * 1000);  // never cleared
                   limits.close_timeout_ms = 5'000;
                   auto c = std::make_shared<IdentConnection>(
                       protocols::rehome(std::move(s), rt->core_strand), limits, state, local, peer);
                   c->keep_admission(std::move(admission));
                   state->manager.add(c);
                   c->start();
                 });
  };
  listeners_ = std::make_unique<ListenerSet>(rt_, ListenerSet::Options{
                                                      .protocol = "identd",
                                                      .key = "irc.identd.listen",
                                                      .refusal = {},
                                                      .accept = std::move(accept),
                                                      .log_name = "identd:",
                                                  });
  return listeners_->start(listen);
}

void Identd::stop() {
  if (listeners_) listeners_->stop();
  state_->stopped = true;
  state_->manager.close_all("shutdown");
}

}  // namespace parley::adapters::gateway

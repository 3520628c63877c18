#include "adapters/common/http_routes.hpp"

#include <atomic>

#include "protocols/common/ascii.hpp"

namespace parley::adapters {

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (protocols::ascii_equal_fold(k, name)) return v;
  return {};
}

struct HttpReply::State {
  Deliver deliver;
  std::atomic<bool> done{false};
  explicit State(Deliver d) : deliver(std::move(d)) {}
  ~State() {
    // A handler that dropped its reply without answering: the client still gets one.
    if (!done.exchange(true) && deliver) {
      try {
        deliver(HttpResponse{500, "text/plain; charset=utf-8", "no reply\n", {}});
      } catch (...) {
      }
    }
  }
};

HttpReply::HttpReply(Deliver deliver) : state_(std::make_shared<State>(std::move(deliver))) {}

void HttpReply::operator()(HttpResponse response) const {
  if (!state_ || state_->done.exchange(true)) return;
  state_->deliver(std::move(response));
}

void HttpRoutes::handle(std::string path, std::vector<std::string> methods, HttpHandler handler) {
  std::lock_guard lock(mu_);
  routes_[std::move(path)] = Route{std::move(methods), std::move(handler), nullptr};
}

void HttpRoutes::websocket(std::string path, WsEndpoint endpoint) {
  std::lock_guard lock(mu_);
  routes_[std::move(path)] = Route{{"GET"}, nullptr, std::make_shared<const WsEndpoint>(std::move(endpoint))};
}

void HttpRoutes::remove(const std::string& path) {
  std::lock_guard lock(mu_);
  routes_.erase(path);
}

std::optional<HttpRoutes::Route> HttpRoutes::find(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = routes_.find(path);
  if (it == routes_.end()) return std::nullopt;
  return it->second;
}

}  // namespace parley::adapters

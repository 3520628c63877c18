#include "adapters/bridge/bridge.hpp"

#include <utility>

#include "protocols/common/ascii.hpp"

namespace parley::adapters::bridge {

bool BridgeIdentities::is_ours(std::string_view place, std::string_view nick) const {
  for (const auto* s : speakers_)
    if (s->place() == place && protocols::ascii_equal_fold(s->speaker_nick(), nick)) return true;
  return false;
}

void Bridge::start() {
  for (auto& e : endpoints_) e->start();
}

void Bridge::stop() {
  if (std::exchange(stopped_, true)) return;
  for (auto& e : endpoints_) e->stop();
}

void Bridge::heard(const Endpoint* from, const Heard& h) {
  if (stopped_ || h.text.empty()) return;
  for (auto& e : endpoints_)
    if (e.get() != from) e->say(h);
}

std::string Bridge::bot_nick() const { return irc_nick_of(cfg_.nick.empty() ? cfg_.name + "-bridge" : cfg_.nick); }

std::string irc_nick_of(std::string_view want) {
  std::string n;
  for (char c : want) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("[]\\`_^{|}-").find(c) != std::string_view::npos;
    n.push_back(ok ? c : '_');
    if (n.size() >= 30) break;
  }
  if (n.empty()) n = "bridge";
  if ((n[0] >= '0' && n[0] <= '9') || n[0] == '-') n.insert(n.begin(), '_');
  return n.substr(0, 30);
}

}  // namespace parley::adapters::bridge

#include "adapters/irc/monitors.hpp"

#include <algorithm>

#include "adapters/irc/irc_client.hpp"
#include "adapters/irc/irc_server.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::irc {

void MonitorList::add(IrcClient& c, const std::string& folded) {
  if (std::find(c.monitoring.begin(), c.monitoring.end(), folded) != c.monitoring.end()) return;
  c.monitoring.push_back(folded);
  by_nick_[folded].push_back(&c);
}

void MonitorList::remove(IrcClient& c, const std::string& folded) {
  if (std::erase(c.monitoring, folded) == 0) return;
  auto it = by_nick_.find(folded);
  if (it == by_nick_.end()) return;
  std::erase(it->second, &c);
  if (it->second.empty()) by_nick_.erase(it);
}

void MonitorList::forget(IrcClient& c) {
  for (const auto& f : c.monitoring) {
    auto it = by_nick_.find(f);
    if (it == by_nick_.end()) continue;
    std::erase(it->second, &c);
    if (it->second.empty()) by_nick_.erase(it);
  }
  c.monitoring.clear();
}

const std::vector<IrcClient*>* MonitorList::watchers(const std::string& folded) const {
  auto it = by_nick_.find(folded);
  return it == by_nick_.end() ? nullptr : &it->second;
}

void MonitorList::tell_online(IrcServer& srv, IrcClient& c) const {
  if (const auto* w = watchers(protocols::irc::casefold(c.nick)))
    for (IrcClient* watcher : *w) srv.numeric(*watcher, 730, {}, c.mask());
}

void MonitorList::tell_offline(IrcServer& srv, const std::string& nick) const {
  if (const auto* w = watchers(protocols::irc::casefold(nick)))
    for (IrcClient* watcher : *w) srv.numeric(*watcher, 731, {}, nick);
}

}  // namespace parley::adapters::irc

#pragma once
// MONITOR lists (ircv3.net/specs/extensions/monitor): which clients watch which nick. Each
// client keeps its own list too (IrcClient::monitoring), bounded by IrcServer::kMonitorMax;
// this index finds the watchers of a nick that comes or goes. Core strand.
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace parley::adapters::irc {

class IrcClient;
class IrcServer;

class MonitorList {
 public:
  // `folded`: a casefolded nick. add() is a no-op for one already watched.
  void add(IrcClient& c, const std::string& folded);
  void remove(IrcClient& c, const std::string& folded);
  void forget(IrcClient& c);  // MONITOR C, or the client is gone
  // The clients watching `folded`, or nullptr.
  const std::vector<IrcClient*>* watchers(const std::string& folded) const;
  // MONITOR notifications (ircv3.net/specs/extensions/monitor): `c` went online under its
  // current nick (730), or `nick` went offline (731).
  void tell_online(IrcServer& srv, IrcClient& c) const;
  void tell_offline(IrcServer& srv, const std::string& nick) const;

 private:
  std::unordered_map<std::string, std::vector<IrcClient*>> by_nick_;
};

}  // namespace parley::adapters::irc

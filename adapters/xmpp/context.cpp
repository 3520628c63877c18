#include "adapters/xmpp/context.hpp"

#include <random>

namespace parley::adapters::xmpp {

core::Address Domains::to_address(const px::Jid& j) const {
  if (j.domain == domain) {
    if (j.local.empty()) return {};
    return core::Address::user(j.local, j.resource);
  }
  if (j.domain == muc) {
    if (j.local.empty()) return {};
    return core::Address::room(j.local);
  }
  auto f = core::Address::foreign("xmpp:" + j.str());
  return f ? f.value() : core::Address{};
}

std::string Domains::user_jid(const std::string& user, const std::string& resource) const {
  std::string s = user + "@" + domain;
  if (!resource.empty()) s += "/" + resource;
  return s;
}

std::string Domains::room_jid(const std::string& room, const std::string& nick) const {
  std::string s = room + "@" + muc;
  if (!nick.empty()) s += "/" + nick;
  return s;
}

std::string Domains::jid_of(const core::Address& a) const {
  if (a.is_user()) return user_jid(a.id(), a.resource());
  if (a.is_room()) return room_jid(a.id());
  if (a.is_foreign() && a.id().rfind("xmpp:", 0) == 0) return a.id().substr(5);
  return a.id();  // another protocol's address, shown as its URI
}

std::string random_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s(16, 'x');
  for (auto& c : s) c = kChars[rng() % (sizeof(kChars) - 1)];
  return s;
}

}  // namespace parley::adapters::xmpp

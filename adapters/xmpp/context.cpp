#include "adapters/xmpp/context.hpp"

#include <ctime>
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
  return core::Projection{domain, muc}.xmpp_jid(a);
}

std::string random_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s(16, 'x');
  for (auto& c : s) c = kChars[rng() % (sizeof(kChars) - 1)];
  return s;
}

std::string xep0082(core::Timestamp t) {
  auto ms = core::to_unix_ms(t);
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace parley::adapters::xmpp

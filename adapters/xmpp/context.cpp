#include "adapters/xmpp/context.hpp"

#include <random>

namespace parley::adapters::xmpp {

namespace {

// SIP contacts through the gateway domain sip.DOMAIN (issue 12): the SIP address's
// user@host is the JID's localpart, XEP-0106-escaped (`juliet\40example.com`) or with the
// Biboumi-style `%` (`juliet%example.com`). Only these two forms; other escapes stay.
std::string sip_of_local(std::string_view local) {
  std::string out;
  bool at = false;
  for (std::size_t i = 0; i < local.size(); ++i) {
    if (!at && local.compare(i, 3, "\\40") == 0) {
      out += '@', i += 2, at = true;
    } else if (!at && local[i] == '%') {
      out += '@', at = true;
    } else {
      out += local[i];
    }
  }
  return at ? "sip:" + out : std::string();
}

}  // namespace

core::Address Domains::to_address(const px::Jid& j) const {
  if (!j.local.empty() && j.domain.size() == domain.size() + 4 && j.domain.rfind("sip.", 0) == 0 &&
      j.domain.compare(4, std::string::npos, domain) == 0) {
    auto uri = sip_of_local(j.local);
    if (uri.empty()) return {};
    auto f = core::Address::foreign(uri);
    return f ? f.value() : core::Address{};
  }
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
  if (a.is_foreign() && a.id().rfind("sip:", 0) == 0 && a.id().find('@') != std::string::npos) {
    std::string local;
    for (char c : std::string_view(a.id()).substr(4)) local += c == '@' ? "\\40" : std::string(1, c);
    return local + "@sip." + domain;
  }
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

#include "core/model/address.hpp"

namespace parley::core {

std::string_view to_string(Protocol p) {
  switch (p) {
    case Protocol::local:
      return "local";
    case Protocol::xmpp:
      return "xmpp";
    case Protocol::irc:
      return "irc";
    case Protocol::sip:
      return "sip";
    case Protocol::psyc:
      return "psyc";
  }
  return "local";
}

Address Address::user(std::string name, std::string resource) {
  Address a;
  a.kind_ = Kind::user;
  a.id_ = std::move(name);
  a.resource_ = std::move(resource);
  return a;
}

Address Address::room(std::string name) {
  Address a;
  a.kind_ = Kind::room;
  a.id_ = std::move(name);
  return a;
}

Result<Address> Address::foreign(std::string uri) {
  Address a;
  a.kind_ = Kind::foreign;
  std::string_view v = uri;
  if (v.starts_with("xmpp:"))
    a.protocol_ = Protocol::xmpp;
  else if (v.starts_with("irc://") || v.starts_with("ircs://"))
    a.protocol_ = Protocol::irc;
  else if (v.starts_with("sip:") || v.starts_with("sips:"))
    a.protocol_ = Protocol::sip;
  else if (v.starts_with("psyc://"))
    a.protocol_ = Protocol::psyc;
  else
    return make_error(Condition::malformed_address, "unknown address scheme: " + uri);
  a.id_ = std::move(uri);
  return a;
}

Result<Address> Address::parse(std::string_view text) {
  if (text.starts_with("local:")) {
    auto rest = text.substr(6);
    auto slash = rest.find('/');
    std::string name(rest.substr(0, slash));
    std::string res = slash == std::string_view::npos ? std::string() : std::string(rest.substr(slash + 1));
    if (!is_valid_local_name(name)) return make_error(Condition::malformed_address, "invalid user name");
    return user(std::move(name), std::move(res));
  }
  if (text.starts_with("room:")) {
    std::string name(text.substr(5));
    if (!is_valid_local_name(name)) return make_error(Condition::malformed_address, "invalid room name");
    return room(std::move(name));
  }
  return foreign(std::string(text));
}

Address Address::bare() const {
  Address a = *this;
  a.resource_.clear();
  return a;
}

std::string Address::to_string() const {
  switch (kind_) {
    case Kind::none:
      return {};
    case Kind::user:
      return resource_.empty() ? "local:" + id_ : "local:" + id_ + "/" + resource_;
    case Kind::room:
      return "room:" + id_;
    case Kind::foreign:
      return id_;
  }
  return {};
}

bool is_valid_local_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxLocalName) return false;
  if (!(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace parley::core

#include "adapters/xmpp/handler_registry.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>
#include <tuple>

#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

namespace {

template <class V, class H>
void insert_ns(V& v, std::string_view ns, H h, const char* what) {
  if (!h) throw std::invalid_argument(std::string(what) + " " + std::string(ns) + ": no handler");
  auto it =
      std::lower_bound(v.begin(), v.end(), ns, [](const auto& e, std::string_view k) { return e.ns < k; });
  if (it != v.end() && it->ns == ns)
    throw std::invalid_argument(std::string(what) + " " + std::string(ns) + ": registered twice");
  v.insert(it, {ns, h});
}

template <class V>
auto find_ns(const V& v, std::string_view ns) -> decltype(v.front().h) {
  auto it =
      std::lower_bound(v.begin(), v.end(), ns, [](const auto& e, std::string_view k) { return e.ns < k; });
  return it != v.end() && it->ns == ns ? it->h : nullptr;
}
}  // namespace

std::size_t HandlerRegistry::index(Scope s) {
  return static_cast<std::size_t>(std::countr_zero(static_cast<unsigned>(s)));
}

void HandlerRegistry::announce(std::initializer_list<Feature> features, std::initializer_list<Identity> ids) {
  for (std::size_t i = 0; i < kScopeCount; ++i) {
    const Scopes bit = static_cast<Scopes>(1u << i);
    for (const auto& f : features) {
      if (!(f.where & bit)) continue;
      auto& list = features_[i];
      if (std::find(list.begin(), list.end(), f.var) == list.end()) list.push_back(f.var);
    }
    for (const auto& id : ids)
      if (id.where & bit) identities_[i].push_back(id);
  }
}

HandlerRegistry& HandlerRegistry::iq(Scopes where, bool get, bool set, std::string_view ns, IqHandler h,
                                     std::initializer_list<Feature> features,
                                     std::initializer_list<Identity> ids) {
  if (!h) throw std::invalid_argument("iq " + std::string(ns) + ": no handler");
  auto key = [](const IqKey& e) { return std::tie(e.kind, e.scope, e.ns); };
  for (Kind kind : {Kind::iq_get, Kind::iq_set}) {
    if (!(kind == Kind::iq_get ? get : set)) continue;
    for (std::size_t i = 0; i < kScopeCount; ++i) {
      if (!(where & (1u << i))) continue;
      IqKey k{kind, static_cast<Scope>(1u << i), ns, h};
      auto it = std::lower_bound(iq_.begin(), iq_.end(), k,
                                 [&](const IqKey& a, const IqKey& b) { return key(a) < key(b); });
      if (it != iq_.end() && key(*it) == key(k))
        throw std::invalid_argument("iq " + std::string(ns) + ": registered twice");
      iq_.insert(it, k);
    }
  }
  announce(features, ids);
  return *this;
}

HandlerRegistry& HandlerRegistry::stanza(Kind kind, Scopes where, StanzaHandler h,
                                         std::initializer_list<Feature> features,
                                         std::initializer_list<Identity> ids) {
  if (!h || (kind != Kind::message && kind != Kind::presence))
    throw std::invalid_argument("stanza: no handler, or not a message or presence");
  auto& row = stanza_[kind == Kind::message ? 0 : 1];
  for (std::size_t i = 0; i < kScopeCount; ++i) {
    if (!(where & (1u << i))) continue;
    if (row[i]) throw std::invalid_argument("stanza: registered twice");
    row[i] = h;
  }
  announce(features, ids);
  return *this;
}

HandlerRegistry& HandlerRegistry::nonza(std::string_view ns, NonzaHandler h,
                                        std::initializer_list<Feature> features) {
  insert_ns(nonza_, ns, h, "nonza");
  announce(features, {});
  return *this;
}

HandlerRegistry& HandlerRegistry::message_extension(std::string_view ns, MessageExtension h,
                                                    std::initializer_list<Feature> features) {
  insert_ns(message_ext_, ns, h, "message extension");
  announce(features, {});
  return *this;
}

IqHandler HandlerRegistry::find_iq(Kind kind, Scope scope, std::string_view ns) const {
  auto it =
      std::lower_bound(iq_.begin(), iq_.end(), std::tie(kind, scope, ns),
                       [](const IqKey& e, const auto& k) { return std::tie(e.kind, e.scope, e.ns) < k; });
  return it != iq_.end() && it->kind == kind && it->scope == scope && it->ns == ns ? it->h : nullptr;
}

StanzaHandler HandlerRegistry::find_stanza(Kind kind, Scope scope) const {
  if (kind != Kind::message && kind != Kind::presence) return nullptr;
  return stanza_[kind == Kind::message ? 0 : 1][index(scope)];
}

NonzaHandler HandlerRegistry::find_nonza(std::string_view ns) const { return find_ns(nonza_, ns); }

MessageExtension HandlerRegistry::find_message_extension(std::string_view ns) const {
  return find_ns(message_ext_, ns);
}

void HandlerRegistry::write_disco_info(px::XmlWriter& w, Scope scope) const {
  for (const auto& id : identities(scope))
    w.open("identity").attr("category", id.category).attr("type", id.type).attr_if("name", id.name).close();
  for (std::string_view f : features(scope)) w.open("feature").attr("var", f).close();
}

}  // namespace parley::adapters::xmpp

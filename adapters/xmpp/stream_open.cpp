#include "adapters/xmpp/stream_open.hpp"

#include <algorithm>

#include "protocols/xmpp/jid.hpp"

namespace parley::adapters::xmpp {

namespace ns = px::ns;

bool supported_version(std::string_view v) {
  auto dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size()) return false;
  auto digits = [](std::string_view s) {
    return s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  std::string_view major = v.substr(0, dot), minor = v.substr(dot + 1);
  if (!digits(major) || !digits(minor)) return false;
  major.remove_prefix(std::min(major.find_first_not_of('0'), major.size()));
  return major == "1";
}

px::StreamNamespaces header_namespaces(const px::StreamHeader& h) {
  px::StreamNamespaces scope;
  scope.prefixes.clear();
  for (const auto& [k, v] : h.attributes) {
    if (k == "xmlns")
      scope.default_ns = v;
    else if (k.rfind("xmlns:", 0) == 0)
      scope.prefixes.emplace_back(k.substr(6), v);
  }
  return scope;
}

std::optional<HeaderRefusal> check_stream_header(const px::StreamHeader& h, const px::StreamNamespaces& scope,
                                                 std::string_view domain) {
  using px::StreamError;
  const std::string_view name = h.name;
  const auto colon = name.find(':');
  const std::string_view prefix = colon == std::string_view::npos ? "" : name.substr(0, colon);
  const std::string_view local = colon == std::string_view::npos ? name : name.substr(colon + 1);
  const std::string_view stream_ns =
      prefix.empty() ? std::string_view(scope.default_ns) : scope.lookup(prefix);
  if (local != "stream" || stream_ns != ns::stream) return HeaderRefusal{StreamError::invalid_namespace, {}};
  if (scope.default_ns != ns::client)
    return HeaderRefusal{StreamError::invalid_namespace, "expected jabber:client"};
  auto to = px::prep_domain(h.attr("to"));
  if (!to || *to != domain) return HeaderRefusal{StreamError::host_unknown, {}};
  if (!supported_version(h.attr("version"))) return HeaderRefusal{StreamError::unsupported_version, {}};
  return std::nullopt;
}

void write_features(px::XmlWriter& w, C2sState st) {
  switch (st) {
    case C2sState::starttls:
      // STARTTLS is mandatory before authentication (RFC 6120 §5.3.1).
      w.open("starttls").attr("xmlns", ns::tls).open("required").close().close();
      return;
    case C2sState::sasl:
      w.open("mechanisms").attr("xmlns", ns::sasl);
      w.element("mechanism", "SCRAM-SHA-256")
          .element("mechanism", "SCRAM-SHA-1")
          .element("mechanism", "PLAIN");
      w.close();
      return;
    case C2sState::bind:
      w.open("bind").attr("xmlns", ns::bind).close();
      w.open("session").attr("xmlns", ns::session).open("optional").close().close();
      w.open("sm").attr("xmlns", "urn:xmpp:sm:3").close();
      w.open("ver").attr("xmlns", "urn:xmpp:features:rosterver").close();
      return;
    case C2sState::header:
    case C2sState::bound:
    case C2sState::closed:
      return;
  }
}

}  // namespace parley::adapters::xmpp

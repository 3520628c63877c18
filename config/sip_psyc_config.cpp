#include <algorithm>

#include "config/sections.hpp"

namespace parley::config {

void parse_sip(Reader& r, SipConfig& out) {
  r.listen("listen", out.listen, ListenStyle::sip);
  r.string("domain", out.domain);
  {
    Reader tls = r.map("tls");
    tls.string("cert", out.tls.cert);
    tls.string("key", out.tls.key);
    if (out.tls.cert.empty() != out.tls.key.empty())
      tls.error(out.tls.cert.empty() ? "cert" : "key", "cert and key must be given together");
  }
  {
    Reader ex = r.map("register_expires");
    ex.integer("min", out.register_expires.min, 1, 86400);
    ex.integer("max", out.register_expires.max, 1, 604800);
    ex.integer("default", out.register_expires.default_, 1, 604800);
    if (out.register_expires.min > out.register_expires.max) ex.error("min", "min must not exceed max");
    if (out.register_expires.default_ < out.register_expires.min ||
        out.register_expires.default_ > out.register_expires.max)
      ex.error("default", "default must lie between min and max");
  }
  {
    Reader ex = r.map("event_expires");
    ex.integer("min", out.event_expires.min, 1, 86400);
    ex.integer("max", out.event_expires.max, 1, 604800);
    ex.integer("default", out.event_expires.default_, 1, 604800);
    if (out.event_expires.min > out.event_expires.max) ex.error("min", "min must not exceed max");
    if (out.event_expires.default_ < out.event_expires.min || out.event_expires.default_ > out.event_expires.max)
      ex.error("default", "default must lie between min and max");
  }
  r.integer("max_subscriptions", out.max_subscriptions, 1, 100000);
  r.integer("max_publications", out.max_publications, 1, 1000);
  r.integer("notify_interval_ms", out.notify_interval_ms, 0, 60000);
  r.integer("udp_buffer", out.udp_buffer, 0, 1ll << 28);
  r.integer("max_request", out.max_request, 1024, 65535);
  r.integer("max_message", out.max_message, 64, 60000);
  r.integer("max_bindings", out.max_bindings, 1, 1000);
  r.integer("nonce_lifetime", out.nonce_lifetime, 10, 86400);
  r.integer("requests_per_second", out.requests_per_second, 1, 100000);
  r.integer("max_pending", out.max_pending, 16, 1000000);
  r.strings("digest_algorithms", out.digest_algorithms);
  if (out.digest_algorithms.empty()) r.error("digest_algorithms", "at least one algorithm is needed");
  for (const auto& a : out.digest_algorithms)
    if (a != "MD5" && a != "SHA-256") r.error("digest_algorithms", "unknown algorithm '" + a + "' (MD5 or SHA-256)");
  r.list("federation", out.federation, [&out](Reader& f, SipFederation& fed) {
    f.string("domain", fed.domain, Required::yes);
    f.string("proxy", fed.proxy, Required::yes);
    f.string("user", fed.user);
    f.string("password", fed.password);
    // A host name or an IP literal (resolved by the federation when it sends: federation.hpp).
    std::string why;
    if (!fed.proxy.empty()) {
      if (auto a = protocols::parse_proxy_address(fed.proxy, &why); !a)
        f.error("proxy", why);
      else if (a->transport == protocols::Transport::tls &&
               std::none_of(out.listen.begin(), out.listen.end(), [](const auto& l) { return l.tls(); }))
        f.error("proxy",
                "a tls: proxy needs a tls: address in sip.listen (libre's client TLS uses its context)");
    }
    f.list("publish", fed.publish, [](Reader& p, SipFederationPublish& pub) {
      p.string("account", pub.account, Required::yes);
      p.string("aor", pub.aor);
      if (!pub.aor.empty() && pub.aor.rfind("sip:", 0) != 0) p.error("aor", "must be a sip: URI");
    });
    f.integer("expires", fed.expires, 10, 86400);
    f.integer("max_subscriptions", fed.max_subscriptions, 1, 100000);
    f.integer("backoff_max", fed.backoff_max, 1, 3600);
  });
}

void parse_psyc(Reader& r, PsycConfig& out) {
  r.listen("listen", out.listen, ListenStyle::stream);
  r.list("peers", out.peers, [](Reader& p, PsycPeer& peer) {
    p.string("host", peer.host, Required::yes);
    p.integer("port", peer.port, 1, 65535);
    p.string("uniform", peer.uniform);
    p.string("secret", peer.secret);
    p.boolean("tls", peer.tls);
    p.boolean("verify", peer.verify);
    p.string("fingerprint", peer.fingerprint);
    check_fingerprint(p, peer.fingerprint, peer.tls);
  });
  r.boolean("guests", out.guests);
  r.integer("sendq", out.sendq, 4096, 64 * 1024 * 1024);
  r.integer("idle_timeout", out.idle_timeout, 10, 86400);
  r.integer("rate", out.rate, 0, 1000000);
  r.integer("burst", out.burst, 1, 1000000);
  r.integer("peer_queue", out.peer_queue, 0, 1000000);
  r.integer("peer_members", out.peer_members, 1, 1000000);
  r.integer("peer_backoff_max", out.peer_backoff_max, 1, 3600);
  Reader l = r.map("limits");
  // Names: "_notice_context_enter" and the like; below 16 common methods do not fit.
  l.integer("max_name", out.limits.max_name, 16, 1024);
  l.integer("max_value", out.limits.max_value, 256, 16 * 1024 * 1024);
  l.integer("max_content", out.limits.max_content, 512, 64 * 1024 * 1024);
  l.integer("max_modifiers", out.limits.max_modifiers, 8, 4096);
}

}  // namespace parley::config

#include "config/sections.hpp"

namespace parley::config {

void parse_xmpp(Reader& r, XmppConfig& out) {
  {
    Reader c2s = r.map("c2s");
    c2s.listen("listen", out.c2s.listen, ListenStyle::stream);
    {
      Reader tls = c2s.map("tls");
      tls.string("cert", out.c2s.tls.cert);
      tls.string("key", out.c2s.tls.key);
      if (out.c2s.tls.cert.empty() != out.c2s.tls.key.empty())
        tls.error(out.c2s.tls.cert.empty() ? "cert" : "key", "cert and key must be given together");
    }
    {
      Reader limits = c2s.map("limits");
      limits.integer("stanza_size", out.c2s.limits.stanza_size, 1024, 64 * 1024 * 1024);
      limits.integer("depth", out.c2s.limits.depth, 2, 1024);
      limits.integer("attributes", out.c2s.limits.attributes, 1, 4096);
      limits.integer("preauth_stanza_size", out.c2s.limits.preauth_stanza_size, 1024, 64 * 1024 * 1024);
    }
    c2s.integer("resume_timeout", out.c2s.resume_timeout, 1, 24 * 3600);
    {
      Reader rate = c2s.map("rate");
      rate.integer("bytes_per_second", out.c2s.rate.bytes_per_second, 0, 1LL << 40);
      rate.integer("burst", out.c2s.rate.burst, 1, 1LL << 40);
      rate.integer("stanzas_per_second", out.c2s.rate.stanzas_per_second, 0, 1LL << 30);
      rate.integer("stanza_burst", out.c2s.rate.stanza_burst, 1, 1LL << 30);
    }
    c2s.integer("core_queue", out.c2s.core_queue, 0, 1 << 20);
    c2s.integer("max_unacked", out.c2s.max_unacked, 0, 1 << 24);
    c2s.integer("max_unacked_bytes", out.c2s.max_unacked_bytes, 0, 1LL << 40);
    c2s.integer("auth_timeout", out.c2s.auth_timeout, 1, 3600);
  }
  {
    Reader muc = r.map("muc");
    muc.string("domain", out.muc.domain);
  }
  {
    Reader component = r.map("component");
    component.string("domain", out.component.domain);
    component.string("server", out.component.server);
    component.string("secret", out.component.secret);
    component.boolean("record_history", out.component.record_history);
    if (component.has_entries()) {
      if (out.component.domain.empty()) component.error("domain", "expected a non-empty string (component domain)");
      if (out.component.secret.empty()) component.error("secret", "expected a non-empty string (XEP-0114 shared secret)");
      std::string why;
      if (!protocols::parse_server_address(out.component.server, &why)) component.error("server", why);
    }
  }
}

}  // namespace parley::config

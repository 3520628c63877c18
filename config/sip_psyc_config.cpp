#include "config/sections.hpp"

namespace parley::config {

void parse_sip(Reader& r, SipConfig& out) {
  r.listen("listen", out.listen, ListenStyle::sip);
  r.string("domain", out.domain);
  r.list("federation", out.federation, [](Reader& f, SipFederation& fed) {
    f.string("domain", fed.domain, Required::yes);
    f.string("proxy", fed.proxy, Required::yes);
    std::string why;
    if (!fed.proxy.empty() && !parse_listen(fed.proxy, ListenStyle::sip, &why)) f.error("proxy", why);
  });
}

void parse_psyc(Reader& r, PsycConfig& out) {
  r.listen("listen", out.listen, ListenStyle::stream);
  r.list("peers", out.peers, [](Reader& p, PsycPeer& peer) {
    p.string("host", peer.host, Required::yes);
    p.integer("port", peer.port, 1, 65535);
    p.string("uniform", peer.uniform);
    p.string("secret", peer.secret);
  });
  r.boolean("guests", out.guests);
  r.integer("sendq", out.sendq, 4096, 64 * 1024 * 1024);
  r.integer("idle_timeout", out.idle_timeout, 10, 86400);
  r.integer("rate", out.rate, 0, 1000000);
  r.integer("burst", out.burst, 1, 1000000);
  Reader l = r.map("limits");
  // Names: "_notice_context_enter" and the like; below 16 common methods do not fit.
  l.integer("max_name", out.limits.max_name, 16, 1024);
  l.integer("max_value", out.limits.max_value, 256, 16 * 1024 * 1024);
  l.integer("max_content", out.limits.max_content, 512, 64 * 1024 * 1024);
  l.integer("max_modifiers", out.limits.max_modifiers, 8, 4096);
}

}  // namespace parley::config

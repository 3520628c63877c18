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
  });
}

}  // namespace parley::config

#include "adapters/xmpp/handlers/handlers.hpp"

namespace parley::adapters::xmpp {

const HandlerRegistry& c2s_handlers() {
  // disco#info lists features in the order they are registered here.
  static const HandlerRegistry registry = [] {
    HandlerRegistry r;
    register_muc(r);
    register_disco(r);
    register_ping(r);
    register_version(r);
    register_roster(r);
    register_carbons(r);
    register_sid(r);
    register_sm(r);
    register_im(r);
    return r;
  }();
  return registry;
}

}  // namespace parley::adapters::xmpp

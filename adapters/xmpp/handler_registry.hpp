#pragma once
// What a bound c2s stream dispatches where, and what service discovery says about it
// (Prosody's module:hook + module:add_feature). A handler is registered per stanza kind and
// addressee scope, iq requests and message extensions also per namespace, together with the
// XEP-0030 features and identities it makes true. disco#info answers are rendered from
// here, so the list cannot announce what nothing handles, nor miss what is handled: an
// announcement exists only as part of a registration, and a registration needs a handler.
//
// Built once (c2s_handlers(), adapters/xmpp/handlers/) and read-only afterwards, from any
// thread. Lookups are binary searches in flat sorted vectors: no allocation per stanza.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "protocols/xmpp/stanza.hpp"

namespace parley::core {
struct Message;
}
namespace parley::protocols::xmpp {
class XmlWriter;
struct Jid;
}  // namespace parley::protocols::xmpp

namespace parley::adapters::xmpp {

namespace px = parley::protocols::xmpp;

class C2sConnection;

enum class Kind : std::uint8_t { iq_get, iq_set, message, presence };

// Who a stanza is addressed to (a bit each, so one registration may cover several).
enum class Scope : std::uint8_t {
  server = 1,       // the server domain itself (an iq with no 'to', or to the user's own bare JID)
  user = 2,         // a user's JID, local or foreign (message and presence)
  muc_service = 4,  // the MUC domain itself (XEP-0045 §6)
  room = 8,         // a room's bare JID
  occupant = 16,    // a room JID with a nick
};
using Scopes = std::uint8_t;
constexpr Scopes operator|(Scope a, Scope b) {
  return static_cast<Scopes>(static_cast<Scopes>(a) | static_cast<Scopes>(b));
}
constexpr Scopes operator|(Scopes a, Scope b) { return static_cast<Scopes>(a | static_cast<Scopes>(b)); }
constexpr Scopes scopes(Scope s) { return static_cast<Scopes>(s); }
inline constexpr std::size_t kScopeCount = 5;

// XEP-0030 §3.1: a feature ('var') and an identity, each announced in the disco#info of the
// scopes given. The strings are literals (the registry keeps views).
struct Feature {
  Scopes where;
  std::string_view var;
};
struct Identity {
  Scopes where;
  std::string_view category, type, name;
};

// One iq get/set with exactly one payload child (RFC 6120 §8.2.3), already validated.
struct IqRequest {
  px::Stanza& s;
  pugi::xml_node payload;
  std::string_view ns;    // the payload's namespace (the registration's key)
  std::string_view name;  // the payload's local name
  Scope scope;
  const px::Jid* to;  // null when the iq has no 'to'
  bool to_account;    // addressed to the user's own bare JID (answered for the account)
};

// What a message's child elements carry (core::Message), filled as they are read in
// document order. The flags keep "the first such element counts" for repeated elements.
struct MessageScan {
  bool body = false, subject = false, thread = false, receipt_for = false, origin_id = false;
  pugi::xml_node html;  // XEP-0071: parsed once the body is known
};

// false: not this payload after all (e.g. the wrong element name in a known namespace):
// the dispatcher answers service-unavailable (RFC 6120 §8.4).
using IqHandler = bool (*)(C2sConnection& c, const IqRequest& r);
// A message or presence stanza; `to` is null when it has no 'to' (presence broadcast).
using StanzaHandler = void (*)(C2sConnection& c, px::Stanza& s, const px::Jid* to);
// A top-level element of a bound stream outside jabber:client (XEP-0198's <r/>, <a/>...).
using NonzaHandler = void (*)(C2sConnection& c, px::Stanza& s);
// One child element of a <message/> in the extension's namespace.
using MessageExtension = void (*)(pugi::xml_node child, std::string_view local, core::Message& m,
                                  MessageScan& scan);

class HandlerRegistry {
 public:
  // Each throws std::invalid_argument for a null handler or a key registered twice: both
  // are programming errors found at startup (and in the unit tests), never at run time.
  HandlerRegistry& iq(Scopes where, bool get, bool set, std::string_view ns, IqHandler h,
                      std::initializer_list<Feature> features = {}, std::initializer_list<Identity> ids = {});
  HandlerRegistry& stanza(Kind kind, Scopes where, StanzaHandler h,
                          std::initializer_list<Feature> features = {},
                          std::initializer_list<Identity> ids = {});
  HandlerRegistry& nonza(std::string_view ns, NonzaHandler h, std::initializer_list<Feature> features = {});
  HandlerRegistry& message_extension(std::string_view ns, MessageExtension h,
                                     std::initializer_list<Feature> features = {});

  IqHandler find_iq(Kind kind, Scope scope, std::string_view ns) const;
  StanzaHandler find_stanza(Kind kind, Scope scope) const;
  NonzaHandler find_nonza(std::string_view ns) const;
  MessageExtension find_message_extension(std::string_view ns) const;

  // In registration order, each once.
  const std::vector<std::string_view>& features(Scope scope) const { return features_[index(scope)]; }
  const std::vector<Identity>& identities(Scope scope) const { return identities_[index(scope)]; }
  // <identity/>s, then <feature/>s of `scope`, into an open <query xmlns=disco#info>.
  void write_disco_info(px::XmlWriter& w, Scope scope) const;

 private:
  struct IqKey {
    Kind kind;
    Scope scope;
    std::string_view ns;
    IqHandler h;
  };
  template <class H>
  struct NsKey {
    std::string_view ns;
    H h;
  };
  static std::size_t index(Scope s);
  void announce(std::initializer_list<Feature> features, std::initializer_list<Identity> ids);
  std::vector<IqKey> iq_;                                           // sorted by (kind, scope, ns)
  std::vector<NsKey<NonzaHandler>> nonza_;                          // sorted by ns
  std::vector<NsKey<MessageExtension>> message_ext_;                // sorted by ns
  std::array<std::array<StanzaHandler, kScopeCount>, 2> stanza_{};  // [message|presence][scope]
  std::array<std::vector<std::string_view>, kScopeCount> features_;
  std::array<std::vector<Identity>, kScopeCount> identities_;
};

// The c2s handlers (adapters/xmpp/handlers/), registered once on first use.
const HandlerRegistry& c2s_handlers();

}  // namespace parley::adapters::xmpp

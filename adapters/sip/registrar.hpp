#pragma once
// The SIP registrar and pager-mode messaging on the core side (core strand only).
//
// RFC 3261 §10.3: an authenticated REGISTER adds, refreshes or removes the bindings of the
// user's address-of-record. Each binding (one registered Contact) is one core session
// (Protocol::sip, resource "sip-<n>") with an open presence tuple, so the user is online
// and reachable like an IRC connection or an XMPP resource; it ends on expiry, on
// Expires: 0, or when the core terminates it. Messages the core delivers to a binding go
// out as a MESSAGE (RFC 3428) to its contact through `send` (the libre side); a failed
// MESSAGE comes back through delivery_failed() as an error to the sender (RFC 7572 §5).
//
// Later slices (docs/PLUGINS.md): SUBSCRIBE/NOTIFY watch these same sessions' tuples, and
// PUBLISH replaces a binding's default tuple (available, no note) with the published one.
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "core/model/error.hpp"
#include "core/services/session_sink.hpp"

namespace parley::adapters::sip {

using SteadyClock = std::chrono::steady_clock;

struct ContactParam {
  std::string uri;                       // the addr-spec, e.g. "sip:bob@127.0.0.1:5070"
  std::optional<std::uint32_t> expires;  // ;expires= of this contact
  bool star = false;                     // "Contact: *"
};

struct RegisterRequest {
  std::string user;    // the authenticated account (digest username == To user)
  std::string source;  // "ip:port" it came from
  std::string call_id;
  std::uint32_t cseq = 0;
  std::vector<ContactParam> contacts;
  std::optional<std::uint32_t> expires;  // the Expires header
};

struct SipReply {
  std::uint16_t code = 500;
  std::string reason;
  std::string headers;  // extra header lines, each ending in CRLF
  // An accepted SUBSCRIBE (2xx): the libre side creates the notifier for `sub_id` and
  // sends the first NOTIFY (RFC 6665 §4.2.1.2: immediately) with this state and body.
  std::uint64_t sub_id = 0;
  bool sub_active = false;
  std::string body, content_type;
};

// One MESSAGE for the libre side to send.
struct OutMessage {
  std::string target;    // request URI: the binding's contact
  std::string from_uri;  // sip:alice@DOMAIN
  std::string to_uri;    // sip:bob@DOMAIN (the address of record)
  std::string body;
  std::string content_type = "text/plain;charset=UTF-8";  // or isComposing (RFC 3994)
  std::string subject;                                    // header-safe already
  std::string ref_id;          // the message id the sender knows (origin-id, else id)
  core::SessionId origin = 0;  // the sender's session, for the error
};

// RFC 7572 §5 / RFC 3261 §21: core conditions <-> SIP status codes.
SipReply reply_for(const core::Error& e);
core::Error error_for_status(std::uint16_t code, std::string_view reason);

// What a binding's core session hears about presence, for the presence agent
// (adapters/sip/presence_agent.hpp): the watcher side of SUBSCRIBE/NOTIFY.
class BindingEvents {
 public:
  virtual ~BindingEvents() = default;
  virtual void on_presence(const std::string& user, const core::PresenceUpdate& p) = 0;
  virtual void on_subscription(const std::string& user, const core::SubscriptionEvent& e) = 0;
};

class Registrar : public std::enable_shared_from_this<Registrar> {
 public:
  using Send = std::function<void(OutMessage)>;
  Registrar(Runtime& rt, const config::SipConfig& cfg, std::string domain, Send send);
  ~Registrar();

  // Starts the expiry sweep (once a second, on the core strand).
  void start();
  // Ends every binding (their sessions close with `reason`).
  void stop(const std::string& reason);

  SipReply register_bindings(const RegisterRequest& r, SteadyClock::time_point now = SteadyClock::now());
  // A MESSAGE from `user` (authenticated) to local user `to`.
  SipReply receive_message(const std::string& user, const std::string& source, const std::string& to,
                           std::string body, std::string subject, std::string call_id,
                           core::ChatState chat_state = core::ChatState::none);
  // An outgoing MESSAGE failed: tell its sender (if still connected).
  void delivery_failed(core::SessionId origin, const std::string& ref_id, std::uint16_t code,
                       const std::string& reason);
  // Removes expired bindings.
  void expire(SteadyClock::time_point now);

  std::size_t bindings(const std::string& user) const;
  // The core session of the binding `source` ("ip:port") registered from, else of the
  // user's first binding; 0 when the user has none.
  core::SessionId session_of(const std::string& user, const std::string& source) const;
  void set_events(BindingEvents* e) { events_ = e; }
  std::size_t total_bindings() const { return total_; }
  const std::string& domain() const { return domain_; }

 private:
  struct Binding;
  std::string contacts_header(const std::string& user, SteadyClock::time_point now) const;
  void remove(const std::string& user, const std::string& uri, const std::string& reason);
  void arm_sweep();

  Runtime& rt_;
  config::SipConfig cfg_;  // a copy: reload does not change a running registrar
  std::string domain_;
  Send send_;
  std::map<std::string, std::vector<std::unique_ptr<Binding>>> users_;
  std::size_t total_ = 0;
  std::uint64_t next_resource_ = 1;
  boost::asio::steady_timer sweep_;
  bool stopped_ = false;
  BindingEvents* events_ = nullptr;
};

}  // namespace parley::adapters::sip

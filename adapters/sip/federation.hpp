#pragma once
// SIP presence federation, the core side (core strand only): `sip.federation[]` entries
// name a remote SIP domain, the proxy/presence server to send to, digest credentials for
// it, and which local accounts to publish (RFC 7247/8048 interworking; DESIGN.md use 4).
// The libre side (libre_federation.*) carries out the requests this class decides on and
// reports back.
//
// The proxy (`udp:sip.example.org:5060`, `tls:proxy.example.org`, `udp:192.0.2.1`) may
// name a host: libre's stack has no DNS client, so this class looks the name up with
// getaddrinfo on Asio's resolver thread (never on the core strand or the libre thread;
// adapters/sip/proxy_lookup.hpp says why not libre's dnsc and when it looks up again: at
// start, and when a request through the current address failed, at most every 2 s) and
// hands the libre side the address as an IP-literal loose route, with the configured
// host for a tls: proxy's certificate check (libre_federation.cpp, TlsVerifyScope).
// Requests wait while a lookup runs (MESSAGEs count against kMaxFedMessagesInFlight); a
// name that does not resolve is logged, and fails what waited like a request nobody
// answered: a subscription or publication backs off (federation_schedule) and looks the
// name up again at its next attempt, a MESSAGE comes back recipient-unavailable. The
// resolved addresses are also those an incoming MESSAGE/SUBSCRIBE must come from (Ops::peers).
//
// Watching (RFC 3856 / RFC 6665, subscriber side). A local user has `sip:juliet@remote` on
// the roster (XMPP: `juliet\40remote@sip.DOMAIN`, or `juliet%remote@sip.DOMAIN`) with a
// subscription asked for or granted; the domain is a federation entry's. Parley then holds
// ONE subscription per remote presentity at that entry's proxy, whatever the number of
// local watchers (From: the entry's user at its domain, else parley@<sip.domain>), and
// fans each NOTIFY out to the watchers' sessions. Watchers come from the rosters at start
// and from the `presence/subscribe` hook afterwards; a watcher whose roster no longer
// watches is dropped at the next NOTIFY, and a presentity nobody watches is unsubscribed.
// The first active NOTIFY with a document makes a pending roster subscription active
// (the remote server authorised us). Refreshes are libre's (90 % of Expires); when a
// subscription ends, the next SUBSCRIBE waits out a bounded backoff (federation_schedule).
// Watchdog: a notifier NOTIFYs after every accepted refresh (RFC 6665 §4.2.1.2), so a live
// subscription that heard nothing for Expires + 5 s is taken as dead and started afresh
// (libre alone would retry a refresh that failed, e.g. Kamailio's non-stale 407 for a
// nonce from before its restart, only every 60 s, up to 7 times).
// Bound: `max_subscriptions` remote presentities per entry (a new one beyond it is refused
// with resource-constraint at subscribe time).
//
// Publishing (RFC 3903 client). Each `publish:` account's presence, as watchers on any
// protocol see it (the aggregate: open/closed, show as RPID activities, note), is rendered
// as PIDF for its AOR (`aor`, else sip:<account>@<domain>) and PUBLISHed there; it is
// looked at every tick (250 ms: the core has no presence hook for adapters, and the
// rendered document is only sent when it changed), refreshed with SIP-If-Match before the
// granted Expires runs out, and published anew after a 412. At stop, withdrawn.
//
// Outgoing MESSAGE (RFC 3428). Federation is the core's ForeignRoute for sip: addresses: a
// direct message from a local user to sip:juliet@remote (a federated domain) is sent as a
// pager MESSAGE through the entry's proxy, From the sender's `publish:` AOR if it has one,
// else sip:<account>@<sip.domain>; the entry's credentials answer a 401/407. A final
// failure comes back to the sender as an error for that message (RFC 7572 §5: 404 ->
// item-not-found, 480 -> recipient-unavailable, 403 -> forbidden, no answer at all ->
// recipient-unavailable). At most kMaxFedMessagesInFlight wait for an answer.
//
// Incoming. A MESSAGE whose From is at a federated domain and that arrives from that
// entry's proxy (UDP: its address and port; TCP/TLS: its address) needs no digest (the
// proxy authenticated its user); it reaches the local user as from sip:x@domain (XMPP:
// x\40domain@sip.DOMAIN). A SUBSCRIBE passing the same check goes to the presence agent
// as a federated watcher (PresenceAgent::subscribe_federated: pending until allowed).
//
// NOTIFY bodies are vetted on the libre thread before anything reaches here
// (vet_notify_body: PIDF content type, kMaxPresenceDocument, a parse that refuses what it
// does not understand): a bad one is answered 4xx and changes nobody's presence.
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapters/common/runtime.hpp"
#include "adapters/sip/federation_schedule.hpp"
#include "adapters/sip/proxy_lookup.hpp"
#include "adapters/sip/registrar.hpp"
#include "config/config.hpp"
#include "core/plugin/hooks.hpp"
#include "core/services/router.hpp"
#include "protocols/sip/pidf.hpp"

namespace parley::adapters::sip {

// "sip:user@host" (no parameters, headers or port; host lower-cased), bounded.
struct SipAor {
  std::string user, host;
  std::string str() const { return "sip:" + user + "@" + host; }
};
std::optional<SipAor> parse_sip_aor(std::string_view uri);

// A NOTIFY body as the libre side found it: 200 with the document (or none: an empty
// body, e.g. a pending subscription), else the status to refuse it with.
struct NotifyVetting {
  std::uint16_t code = 200;
  const char* reason = "OK";
  std::optional<protocols::sip::PidfDocument> doc;
};
NotifyVetting vet_notify_body(bool pidf_content_type, std::string_view body);

// What the libre side is asked to do.
struct FedTarget {
  std::string route;  // the proxy's resolved address as a loose route: "sip:192.0.2.1:5060;transport=udp;lr"
  std::string tls_host;  // tls: the configured host (name or IP) its certificate must match; else empty
  std::string user, password;
};
struct FedSubscribe {
  std::uint64_t id = 0;  // a new id per attempt
  std::string uri;       // the remote presentity, "sip:juliet@remote"
  std::string from_uri;  // who subscribes
  std::uint32_t expires = 600;
  FedTarget target;
};
struct FedPublish {
  std::uint64_t id = 0;
  std::string aor;  // the presentity published, Request-URI, From and To
  std::uint32_t expires = 600;
  std::string etag;  // SIP-If-Match, empty for an initial publication
  std::string body;  // PIDF, empty for a refresh
  FedTarget target;
};

struct FedMessage {
  std::uint64_t id = 0;
  std::string uri;       // Request-URI and To: "sip:juliet@remote"
  std::string from_uri;  // the sender's AOR
  std::string body;
  std::string subject;  // header-safe already
  FedTarget target;
};

inline constexpr std::size_t kMaxFedMessagesInFlight = 1024;

class Federation : public core::ForeignRoute, public std::enable_shared_from_this<Federation> {
 public:
  struct Ops {
    std::function<void(FedSubscribe)> subscribe;
    std::function<void(std::uint64_t id)> unsubscribe;
    std::function<void(FedPublish)> publish;
    std::function<void(FedMessage)> message;
    // Entry `entry`'s proxy now resolves to `ips` (the libre side trusts requests from them).
    std::function<void(std::size_t entry, std::vector<ProxyIp> ips)> peers;
  };
  Federation(Runtime& rt, const config::SipConfig& cfg, std::string local_domain, Ops ops);
  ~Federation() override;

  void start();  // reads the rosters, hooks presence/subscribe, starts the tick
  // Unsubscribes, withdraws each publication the server holds (PUBLISH Expires: 0 with its
  // entity tag, RFC 3903 §4.5, so the remote state does not linger until it expires) and
  // forgets everything; returns the number of withdrawals sent (the plugin waits a bounded
  // time for them before closing the stack).
  std::size_t stop();
  void tick(FedClock::time_point now);

  // From the libre side (each about an id this class handed out).
  enum class SubState : std::uint8_t { active, pending, terminated };
  void notified(std::uint64_t id, SubState state, std::optional<protocols::sip::PidfDocument> doc);
  void subscription_ended(std::uint64_t id, std::uint16_t code, const std::string& why);
  void published(std::uint64_t id, std::uint16_t code, std::string etag, std::uint32_t expires);

  // core::ForeignRoute: a direct message to a sip: address (outgoing MESSAGE).
  core::Status deliver(const core::MessagePtr& m) override;
  // The libre side's final answer to FedMessage `id` (code 0: no answer, `why` says why).
  void message_answered(std::uint64_t id, std::uint16_t code, const std::string& why);
  std::size_t messages_in_flight() const { return msgs_.size(); }

  // A pager MESSAGE (RFC 3428) from `from_uri` at a federated domain, relayed by that
  // entry's proxy (the libre side checked the source), to local user `to`.
  SipReply receive_message(const std::string& from_uri, const std::string& to, std::string body,
                           std::string subject, std::string call_id);

  // The federation entry of a remote domain (nullptr: not federated).
  const config::SipFederation* entry_for(std::string_view domain) const;
  // Adds a local watcher of a remote presentity; false when the entry's bound is reached.
  bool watch(const std::string& watcher, const SipAor& presentity);

  std::size_t remote_subscriptions() const { return remotes_.size(); }
  std::size_t live_subscriptions() const;
  std::size_t publications() const { return pubs_.size(); }

 private:
  struct Remote {
    SipAor aor;
    std::size_t entry = 0;
    std::set<std::string> watchers;
    ResubscribeSchedule sched;
    std::uint64_t id = 0;  // the live attempt's id, 0: none
    std::optional<core::Tuple> last;
    std::set<core::SessionId> told;  // sessions that have `last`
    FedClock::time_point heard{};    // the live attempt's start or its last NOTIFY
    bool starting = false;           // due, waiting for the proxy's name to resolve
  };
  struct Pub {
    std::string account;
    std::string aor;
    std::size_t entry = 0;
    PublishSchedule sched;
    std::uint64_t id = 0;  // the request in flight
    bool logged = false;
    std::optional<PublishSchedule::Request> held;  // due, waiting for the proxy's name to resolve
  };

  struct OutMsg {
    core::SessionId origin = 0;
    std::string ref_id, to;
    std::size_t entry = 0;
    std::optional<FedMessage> held;  // waiting for the proxy's name to resolve
  };

  // The entry's proxy, as libre gets it; only when need(entry) said ready.
  FedTarget target(std::size_t entry) const;
  // Whether requests through entry's proxy can go now (starts a lookup when one is due).
  ProxyLookup::State need(std::size_t entry, FedClock::time_point now);
  void looked_up(std::size_t entry, const boost::system::error_code& ec,
                 const boost::asio::ip::udp::resolver::results_type& results);
  // A request through entry's proxy failed: no answer (next address) or refused.
  void proxy_failed(std::size_t entry, std::uint16_t code);
  void send_held_messages(FedClock::time_point now);
  std::string from_aor(std::size_t entry, const std::string& account) const;
  void scan_rosters();
  void deliver(Remote& r, bool to_all);
  std::string pidf_for(const Pub& p) const;
  void arm();

  Runtime& rt_;
  config::SipConfig cfg_;
  std::string domain_;
  Ops ops_;
  std::map<std::string, Remote> remotes_;                 // by "sip:user@host"
  std::vector<std::size_t> remotes_per_entry_;            // remotes_ counted by entry (max_subscriptions)
  std::unordered_map<std::uint64_t, std::string> by_id_;  // live subscribe attempts
  std::vector<Pub> pubs_;
  std::unordered_map<std::uint64_t, OutMsg> msgs_;  // MESSAGEs awaiting an answer or a lookup
  std::vector<ProxyLookup> lookups_;                // by entry
  struct LookupWarned {
    FedClock::time_point at{};
    std::string error;
    std::uint32_t since = 0;  // failed lookups logged at debug level since
  };
  std::vector<LookupWarned> lookup_warned_;  // by entry: the last "does not resolve" warning
  std::uint64_t next_id_ = 1;
  core::HookHandle hook_;
  boost::asio::steady_timer timer_;
  boost::asio::ip::udp::resolver resolver_;  // getaddrinfo on Asio's resolver thread
  bool stopped_ = true;
};

}  // namespace parley::adapters::sip

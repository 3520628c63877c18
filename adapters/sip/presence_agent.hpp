#pragma once
// The SIMPLE presence server on the core side (core strand only): PUBLISH (RFC 3903) into
// the core presence service, and the notifier side of SUBSCRIBE/NOTIFY for `presence`
// (RFC 3856) and `presence.winfo` (RFC 3857), mapped per RFC 8048 (docs/PLUGINS.md).
//
// - A publication (entity tag) sets the tuple of the publisher's binding session (the one
//   registered from the same address, else the first): the account's presence, as XMPP,
//   IRC and PSYC users see it. Refresh/modify issue a new tag; remove and expiry restore
//   the binding's default tuple (open, available).
// - A SUBSCRIBE from watcher W to presentity P is the core's subscription W -> P: active
//   when P allowed W (roster), else pending (P's XMPP client is asked; the SIP watcher
//   gets 202 + a pending NOTIFY, then active once allowed, terminated;reason=rejected if
//   denied). The dialog itself lives on the libre side (libre's sipevent notifier: it
//   answers refreshes and unsubscribes, times the subscription out, and keeps at most one
//   NOTIFY in flight carrying the latest body, so no older state follows a newer one).
// - Each NOTIFY is rendered from the current state when it is sent, at most once per
//   `sip.notify_interval_ms` per subscription (changes in between coalesce), and not at
//   all when the body did not change; each carries a sequence number the libre side
//   checks, so a queued older NOTIFY never overtakes a newer one.
// - A federated watcher (sip:juliet@remote, a SUBSCRIBE relayed by a sip.federation[]
//   entry's proxy: adapters/sip/federation.hpp) is a foreign core watcher: pending until the
//   presentity allows it (the XMPP user sees a subscription request from
//   juliet\40remote@sip.DOMAIN). The core has no sessions to tell a foreign watcher about
//   answers or presence changes, so these subscriptions are looked at every 250 ms
//   (fed_tick): allowed -> active NOTIFY, refused -> terminated;reason=rejected, and a
//   changed document is sent (the NOTIFY pacing and no-change rule as for everyone).
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapters/common/runtime.hpp"
#include "adapters/sip/registrar.hpp"
#include "config/config.hpp"

namespace parley::adapters::sip {

enum class EventPackage : std::uint8_t { presence, winfo };

// A NOTIFY body, shared: every NOTIFY of one presence change points at the one rendered
// PIDF (the agent's cache), so a fan-out to N watchers copies a pointer N times instead of
// the document (issue 12: the per-watcher copies on the core strand and in the fast path).
// Immutable once made; equal when the same document or the same text.
class SharedText {
 public:
  SharedText() = default;
  SharedText(std::string s)  // NOLINT(google-explicit-constructor): a body is text
      : p_(s.empty() ? nullptr : std::make_shared<const std::string>(std::move(s))) {}
  SharedText(const char* s) : SharedText(std::string(s)) {}  // NOLINT(google-explicit-constructor)
  std::string_view view() const { return p_ ? std::string_view(*p_) : std::string_view(); }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  std::string str() const { return std::string(view()); }
  const char* data() const { return view().data(); }
  std::size_t size() const { return view().size(); }
  bool empty() const { return !p_; }
  std::size_t find(std::string_view what, std::size_t pos = 0) const { return view().find(what, pos); }
  friend bool operator==(const SharedText& a, const SharedText& b) {
    return a.p_ == b.p_ || a.view() == b.view();
  }
  friend bool operator==(const SharedText& a, std::string_view b) { return a.view() == b; }

 private:
  std::shared_ptr<const std::string> p_;
};

// One NOTIFY for the libre side to send on subscription `sub_id`.
struct OutNotify {
  std::uint64_t sub_id = 0;
  std::uint64_t seq = 0;  // grows per subscription; the libre side drops anything older
  enum class State : std::uint8_t { active, pending, terminated } state = State::active;
  std::string reason;  // for terminated: rejected | deactivated | timeout | noresource
  SharedText body;
  std::string_view content_type;  // a literal (no allocation per NOTIFY); the dialog's is what goes out
};

struct PublishRequest {
  std::string user;      // authenticated, == the Request-URI user
  std::string source;    // "ip:port"
  std::string if_match;  // SIP-If-Match, empty: initial publication
  std::optional<std::uint32_t> expires;
  std::string body;  // PIDF, empty: refresh/remove
};

class PresenceAgent final : public BindingEvents, public std::enable_shared_from_this<PresenceAgent> {
 public:
  using SendNotify = std::function<void(OutNotify)>;
  PresenceAgent(Runtime& rt, const config::SipConfig& cfg, std::string domain, std::shared_ptr<Registrar> reg,
                SendNotify send);
  ~PresenceAgent() override;

  void start();  // the publication expiry sweep
  void stop();

  SipReply publish(const PublishRequest& r, SteadyClock::time_point now = SteadyClock::now());
  // A new SUBSCRIBE (no To tag) from `watcher` for `target`'s `package`. A 2xx carries
  // sub_id and the first NOTIFY's state and body.
  SipReply subscribe(const std::string& watcher, const std::string& source, const std::string& target,
                     EventPackage package);
  // A new SUBSCRIBE (presence) from `watcher_aor` ("sip:juliet@remote"), relayed by a
  // federation proxy (no digest: the proxy authenticated its user), for local `target`.
  // At most `max_watchers` such subscriptions in all.
  SipReply subscribe_federated(const std::string& watcher_aor, const std::string& target,
                               std::size_t max_watchers);
  // The libre side ended the subscription (expiry, unsubscribe, NOTIFY failed).
  void subscription_ended(std::uint64_t sub_id);

  void on_presence(const std::string& user, const core::PresenceUpdate& p) override;
  void on_subscription(const std::string& user, const core::SubscriptionEvent& e) override;

  std::size_t subscriptions() const { return subs_.size(); }
  std::size_t publications() const { return pubs_.size(); }
  // The PIDF document for a presentity as watchers see it now.
  const SharedText& pidf_of(const std::string& user) const;
  std::uint64_t pidf_renders() const { return pidf_renders_; }  // documents rendered (not cached)

 private:
  struct Publication {
    std::string user;
    core::SessionId session = 0;
    core::Tuple tuple;
    SteadyClock::time_point expires_at;
    std::uint64_t order = 0;  // later publications win on the same session
  };
  struct Sub {
    std::uint64_t id = 0;
    std::string watcher, presentity;
    EventPackage package = EventPackage::presence;
    bool active = false;
    std::uint64_t seq = 0;
    std::uint32_t winfo_version = 0;
    SharedText last_body;
    bool last_active = false;
    SteadyClock::time_point last_sent{};
    std::unique_ptr<boost::asio::steady_timer> timer;
    bool timer_armed = false;
    bool federated = false;  // watcher is a foreign sip: address (subscribe_federated)
  };

  std::string new_etag();
  void apply_session(core::SessionId session);  // the latest publication's tuple, or the default
  void expire(SteadyClock::time_point now);
  void arm_sweep();
  void fed_tick();
  void arm_fed_tick();
  void schedule(Sub& s);
  void send_now(Sub& s);
  void terminate(Sub& s, std::string reason);
  SharedText render(const Sub& s, std::uint32_t winfo_version) const;
  std::string aor(const std::string& user) const;

  Runtime& rt_;
  config::SipConfig cfg_;
  std::string domain_;
  std::shared_ptr<Registrar> reg_;
  SendNotify send_;
  std::map<std::string, Publication> pubs_;  // by entity tag
  std::uint64_t pub_order_ = 0;
  std::unordered_map<std::uint64_t, std::unique_ptr<Sub>> subs_;
  std::unordered_map<std::string, std::vector<std::uint64_t>> by_watcher_;     // presence subs
  std::unordered_map<std::string, std::vector<std::uint64_t>> by_presentity_;  // winfo subs, by owner
  std::uint64_t next_sub_ = 1;
  // The last PIDF rendered per presentity and the tuples it was rendered from: a change
  // that reaches N watchers renders once, not N times (compared, never invalidated, so a
  // cached body is always the current state's). Bounded: cleared beyond kPidfCacheMax.
  struct RenderedPidf {
    std::vector<core::Tuple> tuples;
    SharedText body;
  };
  static constexpr std::size_t kPidfCacheMax = 4096;
  mutable std::unordered_map<std::string, RenderedPidf> pidf_cache_;
  mutable std::uint64_t pidf_renders_ = 0;
  std::mt19937_64 rng_;
  boost::asio::steady_timer sweep_;
  boost::asio::steady_timer fed_timer_;
  std::size_t federated_ = 0;  // subscriptions with `federated`
  bool stopped_ = false;
};

}  // namespace parley::adapters::sip

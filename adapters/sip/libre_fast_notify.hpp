#pragma once
// The NOTIFY fast path for presence subscriptions over UDP (issue 12's CPU per NOTIFY).
//
// libre's sipevent notifier costs ~12 µs per NOTIFY here: sip_drequestf prints every
// dialog header afresh, libre runs a general client transaction with three timers, and the
// 200 comes back through sip_msg_decode (every header parsed and hashed) and a transaction
// lookup. For a subscription that arrived over UDP, this notifier owns the dialog instead:
//
// - It answers the initial SUBSCRIBE (through libre's server transaction, so
//   retransmissions are absorbed; the To tag is the one libre's reply writes, %016llx of
//   msg->tag) and renders the dialog's NOTIFY head once (protocols/sip/notify_wire.hpp):
//   Request-URI = Contact, Route = Record-Route (RFC 6665 §4.1.2, RFC 3261 §12.1.1).
// - It sends each NOTIFY as one sendto on the SIP socket and runs RFC 3261 §17.1.2's
//   non-INVITE client transaction itself: timer E (T1 doubling to T2, T2 once a 1xx came),
//   timer F (64*T1) ends the subscription as a failed NOTIFY does (RFC 6665 §4.2.2), and
//   any final response >= 300 ends it too (481, 408, ...), as libre's notifier does.
// - The responses are taken off the socket before libre decodes them (UdpReceiver, which
//   also reads by a 1 ms tick during a fan-out): a minimal parse
//   (status, top Via branch, CSeq), matched by our branch prefix.
// - RFC 6665 as before: at most one NOTIFY in flight per dialog; what changes meanwhile is
//   kept as the latest state only and sent after the answer, so no older state follows a
//   newer one. In-dialog SUBSCRIBEs (refresh, unsubscribe) are answered here (CSeq order,
//   423, Expires), followed by a NOTIFY with the current state; expiry sends
//   terminated;reason=timeout.
//
// Not taken (libre's notifier keeps them): TCP/TLS subscriptions, a remote target or first
// route that is not an IP literal (no DNS here), a strict router (no ;lr), a sips: or
// non-UDP transport= target, a head larger than kMaxNotifyHead, a listener on a wildcard
// address (the Via and Contact need the address the request came to).
//
// All on the libre thread.
#include <re.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "adapters/sip/libre_udp_intercept.hpp"
#include "adapters/sip/presence_agent.hpp"
#include "protocols/sip/notify_wire.hpp"

namespace parley::adapters::sip {

class FastNotifier {
 public:
  struct Limits {
    std::uint32_t min_expires = 60, default_expires = 3600, max_expires = 3600;
    std::uint32_t t1_ms = 500, t2_ms = 4000;  // RFC 3261 §17.1.1.1
  };
  // The subscription ended on the SIP side (expiry, unsubscribe, a failed NOTIFY).
  using Ended = std::function<void(std::uint64_t sub_id)>;

  FastNotifier(struct sip* sip, Limits limits, Ended ended);
  ~FastNotifier();
  FastNotifier(const FastNotifier&) = delete;
  FastNotifier& operator=(const FastNotifier&) = delete;

  // Puts SIP's UDP socket (from UdpListenCapture) under the fast path. false: not attached.
  bool attach(const UdpPort& port);
  std::size_t sockets() const { return rx_.size(); }
  // `n` notify() calls follow (UdpReceiver::expect; `remote`: from another thread in
  // LibreLoop::try_run_here, whose tick set_remote_tick gave).
  void batch_coming(std::size_t n, bool remote = false) {
    for (auto& r : rx_) r->expect(n, remote);
  }
  // Requests read off the fast path's sockets are offered to `f` first (the PUBLISH fast
  // path, `Stack::fast_publish` in libre_sip_plugin.cpp); false: libre's, as before.
  void set_request_hook(UdpReceiver::Consume f, void* arg) {
    request_ = f;
    request_arg_ = arg;
  }
  void set_remote_tick(UdpReceiver::RemoteTick f, void* arg) {
    for (auto& r : rx_) r->set_remote_tick(f, arg);
  }
  void remote_tick(bool on_libre) {
    for (auto& r : rx_) r->remote_tick(on_libre);
  }

  // The initial SUBSCRIBE `msg`, accepted by the core as subscription `sub_id` with the
  // first NOTIFY `first`. false: not for the fast path, nothing was sent (`*st` untouched);
  // true: answered on `*st` and the first NOTIFY is on its way.
  bool accept(const struct sip_msg* msg, struct sip_strans** st, std::uint64_t sub_id, std::uint16_t code,
              const std::string& reason, const std::string& cuser, const std::string& content_type,
              const OutNotify& first);
  bool owns(std::uint64_t sub_id) const { return dialogs_.count(sub_id) != 0; }
  // A later NOTIFY from the agent (the caller checked owns()); older seqs are dropped.
  void notify(OutNotify&& n);
  // An in-dialog SUBSCRIBE: true when it belongs to one of our dialogs (and was answered).
  bool in_dialog(const struct sip_msg* msg);
  // Shutdown: every live subscription gets terminated;reason=deactivated (once, no
  // retransmission); everything is dropped; the sockets go back to libre alone.
  void close();

  std::size_t dialogs() const { return dialogs_.size(); }
  std::size_t in_flight() const { return txns_.size(); }

 private:
  struct Dialog {
    std::uint64_t sub_id = 0;
    int fd = -1;
    struct sa dst {};
    protocols::sip::NotifyDialog spec;
    protocols::sip::NotifyHead head;
    std::string ltag, rtag, content_type;
    std::uint32_t lseq = 0, rseq = 0;
    std::uint64_t expires_at = 0;  // tmr_jiffies()
    struct tmr expiry {};
    std::uint64_t seq = 1;  // the agent's sequence number last taken
    // The latest state; `dirty`: not yet sent (waits for the NOTIFY in flight).
    OutNotify::State state = OutNotify::State::active;
    std::string reason;
    SharedText body;  // shared with the other NOTIFYs of the change (presence_agent.hpp)
    bool dirty = false;
    std::uint64_t in_flight = 0;  // branch key, 0: none
    bool term_sent = false;       // a terminated NOTIFY went out: the dialog ends with its answer
    bool core_knows_end = false;  // the core has forgotten the subscription
    FastNotifier* self = nullptr;
  };
  struct Txn {
    std::uint64_t sub_id = 0;
    std::uint32_t cseq = 0;
    int fd = -1;
    struct sa dst {};
    std::string wire;
    std::uint64_t deadline = 0;  // timer F
    std::uint32_t interval = 0;  // timer E's current interval
    bool proceeding = false;
  };
  struct Due {
    std::uint64_t at = 0, key = 0;
    bool operator>(const Due& o) const { return at > o.at; }
  };

  static bool consume_c(void* arg, int fd, const struct sa& src, std::string_view d);
  static std::size_t busy_c(void* arg);  // NOTIFYs in flight (UdpReceiver's tick policy)
  bool consume(std::string_view d);
  std::optional<protocols::sip::NotifyDialog> dialog_of(const struct sip_msg* msg, const std::string& cuser,
                                                        const std::string& ltag, struct sa& dst) const;
  void send(Dialog& d);
  void answered(std::uint64_t sub_id, std::uint64_t key, std::uint16_t status);
  void drop(std::uint64_t sub_id);
  void end_from_sip(Dialog& d, const char* reason);  // expiry, unsubscribe: terminated NOTIFY + tell core
  void arm_expiry(Dialog& d, std::uint32_t seconds);
  static void on_expiry(void* arg);
  static void on_timer(void* arg);
  // Timers E and F share tmr_, armed for the earliest due time but never sooner than
  // kTimerSlackMs from now: an answered NOTIFY leaves its entry in due_ (dropped when it
  // comes up), so with a NOTIFY leaving every ~0.6 ms (N = 10) the exact next due time
  // woke the libre thread about every millisecond for nothing (~0.5 wake-ups per PUBLISH).
  // A retransmission or timer F may be up to that late (T1 is 500 ms).
  static constexpr std::uint64_t kTimerSlackMs = 20;
  void arm_timer();

  struct sip* sip_ = nullptr;
  Limits limits_;
  Ended ended_;
  std::vector<std::unique_ptr<UdpReceiver>> rx_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Dialog>> dialogs_;  // by sub_id
  std::unordered_map<std::string, std::uint64_t> by_tag_;               // our tag -> sub_id
  std::unordered_map<std::uint64_t, Txn> txns_;                         // by branch key
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;   // timer E/F, lazily pruned
  struct tmr tmr_ {};
  std::uint64_t tmr_at_ = 0;  // when tmr_ fires, 0: not armed
  std::string state_;         // a terminated Subscription-State value (reused)
  bool closed_ = false;
  UdpReceiver::Consume request_ = nullptr;
  void* request_arg_ = nullptr;
};

}  // namespace parley::adapters::sip

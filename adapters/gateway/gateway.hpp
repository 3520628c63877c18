#pragma once
// The IRC <-> XMPP gateway (Biboumi's job): XMPP users address IRC channels and users under
// irc.gateway_domain (address.hpp) and each gets one IRC connection per (bare JID, network),
// a Puppet (puppet.hpp), opened by the first MUC join and closed when the user has left
// every channel of that network.
//
// Threading: the gateway and all its puppets and IRC sockets live on one strand (today the
// core strand, like the IRC listener: docs/ARCHITECTURE.md); stanzas are posted to it and
// it sends through XmppOut from it. The core knows nothing of the gateway: it is an adapter
// between an XMPP server (port.hpp) and IRC networks.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/gateway/address.hpp"
#include "adapters/gateway/channel_lines.hpp"
#include "adapters/gateway/line_ids.hpp"
#include "adapters/gateway/port.hpp"
#include "adapters/gateway/settings.hpp"
#include "adapters/gateway/shared_reads.hpp"
#include "config/irc_config.hpp"
#include "core/model/message.hpp"
#include "core/store/store.hpp"
#include "protocols/common/backoff.hpp"
#include "protocols/common/net.hpp"

namespace parley::core {
class Store;
}

namespace parley::adapters::gateway {

class Puppet;
// When a deferred leader (Puppet::expect_line) reads: `said`, at the gateway's next input,
// if its group said something since its last read; `tick`, on the read tick. At either, once
// read_defer has passed since its group's last say, it reads as data comes again.
enum class DeferredRead : std::uint8_t { said, tick };
class Adhoc;
class IdentRegistry;
struct SettingsChange;

struct GatewayOptions {
  std::string domain;  // irc.gateway_domain
  std::vector<config::IrcNetwork> networks;
  bool open_networks = false;
  // With open_networks, hosts outside networks[] must resolve to public addresses unless
  // this is set (irc.open_networks_allow_private; connector.hpp public_only).
  bool open_networks_allow_private = false;
  std::size_t max_links_per_user = 10;
  std::size_t queue = 200;        // lines per IRC connection waiting (down or throttled)
  std::size_t max_lines = 10;     // IRC lines one XMPP message may take
  std::size_t max_channels = 50;  // channels one puppet may be in (irc.max_channels)
  std::size_t recvq = 16384, sendq = 1048576;
  protocols::BackoffPolicy backoff;
  std::chrono::milliseconds registration_timeout{60'000};
  // A silent IRC server is PINGed after ping_interval and the link dropped (and retried)
  // after ping_timeout: a dead TCP path is noticed (irc.ping_interval, irc.ping_timeout).
  std::chrono::seconds ping_interval{90}, ping_timeout{180};
  // The channel archive (archive.hpp): written through `store` (on the gateway's strand,
  // which is the core strand; the daemon's store is write-behind, so a line costs a queued
  // write, never a commit here). No store or record_history false: no archive, no history
  // on join, no MAM.
  core::Store* store = nullptr;
  bool record_history = true;       // irc.gateway_record_history / xmpp.component.record_history
  std::size_t history_keep = 1000;  // lines kept per channel (irc.gateway_history_keep)
  std::size_t history_join = 20;    // lines at most replayed on join (irc.gateway_history_join)
  std::size_t mam_page_max = 100;   // MAM results per page at most (irc.gateway_mam_page_max)
  // Users' settings (XEP-0050 ad-hoc commands, settings.hpp); null: none are kept, the
  // configure commands answer service-unavailable. Used on the gateway's strand (the core
  // strand, where the store is used).
  std::vector<std::string> admins;       // irc.gateway_admins
  std::size_t adhoc_sessions = 5;        // irc.gateway_adhoc_sessions
  std::size_t persistent_backlog = 100;  // irc.gateway_persistent_backlog
  // irc.identd: puppets enter their connections here for the identd (identd.hpp); null: off.
  std::shared_ptr<IdentRegistry> ident;
  // Shared reading (shared_reads.hpp): one puppet in a channel reads its lines for the
  // others, which read their own sockets every read_tick. Off: every puppet reads every
  // copy as it arrives (PARLEY_GATEWAY_SHARED_READS=0; A/B measurements).
  bool shared_reads = true;
  // A follower's private messages and PINGs wait at most this long. 100 ms rather than 50:
  // half the followers' reads and the tick's wake-ups, ~5 % less CPU per stanza both ways
  // at 200 msgs/s (bench/README.md, session 39). The tick counts below (kLeaderEchoTicks,
  // SharedReads::kPlaceTicks, kWitnessTicks) are for this period.
  std::chrono::milliseconds read_tick{100};
  // > 0: while stanzas come within this of each other, a leader's copy of a line the
  // gateway's own users said is read at the gateway's next input, or at the read tick; the
  // first of these this long after its group's last say ends the deferral
  // (Puppet::expect_line). 0: off. The component's gateway uses
  // kComponentReadDefer: at 200 msgs/s it halves the gateway's wake-ups per message and
  // costs nothing at 1,000 msgs/s. Parley's own XMPP server gains nothing from it (the c2s
  // streams' wake-ups dominate there) and its users would see each other's lines ~5 ms
  // later, so it stays off there (bench/README.md, sessions 32 and 37).
  // PARLEY_GATEWAY_READ_DEFER_MS sets it for both (A/B measurements).
  std::chrono::milliseconds read_defer{0};
};

inline constexpr std::chrono::milliseconds kComponentReadDefer{10};  // GatewayOptions::read_defer

// One IRC link, for the admin command that lists them.
struct LinkInfo {
  std::string bare, network, nick;
  std::size_t channels = 0;
  bool connected = false;
};

class Gateway {
 public:
  Gateway(const protocols::Strand& strand, GatewayOptions options, XmppOut out);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // ---- the gateway's strand ----
  void on_stanza(const XmppIn& s);
  // A resource of a user went offline: it leaves every channel it was in.
  void resource_gone(std::string_view full_jid);
  // Shutdown: every puppet QUITs and stops reconnecting.
  void stop();
  // The XMPP server's stream is gone (a XEP-0114 component's server restarted): its users'
  // sessions went with it, so every puppet QUITs and is removed; new joins work as before.
  void drop_all(std::string_view reason);

  const std::string& domain() const { return options_.domain; }
  const GatewayOptions& options() const { return options_; }
  const protocols::Strand& strand() const { return strand_; }
  void send(std::string_view to, std::string xml) { out_(to, std::move(xml)); }
  // A stanza a + b + c: through the parts output if there is one, else joined.
  void send_parts(std::string_view to, std::string_view a, std::string_view b, std::string_view c) {
    if (out_parts_) return out_parts_(to, a, b, c);
    std::string xml;
    xml.reserve(a.size() + b.size() + c.size());
    xml.append(a).append(b).append(c);
    out_(to, std::move(xml));
  }
  // An output that takes a stanza in parts (the XEP-0114 component appends them to its write
  // buffer: no string per stanza); before any puppet exists.
  void set_output_parts(XmppOutParts out) { out_parts_ = std::move(out); }
  // Channel lines rendered once for every puppet that hears them (channel_lines.hpp).
  ChannelLines& channel_lines() { return channel_lines_; }
  SharedReads& shared_reads() { return shared_reads_; }
  // A puppet now reads on the tick (Puppet::after_read): the tick runs while any does.
  void arm_read_tick();
  // A leader reads at the next input or on the read tick (Puppet::expect_line); a puppet
  // that goes leaves the list.
  void defer_read(Puppet* p);
  void undefer_read(Puppet* p);
  // When the stanza being handled came (Gateway::on_stanza; with read_defer only).
  std::chrono::steady_clock::time_point input_time() const { return last_input_; }
  // The stanza being handled came within read_defer of the one before: the next one will
  // likely come before read_defer passes, and a deferred read then costs no wake-up. At a
  // slower pace the tick would end each deferral, and the lines of IRC users would wait for
  // it, so leaders read as lines come.
  bool inputs_close() const { return inputs_close_; }
  // A puppet with no channel left asks to be removed (later, on the strand).
  void retire(Puppet* p);
  std::size_t puppets() const { return puppets_.size(); }

  // The configured network a gateway address names (by name or host, case-insensitively),
  // or with open_networks an ad-hoc one for the host (TLS on 6697, verified); nullopt when
  // it may not be reached.
  std::optional<config::IrcNetwork> find_network(std::string_view server) const;
  // The same without copying a configured network (every message needs one): null when it
  // may not be reached; an ad-hoc network is made in `open`, which the result then points to
  // (left empty for a configured one: an IrcNetwork is dozens of strings to build and free).
  const config::IrcNetwork* network_for(std::string_view server,
                                        std::optional<config::IrcNetwork>& open) const;
  // A network reached only because of open_networks, whose addresses must be public.
  bool public_only(const config::IrcNetwork& net) const;

  // ---- the channel archive (archive.hpp) ----
  bool archiving() const { return options_.store && options_.record_history; }
  std::string archive_key_of(std::string_view network, std::string_view channel) const;
  // A channel line (archive key `key`) a puppet heard from IRC (heard) or said itself: its
  // MAM id, the XEP-0359 stanza-id every occupant gets for it. The first puppet to hear a
  // line archives it (a write queued in the store); the others find it among the channel's
  // recent lines (line_ids.hpp), so a line the gateway hears through several puppets is
  // kept once and has one id. `cur` is the puppet's cursor in that channel (archive_cursor
  // when it starts hearing the channel). 0: not archived (archiving off, or the store
  // refused).
  std::int64_t archive_line(const std::string& key, RecentLines::Cursor& cur, bool heard,
                            std::string_view nick, std::string_view body, core::MessageKind kind);
  RecentLines::Cursor archive_cursor(const std::string& key);
  // XEP-0045 §7.2.15: the archived lines `req` asks for, to a joining resource.
  void send_history(const std::string& to, const std::string& room_jid, const std::string& key,
                    const HistoryRequest& req);
  // ---- settings (adhoc.hpp) ----
  UserSettings user_settings(const std::string& bare);
  // Writes the rows, then applies what can change now (a channel's persistent flag on a
  // live puppet); the rest is used from the next connection. An error text when refused.
  std::optional<std::string> save_settings(const std::string& bare, const SettingsChange& change);
  // Every user's persistent channels are joined (at start; and when the XMPP server's
  // stream comes back in component mode).
  void restore_persistent();
  std::vector<LinkInfo> links() const;
  // An admin's disconnect of `bare`'s links (network "" : all); how many were closed.
  std::size_t disconnect(const std::string& bare, std::string_view network);

 private:
  // The stanza's 'to' as a gateway address, its kind by the network's CHANTYPES when the
  // sender has a puppet there ("+chan" is a channel only where the network says so).
  std::optional<GatewayAddress> address_to(const XmppIn& s);
  // The sender's connection to that network, if it has one (none is opened; no network: none).
  Puppet* senders_puppet(const XmppIn& s, const std::optional<config::IrcNetwork>& net,
                         std::string_view label);
  Puppet* puppet_for(std::string_view bare, const config::IrcNetwork& net, std::string_view label,
                     std::string_view nick, bool create, std::string* why, std::string_view peer_ip = {});
  void on_presence(const XmppIn& s);
  void on_message(const XmppIn& s);
  void on_iq(const XmppIn& s);
  void on_mam(const XmppIn& s);
  void self_ping(const XmppIn& s);
  void on_muc_admin(const XmppIn& s);
  // The JID the stanza was addressed to (where its error replies come from).
  std::string addressed(const XmppIn& s) const;
  void error_reply(const XmppIn& s, std::string_view type, std::string_view condition, std::string_view text);

  protocols::Strand strand_;
  GatewayOptions options_;
  XmppOut out_;
  XmppOutParts out_parts_;  // empty: send_parts joins and uses out_
  // The channels being archived: the next store key (0: not read from the store yet; the
  // gateway is the only writer of its keys, so it knows each line's key when it queues it)
  // and the recent lines, for the puppets that hear them after the first.
  struct Archived {
    std::int64_t next_key = 0;
    RecentLines recent;
  };
  std::map<std::string, Archived> archived_;
  Archived* archived(const std::string& key, bool create);
  bool next_key_from_store(const std::string& key, Archived& a);
  // key: bare JID + '\n' + folded network name; found by a key built in puppet_key_ (every
  // inbound message looks one up: no allocation once it has grown)
  SharedReads shared_reads_;  // before puppets_: they leave it when they go
  std::unique_ptr<protocols::StrandTimer> read_tick_;
  bool read_tick_armed_ = false;
  std::vector<Puppet*> deferred_;  // Puppet::deferred()
  std::chrono::steady_clock::time_point last_input_{};
  std::chrono::steady_clock::time_point last_deferred_read_{};
  // Deferred reads at a stanza at most this often: under load, when stanzas come
  // back-to-back, a leader's socket is read for a batch of lines, not once per stanza.
  static constexpr std::chrono::microseconds kDeferredReadGap{1000};
  bool inputs_close_ = false;
  void read_deferred(DeferredRead how);
  std::map<std::string, std::unique_ptr<Puppet>, std::less<>> puppets_;
  std::string puppet_key_;
  ChannelLines channel_lines_;
  bool stopping_ = false;
  std::unique_ptr<Adhoc> adhoc_;
};

}  // namespace parley::adapters::gateway

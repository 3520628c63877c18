#include "adapters/bridge/irc_endpoint.hpp"

#include <spdlog/spdlog.h>

#include <bit>
#include <deque>

#include "adapters/gateway/irc_link.hpp"
#include "adapters/gateway/line_ledger.hpp"
#include "adapters/gateway/marker_ping.hpp"
#include "adapters/gateway/outgoing.hpp"
#include "adapters/gateway/pump_wait.hpp"
#include "adapters/gateway/render.hpp"
#include "adapters/gateway/throttle.hpp"
#include "protocols/common/ascii.hpp"
#include "protocols/common/reconnector.hpp"
#include "protocols/common/token_bucket.hpp"
#include "protocols/irc/client_registration.hpp"
#include "protocols/irc/text.hpp"

namespace parley::adapters::bridge {

namespace irc = protocols::irc;
using gateway::IrcLink;

namespace {
bool is(const irc::Message& m, std::string_view cmd) { return protocols::ascii_equal_fold(m.command, cmd); }
}  // namespace

// One IRC connection of a bridge, in one channel: the bot (listens) or a puppet (speaks).
class IrcBot : public IrcLink::Owner, public BridgeIdentities::Speaker {
 public:
  IrcBot(IrcEndpoint& ep, BridgeIdentities& ids, const protocols::Strand& strand,
         const config::IrcNetwork& net, const std::string& channel, const std::string& nick,
         const std::string& realname, std::string place, const IrcEndpointOptions& o, std::size_t queue_max,
         bool listens)
      : ep_(ep),
        ids_(ids),
        strand_(strand),
        net_(net),
        channel_(channel),
        place_(std::move(place)),
        options_(o),
        queue_max_(queue_max),
        listens_(listens),
        reg_(irc::ClientIdentity{}),
        ledger_(queue_max) {
    identity_.nicks = {nick};
    identity_.user = "bridge";
    identity_.realname = realname;
    identity_.password = net_.password;
    identity_.sasl_user = net_.sasl_user;
    identity_.sasl_password = net_.sasl_password;
    reg_ = irc::ClientRegistration(identity_);
    if (net_.throttle_burst != 0)  // tokens are milliseconds, as in the gateway's Puppet::pump
      bucket_ = protocols::TokenBucket(1000, net_.throttle_burst * net_.throttle_interval_ms);
    ids_.add(this);
  }

  ~IrcBot() override {
    ids_.remove(this);
    *alive_ = 0;
    alive_.reset();
    if (reconnector_) reconnector_->stop();
    if (link_) link_->detach("bridge bot gone");
    if (timer_) timer_->cancel();
    if (keepalive_) keepalive_->cancel();
  }

  std::string_view place() const override { return place_; }
  std::string_view speaker_nick() const override {
    return reg_.registered() ? std::string_view(reg_.nick()) : std::string_view(identity_.nicks.front());
  }

  void start() {
    protocols::ConnectOptions o;
    o.tls = net_.tls;
    o.verify = net_.verify;
    o.fingerprint = net_.fingerprint;
    reconnector_ = protocols::Reconnector::make(
        strand_, net_.host, net_.port, o, options_.backoff,
        {.on_connected = [this](protocols::ConnectedStream s) { connected(std::move(s)); },
         .on_failed =
             [this](const protocols::ConnectError& e, std::optional<std::chrono::milliseconds> retry) {
               spdlog::warn(
                   "bridge: {} -> {}:{}: {}{}", identity_.nicks.front(), net_.host, net_.port, e.reason,
                   retry ? fmt::format(" (retry in {} ms)", retry->count()) : std::string(" (giving up)"));
             }});
    reconnector_->start();
  }

  // Shutdown: QUIT, no reconnection.
  void quit(std::string_view reason) {
    stopped_ = true;
    if (reconnector_) reconnector_->stop();
    // Nothing more to wait for: pending keepalive and rejoin waits would keep the io_context
    // busy past the daemon's drain limit at shutdown.
    if (keepalive_) keepalive_->cancel();
    if (timer_) timer_->cancel();
    pump_wait_.cancel();  // a marker's quiet wait, under a throttle
    if (auto link = link_) {
      std::string line;
      irc::LineWriter(line).command("QUIT").trailing(gateway::one_line(reason, 300)).end();
      link->send(line);
      link->release();
      link->close_after_flush("quit");
      link_.reset();
    }
  }

  // Complete wire lines for the channel; lines that do not fit the queue are dropped (and
  // counted in the log): a bridge has nobody to refuse them to.
  void send(std::vector<std::string> lines) {
    for (auto& l : lines) {
      if (queue_.size() >= queue_max_) {
        ++dropped_;
        continue;
      }
      queue_.push_back(std::move(l));
    }
    if (std::has_single_bit(dropped_))  // 1, 2, 4, 8...: bounded logging
      spdlog::warn("bridge: {} on {}: queue full, {} lines dropped so far", speaker_nick(), net_.host,
                   dropped_);
    pump();
  }

  const std::string& channel() const { return channel_; }
  std::string nick() const { return std::string(speaker_nick()); }

  // ---- IrcLink::Owner ----
  void on_irc_message(const irc::Message& m) override {
    last_rx_ = std::chrono::steady_clock::now();
    std::string out;
    auto ev = reg_.on_message(m, out);
    send_now(out);
    if (!link_) return;
    if (ev == irc::ClientRegistration::Event::failed) {
      spdlog::warn("bridge: {} on {}: registration failed: {}", identity_.nicks.front(), net_.host,
                   reg_.error());
      if (auto link = link_) link->close(reg_.error());
      return;
    }
    if (ev == irc::ClientRegistration::Event::registered) return on_registered();
    if (!reg_.registered()) return;
    if (is(m, "PONG") && m.nparams >= 1) {  // a marker's: the lines written before it arrived
      ledger_.on_pong(m.param(m.nparams - 1));
      return;
    }
    const std::string_view who = m.prefix.substr(0, m.prefix.find('!'));
    const bool me = irc::equal_fold(who, reg_.nick());
    if (is(m, "JOIN") && m.nparams >= 1 && me && irc::equal_fold(m.param(0), channel_)) {
      joined_ = true;
      spdlog::info("bridge: {} joined {} on {}", reg_.nick(), channel_, net_.host);
      // The server handled our JOIN after every line before it: all their refusals are in.
      const auto r = ledger_.requeue_refused(queue_, queue_max_, dropped_);
      if (r.again != 0)
        spdlog::info("bridge: {} on {}: {} line(s) {} refused while the bot was out of it: sent again",
                     reg_.nick(), net_.host, r.again, channel_);
      if (r.lost != 0)
        spdlog::warn(
            "bridge: {} on {}: {} more line(s) {} refused while the bot was out of it are lost "
            "(past the queue's bound)",
            reg_.nick(), net_.host, r.lost, channel_);
      return pump();
    }
    if (is(m, "KICK") && m.nparams >= 2 && irc::equal_fold(m.param(0), channel_) &&
        irc::equal_fold(m.param(1), reg_.nick())) {
      joined_ = false;
      ledger_.left_channel();
      spdlog::warn("bridge: {} kicked from {} on {}; rejoining", reg_.nick(), channel_, net_.host);
      return rejoin_later();
    }
    if (is(m, "PART") && m.nparams >= 1 && me && irc::equal_fold(m.param(0), channel_)) {
      joined_ = false;
      ledger_.left_channel();
      return rejoin_later();
    }
    // ERR_CANNOTSENDTOCHAN (RFC 2812 §5.2): the channel refused one of our lines; or
    // ERR_NOSUCHNICK: it is gone (we were its last member when kicked). After our KICK or
    // PART, because we were no longer in it: the ledger counts it, and the line goes again
    // once we are back (LineLedger::left_channel). Otherwise it is moderated and we have no
    // voice, or we are banned: not sent again, as nothing says it would be taken now; logged
    // (1, 2, 4, 8...: bounded) so that the loss is known.
    if ((is(m, "404") || is(m, "401")) && m.nparams >= 2 && irc::equal_fold(m.param(1), channel_)) {
      if (ledger_.refused()) return;
      ++refused_;
      if (std::has_single_bit(refused_))
        spdlog::warn("bridge: {} on {}: {} refused a line ({}), {} so far", reg_.nick(), net_.host, channel_,
                     m.param(m.nparams - 1), refused_);
      return;
    }
    // Join refusals (ERR_NOSUCHCHANNEL, TOOMANYCHANNELS, UNAVAILRESOURCE, LINKCHANNEL (a
    // forward elsewhere), CHANNELISFULL ... NEEDREGGEDNICK, and InspIRCd's DELAYREJOIN (+J: no
    // rejoin so soon after a KICK) and CANTJOINOPERSONLY): retried after a delay.
    static constexpr std::string_view kJoinErrors[] = {"403", "405", "437", "470", "471", "473",
                                                       "474", "475", "477", "495", "520"};
    for (auto code : kJoinErrors)
      if (is(m, code) && m.nparams >= 2 && irc::equal_fold(m.param(1), channel_)) {
        spdlog::warn("bridge: {} cannot join {} on {}: {}", reg_.nick(), channel_, net_.host,
                     m.param(m.nparams - 1));
        return rejoin_later();
      }
    // Only PRIVMSG is relayed: NOTICEs are what bots talk in (RFC 2812 §3.3.2: never answered
    // automatically), so two relays never echo each other through them.
    if (!listens_ || !is(m, "PRIVMSG") || m.nparams < 2 || who.empty() ||
        m.prefix.find('!') == std::string_view::npos || !irc::equal_fold(m.param(0), channel_))
      return;
    if (me || ep_.is_ours(who)) return;  // a bridge's own line: never relayed again
    const std::string_view text = m.param(1);
    if (auto action = irc::ctcp_action(text)) return ep_.heard(who, *action, true);
    if (irc::parse_ctcp(text)) return;  // other CTCP is not conversation
    ep_.heard(who, text, false);
  }

  void on_irc_closed(std::string_view reason) override {
    spdlog::info("bridge: {} lost {}: {}", speaker_nick(), net_.host, reason);
    link_.reset();
    joined_ = false;
    resend_lost();
    if (!stopped_ && reconnector_) reconnector_->connection_lost();
  }

 private:
  void connected(protocols::ConnectedStream s) {
    protocols::Connection::Limits limits;
    limits.max_read_buffer = options_.recvq;
    limits.max_write_queue = options_.sendq;
    limits.handshake_timeout_ms = static_cast<std::uint32_t>(options_.registration_timeout.count());
    limits.read_ahead = 1024;  // one recv per line (net.hpp)
    const auto fb = net_.encoding == "reject" ? irc::Fallback::reject : irc::Fallback::latin1;
    link_ = std::make_shared<IrcLink>(std::move(s), limits, fb, this);
    reg_ = irc::ClientRegistration(identity_);
    joined_ = false;
    std::string out;
    reg_.start(out);
    auto link = link_;
    link->start();
    send_now(out);
  }

  void on_registered() {
    link_->clear_deadline();
    arm_keepalive();
    send_join();
  }

  void send_join() {
    std::string line;
    irc::LineWriter(line).command("JOIN").param(channel_).end();
    send_now(line);  // not throttled: the queue waits for it
  }

  void rejoin_later() {
    if (!timer_) timer_ = std::make_unique<protocols::StrandTimer>(strand_);
    timer_->expires_after(options_.rejoin_delay);
    timer_->async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
      if (ec || alive.expired() || !link_ || !reg_.registered() || joined_) return;
      send_join();
    });
  }

  // PING after ping_interval of silence, close after ping_timeout (then the Reconnector retries).
  void arm_keepalive() {
    if (!keepalive_) keepalive_ = std::make_unique<protocols::StrandTimer>(strand_);
    keepalive_->expires_after(options_.ping_interval / 2);
    keepalive_->async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
      if (ec || alive.expired() || !link_) return;
      const auto silent = std::chrono::steady_clock::now() - last_rx_;
      if (silent >= options_.ping_timeout) {
        auto link = link_;
        return link->close("Ping timeout");
      }
      if (silent >= options_.ping_interval)
        send_now(std::string(gateway::kMarkerPing) + std::string(gateway::kKeepaliveToken) + "\r\n");
      arm_keepalive();
    });
  }

  void send_now(std::string_view bytes) {
    if (auto link = link_; link && !bytes.empty()) link->send(bytes);
  }

  // Queued lines go once the channel is joined, through the token bucket, each kept in the
  // ledger until a marker PING's PONG after it says it arrived (line_ledger.hpp). The marker
  // goes once the queue is empty; under a throttle only after an interval of quiet (a token
  // it took while lines come would be the next line's), unless lines have waited too long.
  void pump() {
    if (!link_ || !reg_.registered() || !joined_) return;
    std::string batch;
    std::chrono::milliseconds delay{0};
    const auto now = gateway::LineLedger::Clock::now();
    while (!queue_.empty()) {
      const bool marker_first = ledger_.marker_starved(now);
      delay = gateway::take_one(bucket_, net_.throttle_interval_ms);
      if (delay.count() != 0) break;
      if (marker_first) {
        batch += ledger_.take_marker();
        continue;
      }
      batch += queue_.front();
      ledger_.written(std::move(queue_.front()), now);
      queue_.pop_front();
      last_written_ = now;
    }
    if (queue_.empty() && ledger_.marker_owed()) {
      if (bucket_.enabled())
        delay = std::chrono::ceil<std::chrono::milliseconds>(
            last_written_ + std::chrono::milliseconds(net_.throttle_interval_ms) - now);
      if (delay.count() <= 0) delay = gateway::take_one(bucket_, net_.throttle_interval_ms);
      if (delay.count() == 0) batch += ledger_.take_marker();
    }
    send_now(batch);
    if (delay.count() > 0) pump_wait_.arm(delay, [this] { pump(); });
  }

  // The link was lost: what it took that no marker's PONG confirmed goes again, first.
  void resend_lost() {
    bool tokenless = false;
    const std::size_t unconfirmed = ledger_.size();
    if (const std::size_t n = ledger_.requeue_lost(queue_, queue_max_, tokenless, dropped_))
      spdlog::info(
          "bridge: {} on {}: {} line(s) not known to have arrived before the link was lost: sent again",
          speaker_nick(), net_.host, n);
    else if (tokenless && unconfirmed != 0)
      spdlog::warn(
          "bridge: {} on {}: the server returned no PING token: {} line(s) written last are not known "
          "to have arrived, and are not sent again",
          speaker_nick(), net_.host, unconfirmed);
  }

  IrcEndpoint& ep_;
  BridgeIdentities& ids_;
  protocols::Strand strand_;
  const config::IrcNetwork& net_;
  std::string channel_;
  std::string place_;
  IrcEndpointOptions options_;
  std::size_t queue_max_;
  bool listens_;
  irc::ClientIdentity identity_;
  irc::ClientRegistration reg_;
  std::shared_ptr<IrcLink> link_;
  std::shared_ptr<protocols::Reconnector> reconnector_;
  std::deque<std::string> queue_;
  gateway::LineLedger ledger_;
  gateway::LineLedger::Clock::time_point last_written_{};
  std::size_t dropped_ = 0;
  std::size_t refused_ = 0;  // lines the channel refused while the bot was in it (404)
  protocols::TokenBucket bucket_;
  gateway::PumpWait pump_wait_{strand_};
  std::unique_ptr<protocols::StrandTimer> timer_, keepalive_;
  std::chrono::steady_clock::time_point last_rx_{};
  std::shared_ptr<int> alive_ = std::make_shared<int>(1);
  bool joined_ = false;
  bool stopped_ = false;
};

IrcEndpoint::IrcEndpoint(Bridge& bridge, BridgeIdentities& ids, const protocols::Strand& strand,
                         config::IrcNetwork net, std::string channel, IrcEndpointOptions o)
    : bridge_(bridge),
      ids_(ids),
      strand_(strand),
      net_(std::move(net)),
      channel_(std::move(channel)),
      options_(o),
      place_("irc " + protocols::ascii_fold(net_.name)) {}

IrcEndpoint::~IrcEndpoint() = default;

void IrcEndpoint::start() {
  bot_ = std::make_unique<IrcBot>(*this, ids_, strand_, net_, channel_, bridge_.bot_nick(),
                                  "Parley bridge " + bridge_.config().name, place_, options_,
                                  bridge_.options().queue, true);
  bot_->start();
}

void IrcEndpoint::stop() {
  stopped_ = true;
  if (bot_) bot_->quit("bridge stopped");
  for (auto& [_, p] : puppets_) p->quit("bridge stopped");
}

bool IrcEndpoint::is_ours(std::string_view nick) const { return ids_.is_ours(place_, nick); }

void IrcEndpoint::heard(std::string_view nick, std::string_view text, bool action) {
  if (stopped_) return;
  // mIRC formatting and other controls stripped: the other rooms get plain text.
  bridge_.heard(this, Heard{std::string(nick), gateway::xml_safe_text(text), action});
}

void IrcEndpoint::say(const Heard& h) {
  if (stopped_ || !bot_) return;
  if (bridge_.puppets()) {
    const std::string who = clean_nick(h.nick);
    const std::string key = protocols::ascii_fold(who);
    auto it = puppets_.find(key);
    if (it == puppets_.end() && puppets_.size() < bridge_.config().max_puppets) {
      auto p = std::make_unique<IrcBot>(*this, ids_, strand_, net_, channel_, irc_nick_of(who),
                                        "Parley bridge " + bridge_.config().name + " for " + who, place_,
                                        options_, bridge_.options().queue, false);
      p->start();
      it = puppets_.emplace(key, std::move(p)).first;
    }
    if (it != puppets_.end()) {
      IrcBot& p = *it->second;
      return p.send(irc_wire_lines(p.nick(), channel_, {}, h, bridge_.options().max_lines, true));
    }
  }
  bot_->send(irc_wire_lines(bot_->nick(), channel_, bridge_.config().prefix, h, bridge_.options().max_lines));
}

}  // namespace parley::adapters::bridge

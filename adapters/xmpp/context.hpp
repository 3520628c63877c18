#pragma once
// What every c2s connection of one plugin shares: the runtime, the domains, limits, the
// connection manager and the XEP-0198 resumable sessions.
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "adapters/common/runtime.hpp"
#include "adapters/xmpp/flush_batch.hpp"
#include "core/model/address.hpp"
#include "core/model/message.hpp"
#include "protocols/common/net.hpp"
#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/jid.hpp"

namespace parley::adapters::gateway {
class Gateway;
}

namespace parley::adapters::xmpp {

namespace px = parley::protocols::xmpp;

class Link;

struct Domains {
  std::string domain;  // server.domain
  std::string muc;     // xmpp.muc.domain

  // JID -> core address: users of `domain`, rooms of `muc`, anything else foreign "xmpp:".
  // Empty address for the bare service domains themselves.
  core::Address to_address(const px::Jid& j) const;
  std::string user_jid(const std::string& user, const std::string& resource = {}) const;
  std::string room_jid(const std::string& room, const std::string& nick = {}) const;
  // core address -> JID text (inverse of to_address). Another protocol's foreign address
  // stays its URI text: the gateway domains of issue 11 will map those.
  std::string jid_of(const core::Address& a) const;
};

// Flood control per session (xmpp.c2s.rate, core_queue, max_unacked*): what one client may
// cost before it is slowed down (input) or its stream is closed (XEP-0198 queue).
struct FloodLimits {
  // Input shaper (ejabberd's c2s shaper, Prosody's mod_limits): bytes and stanzas per
  // second with a burst each; a rate of 0 switches that bucket off.
  std::uint64_t bytes_per_second = 64 * 1024;
  std::uint64_t burst = 256 * 1024;
  std::uint64_t stanzas_per_second = 50;
  std::uint64_t stanza_burst = 200;
  // Stanzas of one session posted to the core strand and not yet handled; 0: unbounded.
  std::uint32_t core_queue = 64;
  // XEP-0198 stanzas sent and not yet acknowledged, by count and by bytes; 0: unbounded.
  std::size_t max_unacked = 5000;
  std::size_t max_unacked_bytes = 4 * 1024 * 1024;
};

struct Context {
  Runtime& rt;
  Domains domains;
  px::FramerLimits limits;
  protocols::ConnectionManager manager;
  std::chrono::seconds resume_timeout{120};
  FloodLimits flood;
  // Pre-authentication bounds (xmpp.c2s.auth_timeout, limits.preauth_stanza_size) and the
  // listener-wide deadlines (server.connections).
  std::chrono::seconds auth_timeout{60};
  std::size_t preauth_stanza = 16 * 1024;
  std::uint32_t handshake_timeout_ms = 0;
  std::uint32_t close_timeout_ms = 0;

  // Guards resumable, resume_timers, stopping and each Link's `ended`. A link is attached to
  // and detached from connections under it too when resumption is involved (on_resume,
  // on_close), so a resume and the resume timeout cannot both win. Taken before Link's own.
  std::mutex mu;
  std::map<std::string, std::shared_ptr<Link>> resumable;  // XEP-0198 id -> link
  // Pending resume timeouts: stop() cancels them, which ends their sessions at once.
  std::set<std::shared_ptr<boost::asio::steady_timer>> resume_timers;
  bool stopping = false;  // the plugin is stopping: a dropped stream is no longer kept

  // Core strand only: the last room message rendered for a fan-out, split around the value
  // of its 'to' attribute, so each occupant costs a copy rather than a rendering. Keyed by
  // the message's identity (the MessagePtr kept here keeps that address from being reused).
  struct RoomRender {
    std::shared_ptr<const core::Message> msg;
    bool delay = false;
    std::string prefix, suffix;
  } room_render;

  // The IRC gateway served under irc.gateway_domain (adapters/gateway), or null. Set before
  // the listeners open and read-only afterwards; its methods run on the core strand.
  gateway::Gateway* gateway = nullptr;
  std::string gateway_domain;

  // Set once any session enables carbons (XEP-0280); until then no 'sent' copy is rendered.
  std::atomic<bool> carbons_used{false};

  // Core strand only: the flushes of one core-strand turn, handed to the connections at once.
  FlushBatch flushes;

  Context(Runtime& r, Domains d, px::FramerLimits l) : rt(r), domains(std::move(d)), limits(l), flushes(r) {}
};

std::string random_id();

}  // namespace parley::adapters::xmpp

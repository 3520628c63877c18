#pragma once
// Node-to-node context multicast between Parley nodes (psyc.peers[]). All on the core strand.
//
// The link. Of two nodes that list each other, the one whose root uniform sorts first
// dials (protocols::Reconnector, backoff 1 s .. psyc.peer_backoff_max); the other accepts
// on its psyc.listen like any circuit, whose `_request_link` with `:_source` = a
// configured peer uniform hands the circuit over to this hub. One link per pair, used
// both ways. With psyc.peers[].tls the dialer connects to the peer's `tls:` listener and
// checks its certificate as irc.networks[] do (protocols/common/connector: `verify`, and/or
// the pinned SHA-256 `fingerprint`); a refused certificate is a failed attempt (logged,
// backoff). The acceptor refuses such a peer's link on a plain circuit. The secret
// challenge runs either way. Authentication never sends the secret (protocols/psyc/link_proof.hpp):
//   dialer:   _request_link  :_nonce_link Nd
//   acceptor: _query_link_proof  :_nonce_link Na  :_proof_link HMAC(s, acceptor|A|D|Nd)
//   dialer:   _request_link  :_proof_link HMAC(s, dialer|D|A|Na)   (after checking A's)
//   acceptor: _notice_link, or _error_invalid_proof and the close
// Then each side sends `?` (resync); the answer is the context state of every room with
// members on the answering node, one packet per room (`:_context psyc://N/@dev`,
// `=_list_members`, `=_list_members_nicks`, method _status_context_members), then
// _status_context_synchronised, then what was queued while the link was down.
//
// Ownership. Every hub room is one context shared by all linked nodes; each node is the
// context master of its own members' events: a join, part, message or action of a local
// member is sent once to each peer node that has members in the room (never once per
// remote member), as `+_list_members` / `-_list_members` / `_message_*` with :_context.
// The receiving node keeps the membership as a mirror: one guest core session per remote
// person (user "<name>.<first label of the peer's host>", the remote nick in the room),
// through which the core fans the event out to local members on every protocol. A node
// with no member left in a room drops that room's mirror (the peer stops sending for it).
// Room state beyond membership, the same way: a topic set here (`=_topic` with
// `=_time_topic`, method _notice_context_topic; also in the resync's first member packet,
// where the newer topic wins on both nodes), channel modes and member status (method
// _notice_context_change, room_change_wire.hpp; queued while the link is down), a local member's nick change
// (_notice_context_nick, `_nick_new`), and kicks: a leave with `_nick_kicker` shows as a kick there. A local
// moderator who kicks a remote person's mirror session makes the person's own node remove the person (it
// trusts its authenticated peer's check of the kicker's rights: core
// RoomService::remove_as / set_topic_as / change_as apply such decisions as given, and a
// remote person's message goes in with say_as: its node checked its voice). A kick of a
// remote person made while the link is down is queued, and the person is kept out of the
// peer's resync until it went through (else the resync would bring them back).
// Loop prevention: events caused by a mirror session, or raised while a peer packet is
// being applied, are never sent on. With more than two nodes every pair must be linked
// (a full mesh): nothing is relayed through a third node.
//
// Bounds: the codec limits of psyc.limits on every packet; psyc.peer_members remote
// persons per room and per peer; psyc.peer_queue messages queued while a link is down
// (delivered after the resync); beyond it the sender's session gets an error
// (resource_constraint), nothing is dropped silently.
//
// Counting: every link logs "psyc peer <uniform>: link up/down, <n> packets sent" at info
// level when it goes down, and each sent packet at debug level.
#include <memory>
#include <string_view>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "protocols/common/net.hpp"
#include "protocols/psyc/packet.hpp"

namespace parley::adapters::psyc {

struct Peer;  // one configured peer (peer_link.cpp)

class PeerHub {
 public:
  PeerHub(Runtime& rt, const config::Config& cfg);
  ~PeerHub();
  void start();  // dials the peers this node dials
  void stop();
  void tick();  // every few seconds: keepalives on idle links

  // The configured peer whose uniform is `source`, null for none.
  Peer* find(std::string_view source);
  // A packet from the peer's link (inbound circuit or outbound connection). False: close it.
  bool packet(Peer& p, protocols::Connection& conn, const protocols::psyc::Packet& pk);
  // True once `conn` is the peer's authenticated link (until then the circuit's rate applies).
  bool linked(Peer& p, const protocols::Connection& conn) const;
  // The link connection closed.
  void closed(Peer& p, protocols::Connection& conn);

  struct Impl;  // peer_link.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::adapters::psyc

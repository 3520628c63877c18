#pragma once
// One PSYC client circuit (TCP or TLS) on the core strand, as IRC and line connections are
// (docs/ARCHITECTURE.md): on_data parses packets and calls the core directly, and the
// SessionSink renders core events straight into the send queue.
//
// The circuit, as Parley speaks it (about.psyc.eu Spec:Packet, Spec:Circuit):
//  - Each side sends the empty packet "|" LF first; a client's first packet must be it
//    (else _error_circuit_initialization and close). Later empty packets are no-ops
//    (a client's keepalive: psyc.idle_timeout closes a silent circuit).
//  - Routing modifiers with '=' set circuit state: `=_target psyc://D/@dev` once, and
//    later packets without a _target go there; `=_target` with no value clears it.
//    ':' applies to its packet only.
//  - Linking (the client names its UNI): `:_target psyc://D/~alice`, `_request_link`, with
//    `:_password secret` for an account. Answers: _notice_link (linked; `_nick`),
//    _query_password (an account's name without a password), _error_invalid_password,
//    _error_nickname_in_use (a guest name someone has), _error_necessary_link (anything
//    but _request_link before linking). Without _password a name no account has is a
//    guest (psyc.guests), as on IRC.
//  - Places are the hub's rooms: psyc://D/@dev is IRC's #dev. _request_context_enter /
//    _request_context_leave (also psyced's _request_enter / _request_leave) to the place;
//    answers _echo_context_enter (with _list_members and _list_members_nicks) and
//    _echo_context_leave; others' joins and parts come as _notice_context_enter /
//    _notice_context_leave with `:_context` and `:_source_relay`.
//  - _message_public (or _message) and _message_action to a place say in the room; the
//    place sends each message to every member (the sender too) with `:_context`.
//    _message_private (or _message) to a person is a direct message, received likewise.
//  - _request_friendship to a person subscribes to them and authorises them (accounts only);
//    the other side gets _request_friendship, and when both asked each gets
//    _notice_friendship_established; _request_friendship_remove ends it both ways
//    (_notice_friendship_removed). XMPP users see ordinary roster subscriptions.
//  - _notice_presence* with _degree_availability (1..8 or a keyword) and
//    _description_presence publish presence; watched users' presence comes back so.
//  - A `_request_link` whose `:_source` is a configured peer node's uniform (psyc.peers)
//    hands the circuit to the PeerHub (peer_link.hpp): node-to-node context multicast.
//  - Unknown methods are handled as their nearest known family (method.hpp); with none,
//    _error_unsupported_method. A malformed packet gets _error_syntax, then the close.
#include <memory>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "core/services/session_sink.hpp"
#include "protocols/common/net.hpp"

namespace parley::adapters::psyc {

class PeerHub;

// Accepted sockets are rehome()d to the core strand first.
std::shared_ptr<protocols::Connection> make_circuit(protocols::Socket s,
                                                    std::shared_ptr<boost::asio::ssl::context> tls,
                                                    protocols::Connection::Limits limits, Runtime& rt,
                                                    const config::Config& cfg, PeerHub* hub = nullptr);
// Core strand: closes the circuit when it has been silent longer than psyc.idle_timeout.
void check_idle(protocols::Connection& c, std::chrono::steady_clock::time_point now);

}  // namespace parley::adapters::psyc

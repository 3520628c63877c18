#pragma once
// RFC 1413 (Identification Protocol), the server side, socket-free: one query line in,
// one reply line out. The gateway's identd (adapters/gateway/identd.hpp) answers IRC
// networks asking who owns a connection a puppet opened to them.
//
//   query:  <port-on-server> , <port-on-client> CR LF      (§6: whitespace around the comma)
//   reply:  <port-on-server> , <port-on-client> : USERID : UNIX : <user-id> CR LF
//           <port-on-server> , <port-on-client> : ERROR : NO-USER | INVALID-PORT CR LF
//
// "server" is the identd's side (the gateway: the puppet's local port), "client" the
// querying side (the IRC server's port the puppet connected to).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::protocols::ident {

// §6: "the query ... is at most 1000 characters": a longer line is abuse, not a query.
inline constexpr std::size_t kMaxQueryLine = 1000;

struct Query {
  std::uint16_t server_port = 0;
  std::uint16_t client_port = 0;
};

enum class ParseResult : std::uint8_t { ok, invalid_port, malformed };

// One line without its CR LF (a trailing CR is tolerated). ok: *q is set. invalid_port:
// two numbers, one outside 1..65535 (§6 INVALID-PORT; *q holds what could be echoed, 0 for
// an unparsable side). malformed: not a query at all (close without a reply).
ParseResult parse_query(std::string_view line, Query* q);

// The reply lines. user_id: what the connection's owner is called; anything but printable
// ASCII without ':' is replaced by '_', at most 64 bytes, "unknown" when empty.
std::string userid_reply(const Query& q, std::string_view user_id);
std::string error_reply(const Query& q, std::string_view error);  // "NO-USER", "INVALID-PORT"

}  // namespace parley::protocols::ident

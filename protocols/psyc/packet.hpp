#pragma once
// PSYC 1.0 packets as values (about.psyc.eu Spec:Packet):
//
//   packet         = routing-header [ content-length content ] "|" LF
//   routing-header = *routing-modifier            ; operator variable ( HTAB text LF / LF )
//   content-length = [ length ] LF                ; empty: the content ends at LF "|" LF
//   content        = *sync-operation *entity-modifier [ method [ LF data ] LF ]
//   entity-modifier = operator variable ( HTAB text LF / SP length HTAB bytes LF / LF )
//
// A Packet's string_views point into the buffer it was parsed from (parser.hpp) or into
// strings its builder keeps alive; the renderer (render.hpp) writes one back. Every field
// that changes the bytes on the wire is kept (value form, an explicit content length, an
// empty content line), so parse -> render reproduces the input byte for byte.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace parley::protocols::psyc {

namespace detail {
// One table lookup per byte on the parser's hot path instead of a chain of compares.
inline constexpr std::uint8_t kKwchar = 1, kOperator = 2;
inline constexpr std::array<std::uint8_t, 256> kCharClass = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = kKwchar;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kKwchar;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kKwchar;
  t['_'] = kKwchar;
  for (unsigned char c : {':', '=', '+', '-', '?'}) t[c] = kOperator;
  return t;
}();
}  // namespace detail

// The operators ("glyphs") of Spec:Packet: ':' this packet only, '=' set persistent
// state, '+' / '-' add to / remove from a persistent list, '?' query (state resync).
inline bool is_operator(char c) {
  return detail::kCharClass[static_cast<unsigned char>(c)] & detail::kOperator;
}
// kwchar: alphanumeric ASCII or '_' (variables and methods).
inline bool is_kwchar(char c) { return detail::kCharClass[static_cast<unsigned char>(c)] & detail::kKwchar; }
bool is_keyword(std::string_view s);  // 1*kwchar

// How a modifier's value was written: `:_a LF` (none), `:_a HTAB v LF` (text, no LF in v),
// `:_a SP n HTAB v LF` (binary, any bytes). The renderer writes text values that contain
// an LF as binary (the only form that can carry one).
enum class ValueForm : std::uint8_t { none, text, binary };

struct Modifier {
  char op = ':';
  std::string_view name;  // "_nick"
  std::string_view value;
  ValueForm form = ValueForm::text;

  friend bool operator==(const Modifier&, const Modifier&) = default;
};

struct Packet {
  std::vector<Modifier> routing;
  // A content-length line was present (possibly empty); implied when there is any content.
  bool content = false;
  // The content length was written out as a number (else: the content ends at LF "|" LF).
  bool explicit_length = false;
  // State sync operations before the entity modifiers, as written: "=\n" (reset the
  // sender's state), "?\n" (ask for a resync), possibly several; empty: none.
  std::string_view state_sync;
  std::vector<Modifier> entity;
  std::string_view method;  // empty: no body
  bool has_data = false;    // method LF data: distinguishes empty data from none
  std::string_view data;

  void clear() {
    routing.clear();
    entity.clear();
    content = explicit_length = has_data = false;
    state_sync = method = data = {};
  }
  // First modifier named `name` (routing, then entity); null if none.
  const Modifier* find(std::string_view name) const;
  const Modifier* find_routing(std::string_view name) const;
  const Modifier* find_entity(std::string_view name) const;
  // The value of find(name) or `fallback`.
  std::string_view get(std::string_view name, std::string_view fallback = {}) const;
};

// Parley's own bounds (the spec sets none); psyc.limits.* in the config.
struct Limits {
  std::size_t max_name = 64;            // bytes in a variable or method name
  std::size_t max_value = 8 * 1024;     // bytes in one modifier value
  std::size_t max_content = 64 * 1024;  // bytes of content (entity modifiers, method, data)
  std::size_t max_modifiers = 64;       // routing + entity modifiers (and sync ops) in one packet
};

// The largest packet those limits admit (routing header, content and terminator): the
// bound for a connection's read buffer.
std::size_t max_packet_size(const Limits& l);

}  // namespace parley::protocols::psyc

#pragma once
// The marker PING: "PING :parley.<n>" written after lines to an IRC server whose arrival we
// want to know of. A server handles one client's lines in order and returns a PING's token
// in its PONG (RFC 2812 3.7.2), so the PONG of marker n says that every line written before
// it was taken. The keepalive's PING carries "parley" alone. Shared by the gateway's
// puppets (Puppet, shared_reads.hpp) and the bridges' bots (LineLedger).
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::adapters::gateway {

inline constexpr std::string_view kMarkerPrefix = "parley.";
inline constexpr std::string_view kMarkerPing = "PING :";
inline constexpr std::string_view kKeepaliveToken = "parley";  // the keepalive's PING
// Output that is never quiet would starve a marker written only once the queue is empty: it
// goes behind queued lines once this many, or a line this old, wait for one, so a loss never
// sends hundreds of delivered lines again.
inline constexpr std::size_t kMarkerLines = 8;
inline constexpr std::chrono::seconds kMarkerAge{10};

// The marker in a PONG's token ("parley.<n>", n > 0), if it is one of ours.
inline std::optional<std::uint64_t> marker_of(std::string_view token) {
  if (!token.starts_with(kMarkerPrefix)) return std::nullopt;
  std::uint64_t n = 0;
  const std::string_view digits = token.substr(kMarkerPrefix.size());
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc{} || end != digits.data() + digits.size() || n == 0) return std::nullopt;
  return n;
}

// "PING :parley.<n>\r\n"
inline std::string marker_line(std::uint64_t marker) {
  return std::string(kMarkerPing) + std::string(kMarkerPrefix) + std::to_string(marker) + "\r\n";
}

// marker_line's inverse.
inline std::optional<std::uint64_t> marker_line_of(std::string_view line) {
  if (!line.starts_with(kMarkerPing) || !line.ends_with("\r\n")) return std::nullopt;
  return marker_of(line.substr(kMarkerPing.size(), line.size() - kMarkerPing.size() - 2));
}

}  // namespace parley::adapters::gateway

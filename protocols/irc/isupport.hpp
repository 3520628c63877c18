#pragma once
// RPL_ISUPPORT (005) as a client reads it (https://modern.ircdocs.horse/#rplisupport-005):
// the tokens the gateway needs to address and map a network - CHANTYPES (which targets are
// channels: Biboumi's "#chan%server" vs "nick%server") and PREFIX (membership prefixes of
// NAMES and their mode letters, for roles). Everything else is ignored. Values are bounded
// so a hostile server cannot make us keep more than a few bytes.
#include <cstddef>
#include <string>
#include <string_view>

#include "protocols/irc/message.hpp"

namespace parley::protocols::irc {

inline constexpr std::size_t kMaxIsupportValue = 32;  // CHANTYPES / PREFIX characters kept

struct Isupport {
  std::string chantypes = "#&";     // RFC 1459/2812 default when the server says nothing
  std::string prefix_modes = "ov";  // PREFIX=(ov)@+ by default
  std::string prefix_chars = "@+";

  // A 005 message: params 1 .. n-2 are tokens ("KEY", "KEY=value", "-KEY").
  void apply(const Message& m);
  void apply_token(std::string_view token);

  bool is_channel(std::string_view target) const {
    return !target.empty() && chantypes.find(target.front()) != std::string::npos;
  }
  // The mode letter of a membership prefix character ('@' -> 'o'), 0 if it is none.
  char mode_of_prefix(char c) const;
};

// One NAMES entry ("@+nick", or "@nick!user@host" with userhost-in-names): the mode letters
// of its leading prefix characters, in order, and the nick.
struct NamesEntry {
  std::string modes;
  std::string_view nick;
};
NamesEntry split_names_entry(const Isupport& is, std::string_view entry);

}  // namespace parley::protocols::irc

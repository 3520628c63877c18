#pragma once
// A gateway user's own settings (Biboumi's "configure" ad-hoc commands), kept in the store
// as rows (core::GatewaySetting) and read when a puppet is created: they take effect on the
// next IRC connection. Three scopes:
//   - the user's defaults ("" scope): nick, realname;
//   - one network (scope: the network's folded name): nick, realname, SASL, port, TLS,
//     certificate check, encoding fallback, throttle;
//   - one channel (scope: "network #channel"): persistent (Biboumi's flag: the puppet stays
//     in the channel while none of the user's resources is there, and rejoins it when
//     parleyd starts).
// Every value that reaches IRC is validated here: a nick or realname from a form can never
// carry CR, LF or NUL, so it can never become a second IRC command. Pure.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/irc_config.hpp"
#include "core/store/store.hpp"

namespace parley::adapters::gateway {

struct NetworkSettings {
  std::optional<std::string> nick, realname, sasl_user, sasl_password;
  std::optional<std::uint16_t> port;
  std::optional<bool> tls, verify;
  std::optional<std::string> encoding;  // latin1 | reject
  std::optional<std::size_t> throttle_burst, throttle_interval_ms;
};

struct UserSettings {
  std::optional<std::string> nick, realname;        // the user's defaults
  std::map<std::string, NetworkSettings> networks;  // folded network name ->
  // "network #channel" (both folded) -> the address label the channel was joined with
  // (the server part of its room JID: a network's name or host)
  std::map<std::string, std::string> persistent;
};

// Rows of one owner -> settings. Unknown names and values that no longer validate are
// skipped (a row written by a later version, or edited by hand).
UserSettings settings_from_rows(const std::vector<core::GatewaySetting>& rows);

std::string channel_scope(std::string_view network, std::string_view channel);
// "network #channel" -> (network, channel); nullopt when malformed.
std::optional<std::pair<std::string, std::string>> split_channel_scope(std::string_view scope);

// ---- validation (each returns an error text, or nullopt when the value is acceptable) ----
// RFC 2812 §2.3.1 nick characters, 1..30 bytes, not starting with a digit or '-'.
std::optional<std::string> check_nick(std::string_view v);
// 1..128 bytes of UTF-8 without control characters (C0, DEL).
std::optional<std::string> check_realname(std::string_view v);
// SASL user / password: at most 300 bytes, no CR, LF or NUL (RFC 4616 forbids NUL).
std::optional<std::string> check_sasl(std::string_view v);
// A channel name: starts with # & + or !, 2..64 bytes, no space, comma, BEL, CR, LF, NUL
// (RFC 2812 §1.3).
std::optional<std::string> check_channel(std::string_view v);
// XEP-0004 §3.3 boolean: 0, 1, false, true.
std::optional<bool> parse_bool(std::string_view v);
// A decimal integer in [lo, hi], no sign, no spaces.
std::optional<std::uint64_t> parse_uint(std::string_view v, std::uint64_t lo, std::uint64_t hi);

// What a puppet connects with: the network as configured, overridden by the user's
// settings for it. `nick` is the nick asked for (the first MUC join); the network's
// setting, then the user's default, replace it.
struct Effective {
  config::IrcNetwork net;
  std::string nick;      // "" : the caller's choice
  std::string realname;  // "" : the bare JID
};
Effective effective(const config::IrcNetwork& base, const UserSettings& s, std::string_view nick);

}  // namespace parley::adapters::gateway

#pragma once
// IRCv3 capabilities Parley's IRC server offers (ircv3.net capability-negotiation): the one
// table of names, bits and values, and the CAP LS / LIST replies rendered from it. Shared
// by the server's registration machine (registration.hpp); the client side negotiates with
// whatever a remote server lists (cap_client.hpp).
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::protocols::irc {

// Capabilities (bit set).
enum Cap : std::uint32_t {
  cap_message_tags = 1u << 0,
  cap_server_time = 1u << 1,
  cap_echo_message = 1u << 2,
  cap_away_notify = 1u << 3,
  cap_multi_prefix = 1u << 4,
  cap_account_tag = 1u << 5,
  cap_extended_join = 1u << 6,
  cap_batch = 1u << 7,
  cap_labeled_response = 1u << 8,
  cap_sasl = 1u << 9,
  cap_cap_notify = 1u << 10,
  cap_userhost_in_names = 1u << 11,
  cap_invite_notify = 1u << 12,
  cap_account_notify = 1u << 13,
  cap_setname = 1u << 14,
};

// The SASL mechanisms the server runs: the value of "sasl" in CAP LS 302 and RPL_SASLMECHS
// (registration.hpp has one SaslMechanism value for each).
inline constexpr std::string_view kSaslMechanisms = "PLAIN,SCRAM-SHA-256";

struct CapInfo {
  std::string_view name;
  Cap bit;
  std::string_view value;  // shown in CAP LS 302 only ("sasl=PLAIN,SCRAM-SHA-256")
};

// In the order CAP LIST shows enabled capabilities.
inline constexpr CapInfo kCaps[] = {
    {"message-tags", cap_message_tags, {}},
    {"server-time", cap_server_time, {}},
    {"echo-message", cap_echo_message, {}},
    {"away-notify", cap_away_notify, {}},
    {"multi-prefix", cap_multi_prefix, {}},
    {"account-tag", cap_account_tag, {}},
    {"extended-join", cap_extended_join, {}},
    {"batch", cap_batch, {}},
    {"labeled-response", cap_labeled_response, {}},
    {"sasl", cap_sasl, kSaslMechanisms},
    {"cap-notify", cap_cap_notify, {}},
    {"userhost-in-names", cap_userhost_in_names, {}},
    {"invite-notify", cap_invite_notify, {}},
    {"account-notify", cap_account_notify, {}},
    {"setname", cap_setname, {}},
};

// The capability named `name` (exact, case-sensitive as the spec says), or nullptr.
const CapInfo* find_cap(std::string_view name);

// The space-separated CAP LS list, sorted by name. Version >= 302 adds the values and
// cap-notify (which 302 enables implicitly, so older clients are not offered it).
std::string_view cap_ls_list(std::uint16_t version);

// Appends `:server CAP nick SUB :tokens` lines. With version >= 302 a list that does not fit
// one 512-byte line is split at spaces into lines marked with "*" before the last one
// (capability-negotiation "Multiline replies"); older clients get one (truncated) line.
void append_cap_reply(std::string& out, std::string_view server, std::string_view nick, std::string_view sub,
                      std::string_view tokens, std::uint16_t version);

}  // namespace parley::protocols::irc

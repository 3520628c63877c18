#pragma once
// JIDs (RFC 7622): [localpart "@"] domainpart ["/" resourcepart].
//
// Preparation is a documented subset of PRECIS: full PRECIS (IdentifierClass /
// FreeformClass, Unicode normalisation, IDNA2008) is not implemented. Instead:
//  - every part must be valid UTF-8 without control characters, 1..1023 bytes (§3.1);
//  - localpart: ASCII case-folded to lower case; the characters RFC 7622 §3.3.1 forbids
//    (" & ' / : < > @ and space) are rejected;
//  - domainpart: ASCII lower-cased, one trailing dot removed (§3.2), IP literals in
//    brackets kept, labels of letters/digits/hyphen/underscore or non-ASCII, no empty label;
//  - resourcepart: kept as is (case-sensitive), whitespace-only refused.
// Non-ASCII letters are not case-folded, so "Ä@d" and "ä@d" stay two accounts; Parley's
// local account names are ASCII-only anyway.
#include <optional>
#include <string>
#include <string_view>

namespace parley::protocols::xmpp {

struct Jid {
  std::string local;
  std::string domain;
  std::string resource;

  bool is_bare() const { return resource.empty(); }
  Jid bare() const { return Jid{local, domain, {}}; }
  std::string bare_str() const;
  std::string str() const;

  friend bool operator==(const Jid&, const Jid&) = default;
};

inline constexpr std::size_t kMaxJidPart = 1023;

// nullopt when malformed (jid-malformed).
std::optional<Jid> parse_jid(std::string_view text);
// parse_jid(text).has_value(), without making the parts (a sender that is only checked).
bool valid_jid(std::string_view text);
std::optional<std::string> prep_localpart(std::string_view s);
std::optional<std::string> prep_domain(std::string_view s);
std::optional<std::string> prep_resource(std::string_view s);

}  // namespace parley::protocols::xmpp

#pragma once
// Pager-mode text (RFC 3428 §9: text/plain is the one type every UA must accept) between
// SIP and the neutral core: what comes in is valid UTF-8 with line ends normalised and no
// control characters but TAB and LF, so it cannot inject a line into IRC or anything into
// XML; header values going out carry no CR/LF.
#include <optional>
#include <string>
#include <string_view>

namespace parley::protocols::sip {

// nullopt: not UTF-8. CRLF and lone CR become LF; other C0 controls and DEL are dropped.
std::optional<std::string> clean_text_body(std::string_view body);
// A header value built from foreign text: CR, LF and NUL become spaces, cut to max bytes
// (on a UTF-8 boundary).
std::string header_safe(std::string_view v, std::size_t max = 256);
// RFC 3261 §25.1 user part characters (unreserved / escaped / user-unreserved); anything
// else is %-escaped.
std::string escape_user(std::string_view user);
// RFC 3261 §25.1 token characters (alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" /
// "'" / "~").
constexpr bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-.!%*_+`'~").find(c) != std::string_view::npos;
}

}  // namespace parley::protocols::sip

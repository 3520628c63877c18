#pragma once
// Which browser pages may open a WebSocket here (RFC 6455 §10.2): a browser sends the page's
// origin in `Origin` (RFC 6454 §7), and a server that serves only its own pages refuses the
// others, so that a page elsewhere cannot ride on the user's network position (a daemon on
// loopback or behind a firewall) or cookies. Non-browser clients send no Origin and are not
// concerned; the check is for browsers, not an authentication.
#include <string>
#include <string_view>
#include <vector>

namespace parley::adapters::http {

// Pure. `allowed` empty: any origin (http.websocket.allowed_origins unset). Otherwise
// `origin` (the header, without surrounding blanks; absent: empty) must be one of them;
// an absent Origin passes (not a browser). Origins compare ASCII case-insensitively (their
// scheme and host are case-insensitive, RFC 6454 §4), a trailing "/" in the list ignored.
bool origin_allowed(const std::vector<std::string>& allowed, std::string_view origin);

}  // namespace parley::adapters::http

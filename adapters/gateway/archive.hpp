#pragma once
// The gateway's channel archive (Biboumi's record_history): the lines of an IRC channel kept
// in the store's room history under one key per (gateway domain, network, channel), replayed
// to joining occupants (XEP-0045 §7.2.15) and queried with XEP-0313 MAM, paged with XEP-0059
// RSM. Pure logic over core::Store; which puppet writes a channel's lines (one, so that a
// line several puppets hear is kept once) is the gateway's business (gateway.hpp).
//
// Ids: an entry's MAM id is its store key (decimal), growing in arrival order.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/gateway/port.hpp"
#include "core/model/time.hpp"
#include "core/store/store.hpp"

namespace parley::adapters::gateway {

// XEP-0082 §3.2 DateTime: "CCYY-MM-DDThh:mm:ss[.sss]TZD", TZD "Z" or "+hh:mm"/"-hh:mm".
// nullopt when malformed or longer than 64 bytes.
std::optional<core::Timestamp> parse_datetime(std::string_view s);

// The store's history key of a channel: not a valid local room name (it holds '\n'), so it
// never meets a Parley room's history.
std::string archive_key(std::string_view domain, std::string_view network, std::string_view channel);

// The archived lines a joining occupant gets (XEP-0045 §7.2.15): the newest ones, at most
// min(maxstanzas, join_max), none older than `seconds` before now or than `since`; oldest
// first. maxchars is applied by the caller on the rendered stanzas (first_within_chars).
core::Result<std::vector<core::StoredMessage>> join_history(core::Store& store, const std::string& key,
                                                            const HistoryRequest& req, core::Timestamp now,
                                                            std::size_t join_max);
// The index of the first of `stanzas` (oldest first) from which the rest fit in maxchars
// characters (UTF-8 characters, not bytes); stanzas.size() when none fit.
std::size_t first_within_chars(const std::vector<std::string>& stanzas, std::size_t maxchars);

struct MamQuery {
  std::optional<core::Timestamp> start, end;
  std::optional<std::string> with_nick;  // only lines from this nick (IRC case folding)
  bool match_nothing = false;            // 'with' names someone outside this channel
  std::size_t max = 0;                   // page size, already bounded
  std::int64_t after = 0;                // key bounds, 0: none
  std::int64_t before = 0;
  bool backward = false;  // <before/> given: the page ending at `before` (or the newest)
};

// A MAM request read against this channel (room_jid: its bare JID). On error, `condition`
// names the XMPP error (bad-request for a malformed date or an overlong queryid,
// item-not-found for a malformed id, feature-not-implemented for an unknown form field).
struct MamParse {
  MamQuery query;
  std::string condition;  // "" when the request is usable
};
MamParse parse_mam(const MamRequest& r, std::string_view room_jid, std::size_t page_max);
// The longest queryid taken: it is copied into every result of the page (XEP-0313 §4.2), so
// an unbounded one multiplies a request's size by the page's (clients send a UUID).
constexpr std::size_t kMaxQueryId = 256;

struct MamPage {
  std::vector<core::StoredMessage> items;  // oldest first
  bool complete = true;                    // XEP-0313 §4.2 <fin complete='true'/>: nothing left that way
  // XEP-0313 §4.3: the <after/> or <before/> id names no line in the archive (never was, or
  // gone with the retention): item-not-found, so that a client catching up learns of the gap.
  bool unknown_id = false;
};
// Walks the archive in batches (at most the channel's retention in all) and returns one page.
core::Result<MamPage> mam_page(core::Store& store, const std::string& key, const MamQuery& q);

}  // namespace parley::adapters::gateway

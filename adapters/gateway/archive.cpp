#include "adapters/gateway/archive.hpp"

#include <algorithm>
#include <chrono>

#include "protocols/common/ascii.hpp"

namespace parley::adapters::gateway {

using core::StoredMessage;
using core::Timestamp;

namespace {
// Rows read from the store per step of a filtered walk: a filter that matches little costs
// a few reads of this size, never one per row.
constexpr std::size_t kBatch = 256;

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// A key as sent in <after/>/<before/>: a positive decimal of at most 18 digits.
std::optional<std::int64_t> key_of(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n > 0 ? std::optional(n) : std::nullopt;
}

bool matches(const MamQuery& q, const core::Message& m) {
  if (q.match_nothing) return false;
  if (q.start && m.timestamp < *q.start) return false;
  // Inclusive to the millisecond: a line's stamp is sent in milliseconds (to_iso8601), and a
  // client that sends one back as `end` wants that line (XEP-0313 §4.1.2 "equal to or earlier").
  if (q.end && m.timestamp >= *q.end + std::chrono::milliseconds(1)) return false;
  if (q.with_nick && !protocols::ascii_equal_fold(*q.with_nick, m.nick)) return false;
  return true;
}
}  // namespace

std::optional<Timestamp> parse_datetime(std::string_view s) {
  if (s.size() < 20 || s.size() > 64) return std::nullopt;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' || !digits(s, 8, 2, d) ||
      s[10] != 'T' || !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, se))
    return std::nullopt;
  std::size_t pos = 19;
  std::chrono::milliseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t from = pos;
    int scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += std::chrono::milliseconds((s[pos] - '0') * scale);  // beyond milliseconds: ignored
      scale /= 10;
      ++pos;
    }
    if (pos == from) return std::nullopt;
  }
  std::chrono::minutes offset{0};
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59)
      return std::nullopt;
    offset = std::chrono::minutes((s[pos] == '-' ? -1 : 1) * (oh * 60 + om));
    pos += 6;
  } else {
    return std::nullopt;  // XEP-0082: DateTime requires a time zone
  }
  if (pos != s.size()) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                        std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;  // 60: a leap second
  // In milliseconds (years 0000..9999 fit), then clamped to what a Timestamp (nanoseconds
  // since 1970 on this clock: years 1677..2262) holds, so "9999-..." as an end means "ever".
  const auto t = std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) +
                 std::chrono::seconds(se) + frac - offset;
  const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(t).time_since_epoch();
  constexpr auto lo = std::chrono::duration_cast<std::chrono::milliseconds>(Timestamp::duration::min()) +
                      std::chrono::milliseconds(1);
  constexpr auto hi = std::chrono::duration_cast<std::chrono::milliseconds>(Timestamp::duration::max()) -
                      std::chrono::milliseconds(1);
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(std::clamp(ms, lo, hi)));
}

std::string archive_key(std::string_view domain, std::string_view network, std::string_view channel) {
  return "gateway\n" + protocols::ascii_fold(domain) + "\n" + protocols::ascii_fold(network) + "\n" +
         protocols::ascii_fold(channel);
}

core::Result<std::vector<StoredMessage>> join_history(core::Store& store, const std::string& key,
                                                      const HistoryRequest& req, Timestamp now,
                                                      std::size_t join_max) {
  const std::size_t n = std::min(req.maxstanzas.value_or(join_max), join_max);
  if (n == 0 || (req.maxchars && *req.maxchars == 0)) return std::vector<StoredMessage>{};
  auto rows = store.history_page(key, 0, 0, n, true);
  if (!rows) return rows;
  std::optional<Timestamp> cutoff;
  if (req.seconds) cutoff = now - std::chrono::seconds(*req.seconds);
  if (auto since = parse_datetime(req.since); since && (!cutoff || *since > *cutoff)) cutoff = since;
  if (cutoff)
    std::erase_if(*rows, [&](const StoredMessage& m) { return m.message.timestamp < *cutoff; });
  return rows;
}

std::size_t first_within_chars(const std::vector<std::string>& stanzas, std::size_t maxchars) {
  // XEP-0045 §7.2.15 counts characters: a UTF-8 byte that does not continue one starts one.
  auto chars = [](const std::string& s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
  };
  std::size_t total = 0, first = stanzas.size();
  while (first > 0) {
    total += chars(stanzas[first - 1]);
    if (total > maxchars) break;
    --first;
  }
  return first;
}

MamParse parse_mam(const MamRequest& r, std::string_view room_jid, std::size_t page_max) {
  MamParse out;
  MamQuery& q = out.query;
  if (r.unknown_field) {
    out.condition = "feature-not-implemented";
    return out;
  }
  if (r.queryid.size() > kMaxQueryId) out.condition = "bad-request";
  if (!r.start.empty() && !(q.start = parse_datetime(r.start))) out.condition = "bad-request";
  if (!r.end.empty() && !(q.end = parse_datetime(r.end))) out.condition = "bad-request";
  if (!r.with.empty()) {
    // In a MUC archive 'with' is an occupant (room/nick) or the room itself (XEP-0313 §5.1.1).
    const std::string_view w = r.with;
    const std::size_t slash = w.find('/');
    const std::string_view bare = w.substr(0, slash);
    if (!protocols::ascii_equal_fold(bare, room_jid))
      q.match_nothing = true;
    else if (slash != std::string_view::npos)
      q.with_nick = std::string(w.substr(slash + 1));
  }
  q.max = std::min(r.max.value_or(page_max), page_max);
  if (r.after) {
    auto k = key_of(*r.after);
    if (!k) out.condition = "item-not-found";  // XEP-0313 §4.3: an unknown id
    q.after = k.value_or(0);
  }
  if (r.before) {
    q.backward = !r.after;  // both: the range between them, forward
    if (!r.before->empty()) {
      auto k = key_of(*r.before);
      if (!k) out.condition = "item-not-found";
      q.before = k.value_or(0);
    }
  }
  return out;
}

core::Result<MamPage> mam_page(core::Store& store, const std::string& key, const MamQuery& q) {
  MamPage page;
  std::vector<StoredMessage>& got = page.items;
  for (const std::int64_t id : {q.after, q.before}) {
    if (id == 0) continue;
    auto row = store.history_page(key, id - 1, id + 1, 1, false);
    if (!row) return row.error();
    if (row->empty()) {
      page.unknown_id = true;
      return page;
    }
  }
  if (q.match_nothing) return page;  // 'with' is someone outside the channel: no walk
  if (!q.backward) {
    std::int64_t cursor = q.after;
    for (;;) {
      auto rows = store.history_page(key, cursor, q.before, kBatch, false);
      if (!rows) return rows.error();
      for (auto& row : *rows) {
        cursor = row.key;
        if (!matches(q, row.message)) continue;
        if (got.size() == q.max) {
          page.complete = false;  // one more matches beyond the page
          return page;
        }
        got.push_back(std::move(row));
      }
      if (rows->size() < kBatch) return page;
    }
  }
  std::int64_t cursor = q.before;  // 0: from the newest
  for (;;) {
    auto rows = store.history_page(key, 0, cursor, kBatch, true);
    if (!rows) return rows.error();
    for (auto row = rows->rbegin(); row != rows->rend(); ++row) {
      cursor = row->key;
      if (!matches(q, row->message)) continue;
      if (got.size() == q.max) {
        page.complete = false;
        std::reverse(got.begin(), got.end());
        return page;
      }
      got.push_back(std::move(*row));
    }
    if (rows->size() < kBatch || cursor <= 1) break;
  }
  std::reverse(got.begin(), got.end());
  return page;
}

}  // namespace parley::adapters::gateway

#pragma once
// SIMPLE presence documents (pure; pugixml): PIDF (RFC 3863) with the RPID activities
// (RFC 4480 §3.2) that carry what XMPP calls <show/> (RFC 8048 §4: no standard mapping,
// so activities it is), watcher information (RFC 3858, rendered only: a server sends it)
// and isComposing (RFC 3994, both ways). Every parser takes a bounded input and refuses
// what it does not understand with nullopt; namespaces are matched by URI, not prefix.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::protocols::sip {

inline constexpr std::size_t kMaxPresenceDocument = 16 * 1024;  // bytes of a PIDF/isComposing body
inline constexpr std::size_t kMaxPidfTuples = 32;               // tuples kept from one document
inline constexpr std::size_t kMaxPidfNote = 1024;               // bytes of a note (cut on UTF-8)

// What RPID activities say about willingness to talk, coarsely (RFC 4480 §3.2's list
// folded onto XMPP's five <show/> values, which is all the core keeps).
enum class PidfShow : std::uint8_t { available, away, xa, dnd, chat };

struct PidfTuple {
  std::string id;
  bool open = true;                // <basic>open</basic>
  std::optional<double> priority;  // <contact priority="0.5"> (0..1)
  std::string contact;             // <contact> URI
  std::string note;                // first <note>
};

struct PidfDocument {
  std::string entity;  // "pres:bob@example.com"
  std::vector<PidfTuple> tuples;
  PidfShow show = PidfShow::available;  // from <rpid:activities> (person or tuple status)
  std::string note;                     // person note, else the first tuple note
};

std::optional<PidfDocument> parse_pidf(std::string_view xml);
// A PIDF document; `show` renders as RPID activities in a <dm:person> (RFC 4479 data model).
std::string render_pidf(const PidfDocument& doc);

std::string_view to_string(PidfShow s);

// RFC 3858 watcher information.
struct WatcherEntry {
  std::string id;      // stable per watcher
  std::string uri;     // "sip:alice@example.com"
  std::string status;  // pending | active | waiting | terminated
  std::string event;   // subscribe | approved | deactivated | rejected | timeout | ...
};
std::string render_watcherinfo(std::string_view resource, std::uint32_t version, bool full,
                               const std::vector<WatcherEntry>& watchers);

// RFC 3994 §3: "active" is someone typing; "idle" is not.
struct IsComposing {
  bool active = false;
  std::uint32_t refresh = 0;  // seconds, 0: absent
  std::string content_type;   // of the message being composed
};
std::optional<IsComposing> parse_is_composing(std::string_view xml);
std::string render_is_composing(const IsComposing& c);

}  // namespace parley::protocols::sip

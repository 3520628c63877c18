#pragma once
// A compact, self-describing binary form of core::Message, for the store (offline queues,
// room history). A pure value layer: bytes <-> Message, no I/O.
//
// Layout: the magic "PM", a format version byte, then a sequence of fields, each
//   tag (varint) | length (varint) | payload (length bytes)
// Integers are LEB128 varints inside their payload (signed ones zigzag-encoded); strings
// are raw bytes; addresses, rich-text spans and the origin are nested field sequences.
// Because every field carries its length, a decoder skips tags it does not know, so a
// later Parley can add fields and an older one still reads what it understands. Absent
// fields take Message's defaults, so only non-default fields are written.
//
// decode_message() treats its input as hostile (a corrupted database page must not take
// the daemon down): every length is checked against the bytes left, varints are bounded,
// enum values are range-checked, nesting is fixed, and a repeated singular field is an
// error. Any violation is returned as Condition::bad_request, never thrown or crashed on.
#include <string>
#include <string_view>

#include "core/model/error.hpp"
#include "core/model/message.hpp"

namespace parley::core {

std::string encode_message(const Message& m);
Result<Message> decode_message(std::string_view bytes);

}  // namespace parley::core

#pragma once
// Core presence <-> PIDF documents (RFC 3863, RPID RFC 4480), as RFC 8048 maps them: one
// mapping for the presence agent (local PUBLISH, NOTIFY to local watchers) and the
// federation (NOTIFY from a remote server, PUBLISH there).
#include <string>

#include "core/model/presence.hpp"
#include "protocols/sip/pidf.hpp"

namespace parley::adapters::sip {

// RFC 8048 §4 (no standard mapping for <show/>): RPID activities both ways.
core::Availability availability_of(protocols::sip::PidfShow s);
protocols::sip::PidfShow show_of(core::Availability a);

// A document as one core tuple: open if any tuple is open. A document without tuples is
// open when `open_when_empty` (a local PUBLISH that only sets activities) and closed
// otherwise (a remote server's NOTIFY that lists nothing).
core::Tuple tuple_of(const protocols::sip::PidfDocument& d, bool open_when_empty = false);

// A presentity as a document for `entity` ("pres:user@domain", RFC 3863 §4.1.2): one PIDF
// tuple per core tuple (an "offline" closed one when there are none), and the aggregate's
// activity and note on the person.
protocols::sip::PidfDocument pidf_document(const core::Presentity& p, std::string entity);

}  // namespace parley::adapters::sip

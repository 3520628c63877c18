#pragma once
// PSYC availability <-> the neutral presence model.
//
// _degree_availability (psyced's degrees): 1 offline, 2 vacation, 3 away, 4 do not
// disturb, 5 nearby, 6 busy, 7 here, 8 talkative; clients may also write the keyword.
// Availability has five values (RFC 4480's subset XMPP uses): vacation -> xa,
// away/nearby -> away, dnd/busy -> dnd, here -> available, talkative -> chat; offline is
// a closed tuple. Each degree has a method of the _notice_presence family (below); a
// receiver that knows only _notice_presence reads the degree from the variable.
#include <optional>
#include <string_view>

#include "core/model/presence.hpp"

namespace parley::adapters::psyc {

// 1..8, from a number or a keyword ("here", "away", ...); nullopt for anything else.
std::optional<int> parse_degree(std::string_view v);
// The degree a _notice_presence_* method implies ("_notice_presence_away" -> 3); 7 for the
// bare family.
int degree_of_method(std::string_view method);
// The tuple a degree publishes (1: closed).
core::Tuple tuple_of_degree(int degree);
int degree_of(const core::Tuple& t);
std::string_view presence_method(int degree);

}  // namespace parley::adapters::psyc

#include "adapters/psyc/presence_map.hpp"

#include <doctest/doctest.h>

#include "adapters/psyc/errors.hpp"

using namespace parley;
using namespace parley::adapters::psyc;

TEST_CASE("psyc availability degrees: numbers and keywords") {
  CHECK(parse_degree("1") == 1);
  CHECK(parse_degree("8") == 8);
  CHECK(parse_degree("here") == 7);
  CHECK(parse_degree("away") == 3);
  CHECK(parse_degree("talkative") == 8);
  CHECK(parse_degree("vacation") == 2);
  CHECK(parse_degree("busy") == 6);
  CHECK_FALSE(parse_degree("9"));
  CHECK_FALSE(parse_degree("0"));
  CHECK_FALSE(parse_degree(""));
  CHECK_FALSE(parse_degree("12"));
  CHECK_FALSE(parse_degree("sleepy"));
}

TEST_CASE("psyc degrees <-> tuples") {
  CHECK(tuple_of_degree(1).basic == core::Basic::closed);
  CHECK(tuple_of_degree(2).availability == core::Availability::xa);
  CHECK(tuple_of_degree(3).availability == core::Availability::away);
  CHECK(tuple_of_degree(5).availability == core::Availability::away);
  CHECK(tuple_of_degree(4).availability == core::Availability::dnd);
  CHECK(tuple_of_degree(6).availability == core::Availability::dnd);
  CHECK(tuple_of_degree(7).availability == core::Availability::available);
  CHECK(tuple_of_degree(8).availability == core::Availability::chat);
  // Every degree the model can hold comes back unchanged.
  for (int d : {1, 2, 3, 4, 7, 8}) CHECK(degree_of(tuple_of_degree(d)) == d);
  CHECK(presence_method(7) == "_notice_presence_here");
  CHECK(presence_method(3) == "_notice_presence_away");
}

TEST_CASE("psyc presence methods imply a degree, by family") {
  CHECK(degree_of_method("_notice_presence_away") == 3);
  CHECK(degree_of_method("_notice_presence_here_quiet") == 7);  // family _here
  CHECK(degree_of_method("_notice_presence_here_busy") == 6);
  CHECK(degree_of_method("_notice_presence_absent_vacation_x") == 2);  // family _absent_vacation
  CHECK(degree_of_method("_notice_presence") == 7);
  CHECK(degree_of_method("_notice_presence_awayish") == 7);  // not the _away family
}

TEST_CASE("psyc error methods for neutral conditions") {
  CHECK(error_method(core::Condition::item_not_found) == "_error_unknown_name");
  CHECK(error_method(core::Condition::forbidden) == "_error_illegal");
  CHECK(error_method(core::Condition::resource_constraint) == "_error_limit");
  CHECK(error_method(core::Condition::internal_server_error) == "_error_service_unavailable");
}

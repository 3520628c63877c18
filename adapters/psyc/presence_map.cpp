#include "adapters/psyc/presence_map.hpp"

#include <array>

namespace parley::adapters::psyc {

namespace {

struct Degree {
  int degree;
  std::string_view keyword;
  std::string_view method;
};

constexpr std::array<Degree, 8> kDegrees = {{
    {1, "offline", "_notice_presence_absent"},
    {2, "vacation", "_notice_presence_absent_vacation"},
    {3, "away", "_notice_presence_away"},
    {4, "dnd", "_notice_presence_here_dnd"},
    {5, "nearby", "_notice_presence_away_nearby"},
    {6, "busy", "_notice_presence_here_busy"},
    {7, "here", "_notice_presence_here"},
    {8, "talkative", "_notice_presence_here_talkative"},
}};

}  // namespace

std::optional<int> parse_degree(std::string_view v) {
  if (v.size() == 1 && v[0] >= '1' && v[0] <= '8') return v[0] - '0';
  for (const auto& d : kDegrees)
    if (v == d.keyword) return d.degree;
  if (v == "absent") return 1;
  if (v == "available") return 7;
  return std::nullopt;
}

int degree_of_method(std::string_view method) {
  // The longest method of the table that the given one is, or belongs to the family of.
  int best = 7;
  std::size_t best_len = 0;
  for (const auto& d : kDegrees) {
    auto m = d.method;
    bool family = method.substr(0, m.size()) == m && (method.size() == m.size() || method[m.size()] == '_');
    if (family && m.size() > best_len) {
      best = d.degree;
      best_len = m.size();
    }
  }
  return best;
}

core::Tuple tuple_of_degree(int degree) {
  core::Tuple t;
  t.basic = degree <= 1 ? core::Basic::closed : core::Basic::open;
  switch (degree) {
    case 2:
      t.availability = core::Availability::xa;
      break;
    case 3:
    case 5:
      t.availability = core::Availability::away;
      break;
    case 4:
    case 6:
      t.availability = core::Availability::dnd;
      break;
    case 8:
      t.availability = core::Availability::chat;
      break;
    default:
      t.availability = core::Availability::available;
  }
  return t;
}

int degree_of(const core::Tuple& t) {
  if (t.basic == core::Basic::closed) return 1;
  switch (t.availability) {
    case core::Availability::xa:
      return 2;
    case core::Availability::away:
      return 3;
    case core::Availability::dnd:
      return 4;
    case core::Availability::chat:
      return 8;
    case core::Availability::available:
      break;
  }
  return 7;
}

std::string_view presence_method(int degree) {
  for (const auto& d : kDegrees)
    if (d.degree == degree) return d.method;
  return "_notice_presence";
}

}  // namespace parley::adapters::psyc

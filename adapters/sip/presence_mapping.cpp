#include "adapters/sip/presence_mapping.hpp"

#include <algorithm>

namespace parley::adapters::sip {

namespace sipt = protocols::sip;

core::Availability availability_of(sipt::PidfShow s) {
  switch (s) {
    case sipt::PidfShow::away:
      return core::Availability::away;
    case sipt::PidfShow::xa:
      return core::Availability::xa;
    case sipt::PidfShow::dnd:
      return core::Availability::dnd;
    case sipt::PidfShow::chat:
      return core::Availability::chat;
    case sipt::PidfShow::available:
      return core::Availability::available;
  }
  return core::Availability::available;
}

sipt::PidfShow show_of(core::Availability a) {
  switch (a) {
    case core::Availability::away:
      return sipt::PidfShow::away;
    case core::Availability::xa:
      return sipt::PidfShow::xa;
    case core::Availability::dnd:
      return sipt::PidfShow::dnd;
    case core::Availability::chat:
      return sipt::PidfShow::chat;
    case core::Availability::available:
      return sipt::PidfShow::available;
  }
  return sipt::PidfShow::available;
}

core::Tuple tuple_of(const sipt::PidfDocument& d, bool open_when_empty) {
  core::Tuple t;
  const bool any_open = (open_when_empty && d.tuples.empty()) ||
                        std::any_of(d.tuples.begin(), d.tuples.end(), [](const auto& x) { return x.open; });
  t.basic = any_open ? core::Basic::open : core::Basic::closed;
  t.availability = availability_of(d.show);
  t.note = d.note;
  t.updated = core::Clock::now();
  return t;
}

sipt::PidfDocument pidf_document(const core::Presentity& p, std::string entity) {
  sipt::PidfDocument d;
  d.entity = std::move(entity);
  for (const auto& t : p.tuples) {
    sipt::PidfTuple pt;
    pt.id = t.id;
    pt.open = t.basic == core::Basic::open;
    pt.note = t.note;
    d.tuples.push_back(std::move(pt));
  }
  if (d.tuples.empty()) d.tuples.push_back({"offline", false, std::nullopt, {}, {}});
  auto agg = p.aggregate();
  d.show = agg.basic == core::Basic::open ? show_of(agg.availability) : sipt::PidfShow::available;
  d.note = agg.note;
  return d;
}

}  // namespace parley::adapters::sip

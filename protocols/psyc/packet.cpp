#include "protocols/psyc/packet.hpp"

namespace parley::protocols::psyc {

bool is_keyword(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_kwchar(c)) return false;
  return true;
}

const Modifier* Packet::find_routing(std::string_view name) const {
  for (const auto& m : routing)
    if (m.name == name) return &m;
  return nullptr;
}

const Modifier* Packet::find_entity(std::string_view name) const {
  for (const auto& m : entity)
    if (m.name == name) return &m;
  return nullptr;
}

const Modifier* Packet::find(std::string_view name) const {
  if (const auto* m = find_routing(name)) return m;
  return find_entity(name);
}

std::string_view Packet::get(std::string_view name, std::string_view fallback) const {
  const auto* m = find(name);
  return m ? m->value : fallback;
}

std::size_t max_packet_size(const Limits& l) {
  // A routing line: operator, name, HTAB, value, LF. The content-length line: at most 20
  // digits and LF. The terminator: "|" LF.
  return l.max_modifiers * (l.max_name + l.max_value + 3) + 21 + l.max_content + 2;
}

}  // namespace parley::protocols::psyc

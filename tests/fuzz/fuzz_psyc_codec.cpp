// Fuzzes the PSYC packet parser (fed whole and in two pieces), the list and uniform parsers,
// and the round trip: a parsed packet renders back to its exact bytes, and what a packet
// renders to parses again to the same packet.
// fuzz-sources: protocols/psyc/packet.cpp protocols/psyc/parser.cpp protocols/psyc/render.cpp
// fuzz-sources: protocols/psyc/list.cpp protocols/psyc/uniform.cpp
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/psyc/list.hpp"
#include "protocols/psyc/parser.hpp"
#include "protocols/psyc/render.hpp"
#include "protocols/psyc/uniform.hpp"

using namespace parley::protocols::psyc;

namespace {

bool same(const Packet& a, const Packet& b) {
  if (a.routing.size() != b.routing.size() || a.entity.size() != b.entity.size()) return false;
  for (std::size_t i = 0; i < a.routing.size(); ++i)
    if (a.routing[i].name != b.routing[i].name || a.routing[i].value != b.routing[i].value) return false;
  for (std::size_t i = 0; i < a.entity.size(); ++i)
    if (a.entity[i].name != b.entity[i].name || a.entity[i].value != b.entity[i].value ||
        a.entity[i].op != b.entity[i].op)
      return false;
  return a.method == b.method && a.has_data == b.has_data && a.data == b.data && a.state_sync == b.state_sync;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_value = 256;
  limits.max_content = 1024;
  limits.max_modifiers = 16;

  // Whole, packet after packet.
  Parser p(limits);
  std::string_view rest = in;
  std::vector<std::size_t> ends;
  for (int guard = 0; !rest.empty() && guard < 10000; ++guard) {
    Status st = p.parse(rest);
    if (st != Status::done) break;
    if (p.consumed() == 0 || p.consumed() > rest.size()) __builtin_trap();
    std::string_view bytes = rest.substr(0, p.consumed());
    std::string out;
    render(p.packet(), out);
    if (out != bytes) __builtin_trap();  // parse -> render is byte exact
    ends.push_back(p.consumed());
    for (const auto& m : p.packet().entity) {
      std::vector<std::string_view> elems;
      (void)parse_list(m.value, elems, 64);
    }
    rest.remove_prefix(p.consumed());
  }

  // In two pieces (a split at a byte chosen by the input): the first packet is the same.
  if (!in.empty()) {
    std::size_t cut = static_cast<unsigned char>(in[0]) % (in.size() + 1);
    Parser q(limits);
    std::string buf(in.substr(0, cut));
    Status st = q.parse(buf);
    if (st == Status::need_more) {
      buf.assign(in);
      st = q.parse(buf);
    }
    if ((st == Status::done) != !ends.empty()) __builtin_trap();
    if (st == Status::done && q.consumed() != ends[0]) __builtin_trap();
  }

  // In small pieces, each call in a freshly copied buffer (a receive buffer that moved):
  // the views the parser took before a move must land on the same bytes after it, so the
  // first packet comes out exactly as it did from the whole buffer, or fails the same way.
  if (in.size() > 1) {
    std::size_t step = static_cast<unsigned char>(in[1]) % 13 + 1;
    Parser q(limits);
    Status st = Status::need_more;
    std::string buf;
    for (std::size_t n = 0; n < in.size() && st == Status::need_more;) {
      n = n + step < in.size() ? n + step : in.size();
      std::string moved(in.substr(0, n));
      buf.swap(moved);  // the old buffer is freed only after the next one exists
      st = q.parse(buf);
    }
    Parser w(limits);
    Status whole = w.parse(in);
    if (st != whole) __builtin_trap();
    if (st == Status::done) {
      if (q.consumed() != w.consumed() || !same(q.packet(), w.packet())) __builtin_trap();
      for (std::size_t i = 0; i < w.packet().entity.size(); ++i)
        if (q.packet().entity[i].form != w.packet().entity[i].form) __builtin_trap();
      std::string out;
      render(q.packet(), out);
      if (out != in.substr(0, q.consumed())) __builtin_trap();
    }
  }

  // A packet built from the input's first packet with values moved around renders into
  // something that parses back to the same values (render -> parse).
  Packet first;
  std::string err;
  Parser r(limits);
  if (r.parse(in) == Status::done) {
    first = r.packet();
    for (auto& m : first.entity) m.form = ValueForm::text;  // the renderer must pick binary
    if (first.has_data) first.explicit_length = false;      // ... and a length when needed
    std::string out;
    render(first, out);
    Packet again;
    Limits loose;
    loose.max_content = 4096;
    if (parse_packet(out, again, &err, loose) != Status::done) __builtin_trap();
    if (!same(first, again)) __builtin_trap();
  }

  Uniform u;
  (void)parse_uniform(in.substr(0, 300), u);
  return 0;
}

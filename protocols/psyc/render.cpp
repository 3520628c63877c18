#include "protocols/psyc/render.hpp"

#include <charconv>

namespace parley::protocols::psyc {

namespace {

void put_number(std::size_t n, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

std::size_t digits(std::size_t n) {
  std::size_t d = 1;
  while (n >= 10) {
    n /= 10;
    ++d;
  }
  return d;
}

ValueForm form_of(const Modifier& m) {
  if (m.form == ValueForm::binary) return ValueForm::binary;
  if (m.value.find('\n') != m.value.npos) return ValueForm::binary;
  if (m.form == ValueForm::none && m.value.empty()) return ValueForm::none;
  return ValueForm::text;
}

std::size_t modifier_size(const Modifier& m) {
  std::size_t n = 1 + m.name.size() + 1;  // op, name, LF
  switch (form_of(m)) {
    case ValueForm::none:
      break;
    case ValueForm::text:
      n += 1 + m.value.size();
      break;
    case ValueForm::binary:
      n += 1 + digits(m.value.size()) + 1 + m.value.size();
      break;
  }
  return n;
}

void put_modifier(const Modifier& m, std::string& out) {
  out += m.op;
  out += m.name;
  switch (form_of(m)) {
    case ValueForm::none:
      break;
    case ValueForm::text:
      out += '\t';
      out += m.value;
      break;
    case ValueForm::binary:
      out += ' ';
      put_number(m.value.size(), out);
      out += '\t';
      out += m.value;
      break;
  }
  out += '\n';
}

// Without a length the content ends at the first LF "|" LF after the method's LF, so the
// data must not contain one, start with "|" LF, or be "|" / end with LF "|".
bool data_needs_length(const Packet& p) {
  if (!p.has_data) return false;
  std::string_view d = p.data;
  if (d.find("\n|\n") != d.npos) return true;
  if (d == "|" || d.substr(0, 2) == "|\n") return true;
  if (d.size() >= 2 && d.substr(d.size() - 2) == "\n|") return true;
  return false;
}

std::size_t content_size(const Packet& p) {
  std::size_t n = p.state_sync.size();
  for (const auto& m : p.entity) n += modifier_size(m);
  if (!p.method.empty()) n += p.method.size() + 1 + (p.has_data ? p.data.size() + 1 : 0);
  return n;
}

}  // namespace

void render(const Packet& p, std::string& out) {
  for (const auto& m : p.routing) put_modifier(m, out);
  bool content = p.content || !p.state_sync.empty() || !p.entity.empty() || !p.method.empty();
  if (content) {
    if (p.explicit_length || data_needs_length(p)) put_number(content_size(p), out);
    out += '\n';
    out += p.state_sync;
    for (const auto& m : p.entity) put_modifier(m, out);
    if (!p.method.empty()) {
      out += p.method;
      if (p.has_data) {
        out += '\n';
        out += p.data;
      }
      out += '\n';
    }
  }
  out += "|\n";
}

}  // namespace parley::protocols::psyc

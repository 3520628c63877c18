#include "protocols/psyc/list.hpp"

#include <limits>

namespace parley::protocols::psyc {

namespace {

template <typename F>
const char* walk(std::string_view v, F&& elem) {
  if (v.empty()) return nullptr;
  if (v[0] == '|') {
    std::size_t i = 1;
    for (;;) {
      std::size_t bar = v.find('|', i);
      std::string_view e = v.substr(i, bar == v.npos ? v.npos : bar - i);
      if (e.find('\n') != e.npos) return "LF in a text list element";
      if (const char* why = elem(e)) return why;
      if (bar == v.npos) return nullptr;
      i = bar + 1;
    }
  }
  if (v[0] < '0' || v[0] > '9') return "a list starts with '|' or an element length";
  std::size_t i = 0;
  for (;;) {
    std::size_t start = i, n = 0;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') {
      if (i - start >= 10) return "bad list element length";
      n = n * 10 + static_cast<std::size_t>(v[i] - '0');
      ++i;
    }
    if (i == start || (v[start] == '0' && i - start > 1)) return "bad list element length";
    if (i >= v.size() || v[i] != ' ') return "expected SP after a list element length";
    ++i;
    if (n > v.size() - i) return "list element length does not match";
    if (const char* why = elem(v.substr(i, n))) return why;
    i += n;
    if (i == v.size()) return nullptr;
    if (v[i] != '|') return "list element length does not match";
    ++i;
  }
}

}  // namespace

const char* validate_list(std::string_view value) {
  return walk(value, [](std::string_view) -> const char* { return nullptr; });
}

const char* parse_list(std::string_view value, std::vector<std::string_view>& out, std::size_t max_elems) {
  out.clear();
  return walk(value, [&](std::string_view e) -> const char* {
    if (out.size() >= max_elems) return "too many list elements";
    out.push_back(e);
    return nullptr;
  });
}

void render_list(const std::vector<std::string_view>& elems, std::string& out) {
  bool text = true;
  for (auto e : elems)
    if (e.find_first_of("|\n") != e.npos) text = false;
  if (text) {
    for (auto e : elems) {
      out += '|';
      out += e;
    }
    return;
  }
  bool first = true;
  for (auto e : elems) {
    if (!first) out += '|';
    first = false;
    out += std::to_string(e.size());
    out += ' ';
    out += e;
  }
}

}  // namespace parley::protocols::psyc

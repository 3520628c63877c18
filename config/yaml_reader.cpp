#include "config/yaml_reader.hpp"

#include <charconv>
#include <unordered_set>

namespace parley::config {

std::string Diagnostic::str() const {
  std::string out = file;
  // Appends one piece at a time (GCC 12 warns falsely on "literal" + std::string&& at -O2).
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
    out += ':';
    out += std::to_string(column);
  }
  out += ": ";
  if (!key.empty()) {
    out += key;
    out += ": ";
  }
  out += message;
  return out;
}

std::string format(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.str() + "\n";
  return out;
}

void Diagnostics::error(const YAML::Mark& mark, std::string key, std::string message) {
  Diagnostic d{file_, 0, 0, std::move(key), std::move(message)};
  if (!mark.is_null()) {
    d.line = mark.line + 1;
    d.column = mark.column + 1;
  }
  list_.push_back(std::move(d));
}

std::string_view describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "a scalar";
}

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string quoted(const YAML::Node& scalar) { return "'" + scalar.Scalar() + "'"; }

}  // namespace

Reader::Reader(const YAML::Node& node, std::string path, Diagnostics& diagnostics, YAML::Mark where)
    : path_(std::move(path)), diagnostics_(&diagnostics), where_(node.IsDefined() && !node.Mark().is_null() ? node.Mark() : where) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    diagnostics_->error(where_, path_, "expected a mapping of keys, got " + std::string(describe(node)));
    return;
  }
  std::unordered_set<std::string> seen;
  for (const auto& pair : node) {
    const YAML::Node k = pair.first;  // copies: the iterator's value is a temporary
    if (!k.IsScalar()) {
      diagnostics_->error(k.Mark(), path_, "keys must be plain strings, got " + std::string(describe(k)));
      continue;
    }
    if (!seen.insert(k.Scalar()).second) {
      diagnostics_->error(k.Mark(), path_of(k.Scalar()), "duplicate key '" + k.Scalar() + "'");
      continue;
    }
    entries_.push_back(Entry{k.Scalar(), k, pair.second, false});
  }
}

Reader::Reader(Reader&& other) noexcept
    : path_(std::move(other.path_)),
      diagnostics_(other.diagnostics_),
      where_(other.where_),
      entries_(std::move(other.entries_)),
      expected_(std::move(other.expected_)),
      finished_(other.finished_) {
  other.finished_ = true;
}

Reader::~Reader() { finish(); }

std::string Reader::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

Reader::Entry* Reader::find(std::string_view key) {
  std::string k(key);
  bool known = false;
  for (const auto& e : expected_) known = known || e == k;
  if (!known) expected_.push_back(k);
  for (auto& e : entries_) {
    if (e.key == key) {
      e.used = true;
      return &e;
    }
  }
  return nullptr;
}

YAML::Mark Reader::mark_of(const Entry& e) const {
  // A null value ("key:" with nothing after it) may have no mark; point at the key then.
  if (e.value.IsDefined() && !e.value.IsNull() && !e.value.Mark().is_null()) return e.value.Mark();
  return e.key_node.Mark().is_null() ? where_ : e.key_node.Mark();
}

bool Reader::has(std::string_view key) { return find(key) != nullptr; }

bool Reader::is_scalar(std::string_view key) {
  Entry* e = find(key);
  return e && e->value.IsScalar();
}

void Reader::error(std::string_view key, std::string message) {
  Entry* e = find(key);
  diagnostics_->error(e ? mark_of(*e) : where_, path_of(key), std::move(message));
}

void Reader::string(std::string_view key, std::string& out, Required required) {
  Entry* e = find(key);
  if (!e) {
    if (required == Required::yes) diagnostics_->error(where_, path_of(key), "missing required key (expected a string)");
    return;
  }
  if (!e->value.IsScalar()) {
    diagnostics_->error(mark_of(*e), path_of(key), "expected a string, got " + std::string(describe(e->value)));
    return;
  }
  if (required != Required::no && e->value.Scalar().empty()) {
    diagnostics_->error(mark_of(*e), path_of(key), "expected a non-empty string");
    return;
  }
  out = e->value.Scalar();
}

void Reader::one_of(std::string_view key, std::string& out, std::initializer_list<std::string_view> choices) {
  std::string value = out;
  Entry* e = find(key);
  if (!e) return;
  string(key, value);
  std::string list;
  for (auto c : choices) {
    if (value == c) {
      out = value;
      return;
    }
    list += (list.empty() ? "" : ", ") + std::string(c);
  }
  if (e->value.IsScalar())
    diagnostics_->error(mark_of(*e), path_of(key), "unknown value " + quoted(e->value) + "; expected one of: " + list);
}

void Reader::boolean(std::string_view key, bool& out) {
  Entry* e = find(key);
  if (!e) return;
  bool v = false;
  if (!e->value.IsScalar() || !YAML::convert<bool>::decode(e->value, v)) {
    std::string got = e->value.IsScalar() ? quoted(e->value) : std::string(describe(e->value));
    diagnostics_->error(mark_of(*e), path_of(key), "expected a boolean (true or false), got " + got);
    return;
  }
  out = v;
}

bool Reader::read_integer(std::string_view key, long long& out, long long min, long long max) {
  Entry* e = find(key);
  if (!e) return false;
  const std::string range = " in " + std::to_string(min) + ".." + std::to_string(max);
  if (!e->value.IsScalar()) {
    diagnostics_->error(mark_of(*e), path_of(key), "expected an integer" + range + ", got " + std::string(describe(e->value)));
    return false;
  }
  const std::string& s = e->value.Scalar();
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
    diagnostics_->error(mark_of(*e), path_of(key), "expected an integer" + range + ", got " + quoted(e->value));
    return false;
  }
  if (v < min || v > max) {
    diagnostics_->error(mark_of(*e), path_of(key), "expected an integer" + range + ", got " + s);
    return false;
  }
  out = v;
  return true;
}

void Reader::strings(std::string_view key, std::vector<std::string>& out, Required required) {
  Entry* e = find(key);
  if (!e) {
    if (required == Required::yes) diagnostics_->error(where_, path_of(key), "missing required key (expected a list of strings)");
    return;
  }
  if (!e->value.IsSequence()) {
    diagnostics_->error(mark_of(*e), path_of(key), "expected a list of strings, got " + std::string(describe(e->value)));
    return;
  }
  std::vector<std::string> result;
  bool ok = true;
  for (std::size_t i = 0; i < e->value.size(); ++i) {
    const YAML::Node item = e->value[i];
    if (!item.IsScalar()) {
      diagnostics_->error(item.Mark().is_null() ? mark_of(*e) : item.Mark(),
                          path_of(key) + "[" + std::to_string(i) + "]", "expected a string, got " + std::string(describe(item)));
      ok = false;
      continue;
    }
    result.push_back(item.Scalar());
  }
  if (ok) out = std::move(result);
}

void Reader::listen(std::string_view key, std::vector<ListenAddress>& out, ListenStyle style) {
  std::vector<std::string> values;
  bool present = has(key);
  std::size_t before = diagnostics_->list().size();
  strings(key, values);
  if (!present || diagnostics_->list().size() != before) return;
  Entry* e = find(key);
  bool ok = true;
  std::vector<ListenAddress> typed;
  typed.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::string why;
    if (auto a = parse_listen(values[i], style, &why)) {
      typed.push_back(std::move(*a));
    } else {
      const YAML::Node item = e->value[i];
      diagnostics_->error(item.Mark().is_null() ? mark_of(*e) : item.Mark(),
                          path_of(key) + "[" + std::to_string(i) + "]", why);
      ok = false;
    }
  }
  if (ok) out = std::move(typed);
}

Reader Reader::map(std::string_view key) {
  Entry* e = find(key);
  if (!e) return Reader(YAML::Node(), path_of(key), *diagnostics_, where_);
  return Reader(e->value, path_of(key), *diagnostics_, mark_of(*e));
}

bool Reader::for_each_item(std::string_view key, const std::function<void(Reader&)>& item) {
  Entry* e = find(key);
  if (!e || e->value.IsNull()) return false;
  if (!e->value.IsSequence()) {
    diagnostics_->error(mark_of(*e), path_of(key), "expected a list, got " + std::string(describe(e->value)));
    return false;
  }
  for (std::size_t i = 0; i < e->value.size(); ++i) {
    const YAML::Node node = e->value[i];
    std::string p = path_of(key) + "[" + std::to_string(i) + "]";
    YAML::Mark m = node.Mark().is_null() ? mark_of(*e) : node.Mark();
    if (!node.IsMap()) {
      diagnostics_->error(m, p, "expected a mapping of keys, got " + std::string(describe(node)));
      continue;
    }
    Reader r(node, p, *diagnostics_, m);
    item(r);
    r.finish();
  }
  return true;
}

void Reader::finish() {
  if (finished_) return;
  finished_ = true;
  for (const auto& e : entries_) {
    if (e.used) continue;
    std::string where = path_.empty() ? "the top level" : path_;
    diagnostics_->error(e.key_node.Mark(), path_of(e.key),
                        "unknown key '" + e.key + "' in " + where + "; expected one of: " + join(expected_));
  }
}

}  // namespace parley::config

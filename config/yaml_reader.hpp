#pragma once
// Reading one YAML mapping into typed fields with precise errors. Every section parser
// (config/<section>_config.cpp) works through a Reader: each read names a key, and the
// keys read are, at finish(), the "expected one of" list for any unknown key. So adding a
// field to a section is one line in its parser and nothing else.
//
//   void parse_thing(Reader& r, Thing& out) {
//     r.string("name", out.name, Required::yes);
//     r.integer("port", out.port, 1, 65535);
//     r.list("items", out.items, [](Reader& item, Item& i) { item.string("id", i.id); });
//     r.finish();
//   }
//
// A read of an absent key leaves the default in place. A wrong type is an error naming the
// expected type, and the target is left untouched.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostic.hpp"
#include "config/listen.hpp"

namespace parley::config {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}
  void error(const YAML::Mark& mark, std::string key, std::string message);
  const std::string& file() const { return file_; }
  const std::vector<Diagnostic>& list() const { return list_; }
  std::vector<Diagnostic> take() { return std::move(list_); }
  bool empty() const { return list_.empty(); }

 private:
  std::string file_;
  std::vector<Diagnostic> list_;
};

// yes: the key must be present (and a string non-empty); non_empty: optional, but if
// present it must not be empty.
enum class Required : std::uint8_t { no, yes, non_empty };

class Reader {
 public:
  // node: a mapping, or null/undefined for an absent section (then every read keeps its
  // default). A node of another kind is reported as "expected a mapping". `where` locates
  // errors about the node as a whole when it has no mark of its own (an absent section).
  Reader(const YAML::Node& node, std::string path, Diagnostics& diagnostics, YAML::Mark where);
  Reader(Reader&& other) noexcept;
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  ~Reader();

  // True if the mapping exists and has at least one key.
  bool has_entries() const { return !entries_.empty(); }
  // True if `key` is present (and marks it as a known key).
  bool has(std::string_view key);
  // True if `key` is present with a scalar value (a key that is either a word or a mapping).
  bool is_scalar(std::string_view key);

  void string(std::string_view key, std::string& out, Required required = Required::no);
  // A string that must be one of `choices`.
  void one_of(std::string_view key, std::string& out, std::initializer_list<std::string_view> choices);
  void boolean(std::string_view key, bool& out);
  template <class Int>
  void integer(std::string_view key, Int& out, long long min = std::numeric_limits<Int>::min(),
               long long max = static_cast<long long>(std::numeric_limits<Int>::max())) {
    long long v = 0;
    if (read_integer(key, v, min, max)) out = static_cast<Int>(v);
  }
  void strings(std::string_view key, std::vector<std::string>& out, Required required = Required::no);
  // A list of listen addresses, each parsed with parse_listen() into its typed value.
  void listen(std::string_view key, std::vector<ListenAddress>& out, ListenStyle style);

  // A nested mapping; the returned reader reports under "path.key".
  Reader map(std::string_view key);
  // A list of mappings, each parsed by `item(reader, value)` into a default-constructed T.
  template <class T, class F>
  void list(std::string_view key, std::vector<T>& out, F item) {
    std::vector<T> result;
    bool ok = for_each_item(key, [&](Reader& r) {
      T value{};
      item(r, value);
      result.push_back(std::move(value));
    });
    if (ok) out = std::move(result);
  }

  // Reports an error about `key` (at its value), e.g. a cross-field check.
  void error(std::string_view key, std::string message);
  // Reports every key that no read asked for. Called by the destructor if not before.
  void finish();
  // For a reader that looks at a few keys only (cross-field checks): report no unknown keys.
  void ignore_unknown() { finished_ = true; }

  const std::string& path() const { return path_; }
  std::string path_of(std::string_view key) const;
  Diagnostics& diagnostics() { return *diagnostics_; }

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
    bool used = false;
  };
  Entry* find(std::string_view key);
  YAML::Mark mark_of(const Entry& e) const;
  bool read_integer(std::string_view key, long long& out, long long min, long long max);
  bool for_each_item(std::string_view key, const std::function<void(Reader&)>& item);

  std::string path_;
  Diagnostics* diagnostics_;
  YAML::Mark where_;
  std::vector<Entry> entries_;
  std::vector<std::string> expected_;
  bool finished_ = false;
};

// The YAML kind of a node in words, for "expected X, got Y" messages.
std::string_view describe(const YAML::Node& node);

}  // namespace parley::config

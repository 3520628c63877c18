#pragma once
// Config errors: every one carries file, line, column and the dotted key path, so a user
// can fix the whole file in one pass (the loader reports all of them, not the first).
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace parley::config {

struct Diagnostic {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string key;  // "irc.listen[1]"; empty for file-level errors
  std::string message;

  // "FILE:LINE:COL: KEY.PATH: message"
  std::string str() const;
};

// One line per diagnostic, each ending in '\n'.
std::string format(const std::vector<Diagnostic>& diagnostics);

// A value, or every error found while producing it.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(std::vector<Diagnostic> errors) : errors_(std::move(errors)) {}

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T* operator->() const { return &*value_; }
  const std::vector<Diagnostic>& errors() const { return errors_; }

 private:
  std::optional<T> value_;
  std::vector<Diagnostic> errors_;
};

}  // namespace parley::config

#pragma once
// Errors are values in the core: {condition, text}. Each adapter maps a condition to its
// protocol (XMPP stanza error, IRC numeric, SIP status, PSYC _error_* method).
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace parley::core {

enum class Condition {
  bad_request,
  conflict,
  forbidden,
  gone,
  internal_server_error,
  item_not_found,
  malformed_address,
  not_acceptable,
  not_allowed,
  not_authorized,
  policy_violation,
  recipient_unavailable,
  registration_required,
  remote_server_not_found,
  resource_constraint,
  service_unavailable,
  undefined_condition,
};

std::string_view to_string(Condition c);

struct Error {
  Condition condition = Condition::undefined_condition;
  std::string text;

  friend bool operator==(const Error&, const Error&) = default;
};

inline Error make_error(Condition c, std::string text = {}) { return Error{c, std::move(text)}; }

// Result<T>: a value or an Error. Small on purpose: std::expected is C++23.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace parley::core

#pragma once
// A resumable, bounded, zero-copy PSYC 1.0 packet parser (Spec:Packet; packet.hpp).
//
//   Parser p(limits);
//   switch (p.parse(buffer)) {           // buffer starts at the packet's first byte
//     case Status::done:  use(p.packet()); buffer.remove_prefix(p.consumed()); break;
//     case Status::need_more: ...        // call again with the same bytes and more
//     case Status::error: p.error() ...  // the stream cannot be resynchronised: close it
//   }
//
// Modifiers go straight into the packet as views into the caller's buffer (no copy, no
// allocation once the packet's vectors have their working size). The caller's buffer may
// move between calls (a receive buffer that grew): a call that sees a new address shifts
// the views taken so far (at most max_modifiers of them; the caller copied the bytes
// anyway), and the packet's views point into the buffer of the call that returned done.
// Work already done is not otherwise repeated: fed one byte at a time, a packet costs time
// linear in its size times that bound. Every bound (Limits) is checked as soon as the
// bytes that break it arrive, before waiting for more. The next parse() after done or
// error starts afresh.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/psyc/packet.hpp"

namespace parley::protocols::psyc {

enum class Status : std::uint8_t { done, need_more, error };

class Parser {
 public:
  explicit Parser(Limits limits = {}) : limits_(limits) {}

  Status parse(std::string_view in);
  const Packet& packet() const { return packet_; }
  std::size_t consumed() const { return consumed_; }
  const std::string& error() const { return error_; }
  void reset();
  const Limits& limits() const { return limits_; }

 private:
  enum class State : std::uint8_t { routing, content, length_wait, body_scan, finished };
  struct Span {
    std::uint32_t off = 0, len = 0;
  };
  enum class Step : std::uint8_t { ok, need_more, error };

  Status run(std::string_view in);
  Status routing_line(std::string_view in);
  Status content_item(std::string_view in, std::size_t limit, bool complete);
  Status body_scan(std::string_view in);
  Status length_content(std::string_view in);
  Step modifier(std::string_view in, std::size_t limit, bool complete, bool entity);
  Status finish(std::string_view in, std::size_t end);
  Status fail(std::string why);
  Step fail_step(const char* why);
  Step cut_short(bool complete);
  void rebase(const char* now);
  bool check_list(std::string_view name, std::string_view value);

  Limits limits_;
  State state_ = State::routing;
  std::size_t pos_ = 0;   // next unparsed byte
  std::size_t scan_ = 0;  // where a search for LF resumes (bytes before it have none)
  std::size_t content_start_ = 0;
  std::size_t content_end_ = 0;  // explicit length: content_start_ + length
  std::size_t method_lf_ = 0;    // body_scan: the LF after the method
  std::size_t syncs_ = 0;        // sync operations so far
  Span sync_, method_, data_;
  bool has_content_ = false, explicit_length_ = false, has_data_ = false;
  const char* base_ = nullptr;  // the buffer packet_'s views point into
  Packet packet_;
  std::size_t consumed_ = 0;
  std::string error_;
};

// One-shot helper: parses exactly one packet that fills `in` (tests, fuzzing).
Status parse_packet(std::string_view in, Packet& out, std::string* error = nullptr, Limits limits = {});

}  // namespace parley::protocols::psyc

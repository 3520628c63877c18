#include "core/store/message_codec.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>

using namespace parley::core;

namespace {

Message full_message() {
  Message m;
  m.id = "msg-0001";
  m.from = Address::user("alice", "phone");
  m.to = Address::room("dev");
  m.kind = MessageKind::action;
  m.body = "waves at everyone \xe2\x9c\x8b with \0 a NUL";
  m.body.append(1, '\0');
  m.rich = {StyleSpan{0, 5, StyleSpan::bold | StyleSpan::italic, 0xff0000, std::nullopt},
            StyleSpan{6, 8, StyleSpan::monospace, std::nullopt, 0x00ff00},
            StyleSpan{0xffffffffu, 0xffffffffu, 0xff, 0xffffffffu, 0u}};
  m.subject = "greetings";
  m.thread = "thread-7";
  m.timestamp = Clock::now();  // sub-millisecond precision must survive too
  m.chat_state = ChatState::composing;
  m.receipt_request = true;
  m.receipt_for = "msg-0000";
  m.no_copy = true;
  m.origin_id = "client-id-7";
  m.nick = "Alice|away";
  m.origin = Origin{Protocol::irc, 0xffffffffffffffffULL, "libera-dev"};
  return m;
}

std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

std::string field(std::uint64_t tag, const std::string& payload) {
  return varint(tag) + varint(payload.size()) + payload;
}

const std::string kHeader = std::string("PM") + '\x01';

}  // namespace

TEST_CASE("a default message round-trips and encodes to the bare header") {
  Message m;
  auto bytes = encode_message(m);
  CHECK(bytes == kHeader);
  auto back = decode_message(bytes);
  REQUIRE(back.ok());
  CHECK(*back == m);
}

TEST_CASE("every field of a message round-trips") {
  auto m = full_message();
  auto back = decode_message(encode_message(m));
  REQUIRE(back.ok());
  CHECK(*back == m);
  CHECK(back->body.size() == m.body.size());
}

TEST_CASE("each address kind, foreign ones included, round-trips") {
  for (auto to : {Address(), Address::user("bob"), Address::user("bob", "laptop"), Address::room("dev"),
                  *Address::foreign("xmpp:carol@example.org/x"), *Address::foreign("irc://libera/#chan"),
                  *Address::foreign("sip:dave@example.org"), *Address::foreign("psyc://example.org/~eve")}) {
    Message m;
    m.to = to;
    m.from = to;
    auto back = decode_message(encode_message(m));
    REQUIRE(back.ok());
    CHECK(*back == m);
  }
}

TEST_CASE("an empty subject is not the same as no subject") {
  Message with;
  with.subject = "";
  auto back = decode_message(encode_message(with));
  REQUIRE(back.ok());
  REQUIRE(back->subject.has_value());
  CHECK(back->subject->empty());
  Message without;
  CHECK_FALSE(decode_message(encode_message(without))->subject.has_value());
}

TEST_CASE("timestamps before the epoch and at the extremes round-trip") {
  for (auto t : {Timestamp{} - std::chrono::hours(24 * 365 * 30), Timestamp(Clock::duration::min()),
                 Timestamp(Clock::duration::max()), Timestamp(Clock::duration(1))}) {
    Message m;
    m.timestamp = t;
    auto back = decode_message(encode_message(m));
    REQUIRE(back.ok());
    CHECK(back->timestamp == t);
  }
}

TEST_CASE("fields from a newer format are skipped") {
  auto m = full_message();
  auto bytes = encode_message(m) + field(200, "from the future") + field(99, "");
  auto back = decode_message(bytes);
  REQUIRE(back.ok());
  CHECK(*back == m);
}

TEST_CASE("a receipt and the no-copy flag keep their stored tags (14, 15)") {
  Message m;
  m.receipt_for = "abc";
  m.no_copy = true;
  CHECK(encode_message(m) == kHeader + field(14, "abc") + field(15, "\x01"));
  auto back = decode_message(kHeader + field(14, "abc") + field(15, "\x01"));
  REQUIRE(back.ok());
  CHECK(back->receipt_for == "abc");
  CHECK(back->no_copy);
  CHECK_FALSE(decode_message(kHeader + field(15, "\x02")).ok());  // a flag is 0 or 1
  CHECK_FALSE(decode_message(kHeader + field(14, "a") + field(14, "b")).ok());  // singular
}

TEST_CASE("the client's origin id keeps its stored tag (16)") {
  Message m;
  m.origin_id = "c-1";
  CHECK(encode_message(m) == kHeader + field(16, "c-1"));
  auto back = decode_message(kHeader + field(16, "c-1"));
  REQUIRE(back.ok());
  CHECK(back->origin_id == "c-1");
  CHECK_FALSE(decode_message(kHeader + field(16, "a") + field(16, "b")).ok());  // singular
}

TEST_CASE("malformed input is an error with a reason") {
  auto bad = [](const std::string& bytes) {
    auto r = decode_message(bytes);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().condition == Condition::bad_request);
    CHECK_FALSE(r.error().text.empty());
  };
  SUBCASE("header") {
    bad("");
    bad("P");
    bad("PM");
    bad("XM\x01");
    bad(std::string("PM") + '\x02');
  }
  SUBCASE("lengths") {
    bad(kHeader + varint(1));                         // tag without length
    bad(kHeader + varint(1) + varint(10) + "short");  // length beyond the input
    bad(kHeader + varint(1) + varint(0xffffffffffffffffULL));
    bad(kHeader + std::string(11, '\x80') + '\x01');             // over-long varint
    bad(kHeader + std::string(9, '\xff') + '\x02' + varint(0));  // varint over 64 bits
  }
  SUBCASE("values") {
    bad(kHeader + field(4, varint(4)));                         // kind out of range
    bad(kHeader + field(10, varint(6)));                        // chat state out of range
    bad(kHeader + field(11, varint(2)));                        // boolean out of range
    bad(kHeader + field(4, varint(1) + "x"));                   // trailing bytes in an integer
    bad(kHeader + field(4, ""));                                // empty integer
    bad(kHeader + field(6, field(3, varint(256))));             // span flags over 8 bits
    bad(kHeader + field(6, field(1, varint(0x100000000ULL))));  // span offset over 32 bits
    bad(kHeader + field(13, field(1, varint(5))));              // origin protocol out of range
    bad(kHeader + field(1, "a") + field(1, "b"));               // repeated singular field
    bad(kHeader + field(9, varint(1)) + field(9, varint(1)));
  }
  SUBCASE("addresses") {
    bad(kHeader + field(2, field(1, varint(4))));                                    // bad kind
    bad(kHeader + field(2, field(1, varint(3)) + field(2, "gopher://x")));           // unknown scheme
    bad(kHeader + field(2, field(1, varint(2)) + field(2, "dev") + field(3, "r")));  // room resource
    bad(kHeader + field(2, field(1, varint(0)) + field(2, "x")));                    // empty with content
    bad(kHeader + field(2, field(2, "a") + field(2, "b")));                          // repeated id
  }
}

TEST_CASE("every truncation of an encoding decodes or fails cleanly") {
  auto bytes = encode_message(full_message());
  int errors = 0;
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_message(std::string_view(bytes).substr(0, n));
    if (!r) ++errors;
  }
  // Cuts inside a field (most of them) are errors; cuts between fields decode a prefix.
  CHECK(errors > static_cast<int>(bytes.size()) / 2);
}

TEST_CASE("every single-bit corruption decodes or fails cleanly") {
  auto bytes = encode_message(full_message());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = bytes;
      copy[i] = static_cast<char>(copy[i] ^ (1 << bit));
      auto r = decode_message(copy);
      if (r) CHECK(encode_message(*r).size() <= bytes.size() + 16);
    }
  }
}

TEST_CASE("random garbage after a valid header never crashes the decoder") {
  std::mt19937_64 rng(0x5eed);
  auto seed = encode_message(full_message());
  for (int round = 0; round < 5000; ++round) {
    std::string input = kHeader;
    if (round % 2) {
      // Mutate a valid encoding in a few places: reaches deeper than pure noise.
      input = seed;
      for (int k = 0; k < 4; ++k) input[rng() % input.size()] = static_cast<char>(rng());
    } else {
      auto len = rng() % 64;
      for (std::uint64_t k = 0; k < len; ++k) input.push_back(static_cast<char>(rng()));
    }
    auto r = decode_message(input);
    if (r) {
      // Whatever decodes re-encodes to something that decodes to the same message.
      auto again = decode_message(encode_message(*r));
      REQUIRE(again.ok());
      CHECK(*again == *r);
    }
  }
}

// The PSYC codec, table-driven, fed whole and one byte at a time (each time from a freshly
// copied buffer, so the parser cannot rely on pointers staying put); every valid packet
// renders back to its exact bytes.
#include "protocols/psyc/parser.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocols/psyc/list.hpp"
#include "protocols/psyc/render.hpp"

using namespace parley::protocols::psyc;

namespace {

struct Fed {
  Status status;
  std::string error;
  std::string rendered;  // of the packet, when done
  Packet packet;         // views into `keep`
  std::string keep;
  std::size_t consumed = 0;
};

// Whole: one call with every byte.
Fed feed_whole(const std::string& in, Limits limits = {}) {
  Fed f;
  f.keep = in;
  Parser p(limits);
  f.status = p.parse(f.keep);
  f.error = p.error();
  if (f.status == Status::done) {
    f.packet = p.packet();
    f.consumed = p.consumed();
    render(f.packet, f.rendered);
  }
  return f;
}

// Byte by byte: each call sees one more byte, in a new buffer.
Fed feed_bytes(const std::string& in, Limits limits = {}) {
  Fed f;
  Parser p(limits);
  f.status = Status::need_more;
  for (std::size_t n = 1; n <= in.size() && f.status == Status::need_more; ++n) {
    f.keep = in.substr(0, n);  // a new allocation each time: offsets, not pointers
    f.keep.reserve(n + 64 * (n % 3));
    f.status = p.parse(f.keep);
  }
  f.error = p.error();
  if (f.status == Status::done) {
    f.packet = p.packet();
    f.consumed = p.consumed();
    render(f.packet, f.rendered);
  }
  return f;
}

struct Valid {
  const char* what;
  std::string bytes;
  std::size_t routing, entity;
  std::string method, data;
};

const std::vector<Valid>& valid_packets() {
  static const std::vector<Valid> v = {
      {"empty packet (circuit greeting)", "|\n", 0, 0, "", ""},
      {"spec example, implicit length",
       ":_source\tpsyc://example.symlynX.com/~fippo\n:_target\tpsyc://ente.aquarium.example.org:-32872\n\n"
       ":_nick\tfippo\n_info_nickname\nHello [_nick].\n|\n",
       2, 1, "_info_nickname", "Hello [_nick]."},
      {"spec example, explicit length",
       ":_source\tpsyc://example.symlynX.com/~fippo\n:_target\tpsyc://ente.aquarium.example.org:-32872\n43\n"
       ":_nick\tfippo\n_info_nickname\nHello [_nick].\n|\n",
       2, 1, "_info_nickname", "Hello [_nick]."},
      {"context message",
       ":_context\tpsyc://example.org/@dev\n\n:_nick\talice\n_message_public\nhi there\n|\n", 1, 1,
       "_message_public", "hi there"},
      {"binary value", ":_target\tpsyc://a/~b\n\n:_blob 7\tab\n|\ncd\n_message\nx\n|\n", 1, 1, "_message",
       "x"},
      {"binary value, empty", ":_target\tpsyc://a/~b\n\n:_blob 0\t\n_notice\n|\n", 1, 1, "_notice", ""},
      {"value with NUL and CR", std::string(":_target\tpsyc://a/~b\n\n:_x\ta\0b\r\n|\n", 33), 1, 1, "", ""},
      {"modifier without a value", ":_tag\n\n:_flag\n_request_do\n|\n", 1, 1, "_request_do", ""},
      {"empty text value", ":_tag\t\n|\n", 1, 0, "", ""},
      {"content line, no content", ":_target\tpsyc://a/~b\n\n|\n", 1, 0, "", ""},
      {"zero length content", ":_target\tpsyc://a/~b\n0\n|\n", 1, 0, "", ""},
      {"empty data", "\n_message\n\n|\n", 0, 0, "_message", ""},
      {"data with LF | LF, explicit length", "21\n_message\nline\n|\nnext\n|\n", 0, 0, "_message",
       "line\n|\nnext"},
      {"multi-line data", "\n_message\none\ntwo\n\nthree\n|\n", 0, 0, "_message", "one\ntwo\n\nthree"},
      {"text list", "\n=_list_members\t|psyc://a/~x|psyc://a/~y\n_status_context\n|\n", 0, 1,
       "_status_context", ""},
      {"binary list", "\n=_list_data 3\t1 a\n_x\n|\n", 0, 1, "_x", ""},
      {"binary list, several", "\n=_list_data 13\t3 a|b|2 \n\n|0 \n_x\n|\n", 0, 1, "_x", ""},
      {"state operators",
       ":_context\tpsyc://a/@dev\n\n=\n?\n=_nick\tbob\n+_list_members\t|psyc://a/~c\n-_list_members\t|psyc://"
       "a/~d\n"
       "?_nick\n_notice_context_change\n|\n",
       1, 4, "_notice_context_change", ""},
      {"state resync request alone", ":_context\tpsyc://a/@dev\n\n?\n|\n", 1, 0, "", ""},
      {"routing state (=) modifier", "=_source\tpsyc://a/~b\n:_target\tpsyc://a/@c\n|\n", 2, 0, "", ""},
  };
  return v;
}

}  // namespace

TEST_CASE("psyc parser: valid packets, whole and byte by byte, render back byte for byte") {
  for (const auto& v : valid_packets()) {
    for (int mode = 0; mode < 2; ++mode) {
      std::string what = v.what;
      CAPTURE(what);
      CAPTURE(mode);
      Fed f = mode == 0 ? feed_whole(v.bytes) : feed_bytes(v.bytes);
      REQUIRE_MESSAGE(f.status == Status::done, f.error);
      CHECK(f.consumed == v.bytes.size());
      CHECK(f.packet.routing.size() == v.routing);
      CHECK(f.packet.entity.size() == v.entity);
      CHECK(f.packet.method == v.method);
      if (!v.data.empty()) CHECK(f.packet.data == v.data);
      CHECK(f.rendered == v.bytes);
    }
  }
}

TEST_CASE("psyc parser: fields of the spec example") {
  Fed f = feed_bytes(valid_packets()[2].bytes);
  REQUIRE(f.status == Status::done);
  const Packet& p = f.packet;
  CHECK(p.explicit_length);
  CHECK(p.routing[0].op == ':');
  CHECK(p.routing[0].name == "_source");
  CHECK(p.routing[0].value == "psyc://example.symlynX.com/~fippo");
  CHECK(p.get("_nick") == "fippo");
  CHECK(p.has_data);
}

TEST_CASE("psyc parser: binary value keeps its bytes and form") {
  Fed f = feed_whole(":_target\tpsyc://a/~b\n\n:_blob 7\tab\n|\ncd\n_message\nx\n|\n");
  REQUIRE(f.status == Status::done);
  CHECK(f.packet.entity[0].form == ValueForm::binary);
  CHECK(f.packet.entity[0].value == "ab\n|\ncd");
}

TEST_CASE("psyc parser: state sync and operators") {
  Fed f = feed_whole(valid_packets()[17].bytes);
  REQUIRE(f.status == Status::done);
  CHECK(f.packet.state_sync == "=\n?\n");
  CHECK(f.packet.entity[0].op == '=');
  CHECK(f.packet.entity[1].op == '+');
  CHECK(f.packet.entity[2].op == '-');
  CHECK(f.packet.entity[3].op == '?');
  CHECK(f.packet.entity[3].form == ValueForm::none);
}

TEST_CASE("psyc parser: pipelined packets come out one by one") {
  std::string in = "|\n:_a\tb\n|\n\n_m\nx\n|\n";
  Parser p;
  std::string_view rest = in;
  std::vector<std::string> methods;
  while (!rest.empty()) {
    REQUIRE(p.parse(rest) == Status::done);
    methods.emplace_back(p.packet().method);
    rest.remove_prefix(p.consumed());
  }
  CHECK(methods == std::vector<std::string>{"", "", "_m"});
}

TEST_CASE("psyc parser: malformed packets are refused with a clear error, whole and byte by byte") {
  Limits small;
  small.max_name = 8;
  small.max_value = 16;
  small.max_content = 64;
  small.max_modifiers = 3;
  struct Bad {
    const char* what;
    std::string bytes;
    std::string error;  // a prefix of the message
  };
  const std::vector<Bad> bad = {
      {"operator without a name (routing)", ":\tvalue\n|\n", "operator without a name"},
      {"operator without a name (entity)", "\n+\tvalue\n|\n", "operator without a name"},
      {"state sync in the routing header", "=\n|\n", "operator without a name"},
      {"content length too short", "3\n_message\n|\n", "content length does not match"},
      {"content length too long", "12\n_message\n|\nxxxx", "content length does not match"},
      {"content length cuts a modifier", "4\n:_ab\tc\n|\n", "content length does not match"},
      {"binary length mismatch", "\n:_a 2\tabc\n|\n", "binary value length does not match"},
      {"binary length not a number", "\n:_a x\tabc\n|\n", "bad binary value length"},
      {"binary length with leading zero", "\n:_a 01\ta\n|\n", "bad binary value length"},
      {"binary value in routing", ":_a 1\tx\n|\n", "binary value in the routing header"},
      {"content length with leading zero", "03\n_m\n|\n", "bad content length"},
      {"bad list start", "\n:_list_x\tabc\n|\n", "bad list in _list_x"},
      {"bad list element length", "\n:_list_x 4\t5 ab\n|\n", "bad list in _list_x"},
      {"bad list separator", "\n:_list_x\t1 ab\n|\n", "bad list in _list_x"},
      {"unknown operator", "!_a\tb\n|\n", "expected a routing modifier"},
      {"no LF after |", "|x", "expected LF after '|'"},
      {"bad method", "\n_m-x\n|\n", "bad method name"},
      {"bad name character", ":_a-b\tc\n|\n", "bad character in modifier name"},
      {"state sync after modifiers", "\n:_a\tb\n=\n|\n", "state sync after entity modifiers"},
      {"junk in content", "\n#x\n|\n", "expected an entity modifier"},
      {"name too long", ":_abcdefghij\tx\n|\n", "modifier name too long"},
      {"value too long", ":_a\t01234567890123456789\n|\n", "modifier value too long"},
      {"binary value too long", "\n:_a 17\t01234567890123456\n|\n", "modifier value too long"},
      {"too many modifiers", ":_a\n:_b\n\n:_c\n:_d\n|\n", "too many modifiers"},
      {"content too large (length)", "65\n", "content too large"},
      {"content too large (scan)", "\n_m\n" + std::string(80, 'x'), "content too large"},
      {"method too long", "\n_abcdefghijk", "method name too long"},
  };
  for (const auto& b : bad) {
    for (int mode = 0; mode < 2; ++mode) {
      std::string what = b.what;
      CAPTURE(what);
      CAPTURE(mode);
      Fed f = mode == 0 ? feed_whole(b.bytes, small) : feed_bytes(b.bytes, small);
      REQUIRE(f.status == Status::error);
      CHECK(f.error.substr(0, b.error.size()) == b.error);
    }
  }
}

TEST_CASE("psyc parser: an endless value fails at the bound, not at the end of memory") {
  Limits small;
  small.max_value = 16;
  Parser p(small);
  std::string in = ":_a\t";
  Status st = Status::need_more;
  for (int i = 0; i < 100 && st == Status::need_more; ++i) {
    in += 'x';
    st = p.parse(in);
  }
  CHECK(st == Status::error);
  CHECK(in.size() < 30);
}

TEST_CASE("psyc render: built packets pick the form the bytes need") {
  Packet p;
  p.routing.push_back({':', "_target", "psyc://a/@dev", ValueForm::text});
  p.entity.push_back({':', "_nick", "two\nlines", ValueForm::text});
  p.method = "_message_public";
  p.has_data = true;
  p.data = "a\n|\nb";  // would end the packet early without a length
  std::string out;
  render(p, out);
  Packet q;
  std::string err;
  REQUIRE(parse_packet(out, q, &err) == Status::done);
  CHECK(q.entity[0].value == "two\nlines");
  CHECK(q.entity[0].form == ValueForm::binary);
  CHECK(q.explicit_length);
  CHECK(q.data == "a\n|\nb");
  for (std::string data : {"|", "|\nx", "x\n|", ""}) {
    p.data = data;
    p.entity.clear();
    out.clear();
    render(p, out);
    REQUIRE(parse_packet(out, q, &err) == Status::done);
    CHECK(q.data == data);
  }
}

TEST_CASE("psyc lists") {
  std::vector<std::string_view> e;
  CHECK(parse_list("", e, 10) == nullptr);
  CHECK(e.empty());
  CHECK(parse_list("|a|b||c", e, 10) == nullptr);
  CHECK(e == std::vector<std::string_view>{"a", "b", "", "c"});
  CHECK(parse_list("1 a|3 b|c|0 ", e, 10) == nullptr);
  CHECK(e == std::vector<std::string_view>{"a", "b|c", ""});
  CHECK(parse_list("|a|b|c", e, 2) != nullptr);
  CHECK(parse_list("x", e, 10) != nullptr);
  CHECK(parse_list("2 a", e, 10) != nullptr);
  CHECK(parse_list("1 ab", e, 10) != nullptr);
  CHECK(parse_list("1a", e, 10) != nullptr);
  std::string out;
  render_list({"x", "y"}, out);
  CHECK(out == "|x|y");
  out.clear();
  render_list({"x|", "y"}, out);
  CHECK(out == "2 x||1 y");
  CHECK(parse_list(out, e, 10) == nullptr);
  CHECK(e == std::vector<std::string_view>{"x|", "y"});
}

#include "protocols/psyc/uniform.hpp"

#include <doctest/doctest.h>

#include <string>

#include "protocols/psyc/method.hpp"

using namespace parley::protocols::psyc;

TEST_CASE("psyc uniforms: valid ones") {
  Uniform u;
  REQUIRE(parse_uniform("psyc://example.org/~alice", u) == nullptr);
  CHECK(u.host == "example.org");
  CHECK(u.kind == '~');
  CHECK(u.name == "alice");
  REQUIRE(parse_uniform("psyc://example.org:4405d/@dev#news", u) == nullptr);
  CHECK(u.port == "4405");
  CHECK(u.transport == 'd');
  CHECK(u.kind == '@');
  CHECK(u.name == "dev");
  CHECK(u.channel == "news");
  REQUIRE(parse_uniform("psyc://ente.aquarium.example.org:-32872", u) == nullptr);
  CHECK(u.port == "-32872");
  CHECK(u.kind == 0);
  REQUIRE(parse_uniform("PSYC://[::1]:4404s/", u) == nullptr);
  CHECK(u.host == "[::1]");
  CHECK(u.transport == 's');
  CHECK(person_uniform("localhost", "bob") == "psyc://localhost/~bob");
  CHECK(place_uniform("localhost", "dev") == "psyc://localhost/@dev");
}

TEST_CASE("psyc uniforms: invalid ones are rejected with a reason") {
  struct Bad {
    const char* in;
    std::string why;
  };
  for (const auto& b :
       {Bad{"http://a/~b", "not a psyc: uniform"}, Bad{"psyc:///~b", "no host"},
        Bad{"psyc://a:/~b", "port expected after ':'"}, Bad{"psyc://a:70000/~b", "port out of range"},
        Bad{"psyc://a:0", "port out of range"}, Bad{"psyc://a:44x/~b", "unknown transport (c, d or s)"},
        Bad{"psyc://a:44cd", "bad port"}, Bad{"psyc://a/bob", "the resource starts with"},
        Bad{"psyc://a/~", "empty name"}, Bad{"psyc://a/~b c", "bad character in name"},
        Bad{"psyc://a/@dev#", "empty channel"}, Bad{"psyc://a b/~c", "bad character in host"},
        Bad{"psyc://[zz]/~c", "bad IPv6 host"}, Bad{"psyc://a/@dev#x/y", "bad character in channel"}}) {
    CAPTURE(b.in);
    Uniform u;
    const char* why = parse_uniform(b.in, u);
    REQUIRE(why != nullptr);
    CHECK(std::string(why).substr(0, b.why.size()) == b.why);
  }
}

TEST_CASE("psyc methods fall back by family") {
  CHECK(parent_method("_notice_presence_here_quiet") == "_notice_presence_here");
  CHECK(parent_method("_notice_presence_here") == "_notice_presence");
  CHECK(parent_method("_notice") == "");
  std::string seen;
  bool handled = dispatch_by_family("_notice_presence_here_quiet", [&](std::string_view m) {
    seen += std::string(m) + ";";
    return m == "_notice_presence";
  });
  CHECK(handled);
  CHECK(seen == "_notice_presence_here_quiet;_notice_presence_here;_notice_presence;");
  CHECK_FALSE(dispatch_by_family("_frobnicate", [](std::string_view) { return false; }));
}

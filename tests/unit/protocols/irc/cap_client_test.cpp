// The client side of registration (protocols/irc/cap_client.hpp), fed server transcripts
// written from ircv3.net capability-negotiation and sasl-3.1/3.2, and run against Parley's
// own server-side machine and SCRAM server.
#include "protocols/irc/cap_client.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/services/directory.hpp"
#include "protocols/common/sasl.hpp"
#include "protocols/irc/registration.hpp"

using namespace parley::protocols::irc;
namespace sasl = parley::protocols::sasl;
using Event = CapNegotiator::Event;

namespace {

// Feeds one server line (kept alive for the views) and returns the event and our output.
struct Fed {
  Event event;
  std::string out;
};
Fed feed(CapNegotiator& n, const std::string& line) {
  Message m;
  REQUIRE(parse_line(line, m) == ParseError::none);
  Fed f{Event::none, {}};
  f.event = n.on_message(m, f.out);
  return f;
}

SaslClient::Status feed(SaslClient& c, const std::string& line, std::string& out) {
  Message m;
  REQUIRE(parse_line(line, m) == ParseError::none);
  return c.on_message(m, out);
}

std::vector<std::string> lines_of(const std::string& out) {
  std::vector<std::string> v;
  std::size_t p = 0;
  while (p < out.size()) {
    auto e = out.find("\r\n", p);
    REQUIRE(e != std::string::npos);
    v.push_back(out.substr(p, e - p));
    p = e + 2;
  }
  return v;
}

}  // namespace

TEST_CASE("CAP client: multiline LS 302 with values, REQ, ACK, SASL holds END back") {
  // A Solanum (Libera.Chat) style reply, split over two lines with "*".
  CapNegotiator n({"sasl", "server-time", "message-tags", "away-notify", "draft/not-offered"});
  std::string out;
  n.start(out);
  CHECK(out == "CAP LS 302\r\n");
  auto f =
      feed(n,
           ":tantalum.libera.chat CAP * LS * :account-notify away-notify chghost extended-join multi-prefix "
           "sasl=ECDSA-NIST256P-CHALLENGE,EXTERNAL,PLAIN,SCRAM-SHA-512 tls account-tag cap-notify");
  CHECK(f.event == Event::none);
  CHECK(f.out.empty());  // more lines follow
  f = feed(n,
           ":tantalum.libera.chat CAP * LS :echo-message server-time solanum.chat/identify-msg message-tags");
  CHECK(f.event == Event::none);
  CHECK(f.out == "CAP REQ :sasl server-time message-tags away-notify\r\n");
  CHECK(n.offered("sasl") ==
        std::optional<std::string_view>("ECDSA-NIST256P-CHALLENGE,EXTERNAL,PLAIN,SCRAM-SHA-512"));
  CHECK(n.offered("tls") == std::optional<std::string_view>(""));
  CHECK(!n.offered("draft/not-offered"));
  f = feed(n, ":tantalum.libera.chat CAP * ACK :sasl server-time message-tags away-notify");
  CHECK(f.event == Event::sasl_ready);
  CHECK(f.out.empty());  // no CAP END while SASL runs
  CHECK(n.enabled("sasl"));
  CHECK(n.enabled("away-notify"));
  CHECK(!n.ended());
  CHECK(choose_mechanism(*n.offered("sasl"), {"SCRAM-SHA-256", "PLAIN"}) == "PLAIN");
  out.clear();
  n.end(out);
  n.end(out);
  CHECK(out == "CAP END\r\n");
  CHECK(n.ended());
}

TEST_CASE("CAP client: NAK, a split ACK, no SASL wanted ends at once") {
  CapNegotiator n({"server-time", "batch", "labeled-response"});
  std::string out;
  n.start(out);
  // An InspIRCd style single-line LS.
  auto f = feed(n, ":irc.example.net CAP * LS :batch cap-notify labeled-response server-time");
  CHECK(f.out == "CAP REQ :server-time batch labeled-response\r\n");
  // A server that answers part of it per line (or NAKs): no END until every name is answered.
  f = feed(n, ":irc.example.net CAP * ACK :server-time batch");
  CHECK(f.event == Event::none);
  CHECK(f.out.empty());
  f = feed(n, ":irc.example.net CAP * NAK :labeled-response");
  CHECK(f.event == Event::ended);
  CHECK(f.out == "CAP END\r\n");
  CHECK(n.enabled("batch"));
  CHECK(!n.enabled("labeled-response"));
  // An ACK of something never asked for changes nothing.
  f = feed(n, ":irc.example.net CAP * ACK :echo-message");
  CHECK(!n.enabled("echo-message"));
}

TEST_CASE("CAP client: nothing wanted is offered, old servers, cap-notify NEW and DEL") {
  CapNegotiator a({"draft/chathistory"});
  std::string out;
  a.start(out);
  auto f = feed(a, ":irc.example.net CAP * LS :server-time");
  CHECK(f.event == Event::ended);
  CHECK(f.out == "CAP END\r\n");

  CapNegotiator old({"server-time"});
  old.start(out);
  f = feed(old, ":old.example.net 421 * CAP :Unknown command");
  CHECK(f.event == Event::unsupported);
  CHECK(f.out.empty());
  CHECK(old.ended());

  CapNegotiator n({"away-notify", "account-notify"});
  n.start(out);
  f = feed(n, ":irc.example.net CAP * LS :cap-notify");
  CHECK(f.event == Event::ended);
  f = feed(n, ":irc.example.net CAP nick NEW :away-notify=x extended-join");
  CHECK(f.out == "CAP REQ :away-notify\r\n");
  CHECK(n.offered("away-notify") == std::optional<std::string_view>("x"));
  f = feed(n, ":irc.example.net CAP nick ACK :away-notify");
  CHECK(f.event == Event::changed);
  CHECK(f.out.empty());  // no second CAP END
  CHECK(n.enabled("away-notify"));
  f = feed(n, ":irc.example.net CAP nick DEL :away-notify");
  CHECK(f.event == Event::changed);
  CHECK(!n.enabled("away-notify"));
  CHECK(!n.offered("away-notify"));
}

TEST_CASE("SASL client PLAIN: transcript with 900 and 903") {
  SaslClient c("PLAIN", "alice", "pw");
  std::string out;
  c.start(out);
  CHECK(out == "AUTHENTICATE PLAIN\r\n");
  out.clear();
  CHECK(feed(c, "AUTHENTICATE +", out) == SaslClient::Status::running);
  CHECK(out == "AUTHENTICATE " + sasl::base64_encode(std::string("\0alice\0pw", 9)) + "\r\n");
  out.clear();
  feed(c, ":irc.example.net 900 alice alice!a@h alice :You are now logged in as alice", out);
  CHECK(c.account() == "alice");
  CHECK(feed(c, ":irc.example.net 903 alice :SASL authentication successful", out) ==
        SaslClient::Status::success);
  CHECK(out.empty());
}

TEST_CASE("SASL client outcomes: 908 then 904, 906, 907, a long password over several lines") {
  SaslClient c("SCRAM-SHA-256", "alice", "pw");
  std::string out;
  c.start(out);
  feed(c, ":irc.example.net 908 alice PLAIN,EXTERNAL :are available SASL mechanisms", out);
  CHECK(c.mechanisms() == "PLAIN,EXTERNAL");
  CHECK(feed(c, ":irc.example.net 904 alice :SASL authentication failed", out) ==
        SaslClient::Status::failure);

  SaslClient ab("PLAIN", "a", "b");
  ab.start(out);
  CHECK(feed(ab, ":s 906 a :SASL authentication aborted", out) == SaslClient::Status::aborted);
  SaslClient al("PLAIN", "a", "b");
  al.start(out);
  CHECK(feed(al, ":s 907 a :You have already authenticated using SASL", out) == SaslClient::Status::already);

  // 300 raw bytes of PLAIN message: exactly one 400-byte line, then "+".
  SaslClient big("PLAIN", "alice", std::string(300 - 7, 'p'));
  out.clear();
  big.start(out);
  out.clear();
  feed(big, "AUTHENTICATE +", out);
  auto lines = lines_of(out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].size() == 13 + 400);
  CHECK(lines[1] == "AUTHENTICATE +");
}

TEST_CASE("SASL client SCRAM-SHA-256 against the server-side machine and SCRAM server") {
  auto creds =
      parley::core::Directory::derive(parley::core::ScramHash::sha256, "hunter2", "0123456789ab", 4096);
  for (const char* password : {"hunter2", "wrong"}) {
    CAPTURE(password);
    Registration server;
    server.caps |= cap_sasl;
    SaslClient client("SCRAM-SHA-256", "alice", password);
    std::unique_ptr<sasl::ScramServer> scram;
    std::string to_server, to_client;
    client.start(to_server);
    bool succeeded = false, failed = false;
    for (int round = 0; round < 10 && !succeeded && !failed; ++round) {
      // Server side: every line the client sent.
      for (const auto& line : lines_of(to_server)) {
        Message m;
        REQUIRE(parse_line(line, m) == ParseError::none);
        auto st = on_authenticate(server, m.param(0), false, false);
        if (st.kind == SaslStep::Kind::start) {
          to_client += "AUTHENTICATE +\r\n";
        } else if (st.kind == SaslStep::Kind::payload) {
          auto raw = sasl::base64_decode(st.payload);
          REQUIRE(raw);
          if (!scram) {
            CHECK(sasl::scram_username(*raw) == std::optional<std::string>("alice"));
            scram = std::make_unique<sasl::ScramServer>(
                "SCRAM-SHA-256",
                sasl::ScramSecrets{creds.salt, creds.iterations, creds.stored_key, creds.server_key});
          } else if (raw->empty()) {  // the client acknowledged server-final
            to_client +=
                ":s 900 alice alice!a@h alice :You are now logged in as alice\r\n:s 903 alice :ok\r\n";
            continue;
          }
          auto step = scram->step(*raw);
          if (step.result == sasl::ScramServer::Result::failure) {
            to_client += ":s 904 alice :SASL authentication failed\r\n";
          } else {
            append_authenticate(to_client, step.data);
          }
        } else if (st.kind == SaslStep::Kind::abort) {
          to_client += ":s 906 alice :SASL authentication aborted\r\n";
        }
      }
      to_server.clear();
      // Client side: every line the server sent.
      for (const auto& line : lines_of(to_client)) {
        auto s = feed(client, line, to_server);
        succeeded = s == SaslClient::Status::success;
        failed = s == SaslClient::Status::failure;
      }
      to_client.clear();
    }
    if (std::string_view(password) == "hunter2") {
      CHECK(succeeded);
      CHECK(client.account() == "alice");
    } else {
      CHECK(failed);
    }
  }
}

TEST_CASE("SASL client SCRAM refuses 903 from a server that never proved the password") {
  SaslClient c("SCRAM-SHA-256", "alice", "pw");
  std::string out;
  c.start(out);
  feed(c, "AUTHENTICATE +", out);
  CHECK(feed(c, ":s 903 alice :SASL authentication successful", out) == SaslClient::Status::failure);
}

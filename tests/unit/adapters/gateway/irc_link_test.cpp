// IrcLink against a loopback peer: its owner is asked about each line as sent, before the
// encoding fallback (a shared reading follower knows its copy of a handed line by those
// bytes), and current_line() is the line as read while the owner handles it.
#include "adapters/gateway/irc_link.hpp"

#include <doctest/doctest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "unit/fakes/run_until.hpp"

using namespace parley;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using adapters::gateway::IrcLink;
using protocols::tcp;

namespace {

struct Owner : IrcLink::Owner {
  IrcLink* link = nullptr;
  std::string known;                 // the line skip_line knows
  std::vector<std::string> asked;    // skip_line's lines
  std::vector<std::string> handled;  // on_irc_message's last parameters
  std::vector<std::string> as_read;  // current_line() in on_irc_message
  void on_irc_message(const protocols::irc::Message& m) override {
    handled.emplace_back(m.param(m.nparams - 1));
    as_read.emplace_back(link->current_line());
  }
  void on_irc_closed(std::string_view) override {}
  bool skip_line(std::string_view line) override {
    asked.emplace_back(line);
    return line == known;
  }
  std::string hold;  // the line to keep once (take_hold after it)
  bool take_hold() override { return !handled.empty() && handled.back() == std::exchange(hold, {}); }
};

// An IrcLink that counts the bytes it has read (used or kept: on_data's input grows).
struct CountingLink : IrcLink {
  using IrcLink::IrcLink;
  std::size_t read = 0;

 protected:
  std::size_t on_data(std::string_view data) override {
    const std::size_t used = IrcLink::on_data(data);
    read += used;
    return used;
  }
};

// A link to a loopback peer (`server`), started, with `owner`.
struct Linked {
  asio::io_context io;
  protocols::Strand strand = asio::make_strand(io);
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  tcp::socket server{io};
  Owner owner;
  std::shared_ptr<CountingLink> link;

  Linked() {
    acceptor.async_accept(server, [](boost::system::error_code) {});
    std::optional<protocols::ConnectResult> connected;
    protocols::connect(strand, "127.0.0.1", acceptor.local_endpoint().port(), {},
                       [&](protocols::ConnectResult r) { connected = std::move(r); });
    REQUIRE(test::run_until(io, [&] { return connected.has_value() && server.is_open(); }));
    REQUIRE(connected->ok());
    link = std::make_shared<CountingLink>(std::move(*connected->stream), IrcLink::Limits{},
                                          protocols::irc::Fallback::latin1, &owner);
    owner.link = link.get();
    asio::post(strand, [l = link] { l->start(); });
  }
  ~Linked() {
    link->close("done");
    test::run_until(
        io, [] { return false; }, 20ms);
  }
  void write(std::string_view bytes) { asio::write(server, asio::buffer(bytes)); }
};

}  // namespace

TEST_CASE("IrcLink: a line is offered to skip_line as sent, before the latin-1 fallback converts it") {
  Linked l;
  l.owner.known = "PRIVMSG #a :caf\xe9 one";
  l.write("PRIVMSG #a :caf\xe9 one\r\nPRIVMSG #a :caf\xe9 two\r\n");
  REQUIRE(test::run_until(l.io, [&] { return l.owner.asked.size() == 2; }));
  // Both asked about with their bytes as sent; the known one skipped, not parsed.
  CHECK(l.owner.asked == std::vector<std::string>{"PRIVMSG #a :caf\xe9 one", "PRIVMSG #a :caf\xe9 two"});
  // The other converted for its owner, and shown to it as read.
  CHECK(l.owner.handled == std::vector<std::string>{"caf\xc3\xa9 two"});
  CHECK(l.owner.as_read == std::vector<std::string>{"PRIVMSG #a :caf\xe9 two"});
}

TEST_CASE("IrcLink: a long latin-1 line that doubles when converted still reaches its owner") {
  Linked l;
  // 412 bytes as sent (under the 512 of RFC 1459), 812 once each \xe9 is two bytes of UTF-8:
  // parsed with the limit the bytes as sent kept, not dropped as too long.
  const std::string text(400, '\xe9');
  l.write("PRIVMSG #a :" + text + "\r\nPRIVMSG #a :after\r\n");
  REQUIRE(test::run_until(l.io, [&] { return l.owner.handled.size() == 2; }));
  std::string utf8;
  for (int i = 0; i < 400; ++i) utf8 += "\xc3\xa9";
  CHECK(l.owner.handled == std::vector<std::string>{utf8, "after"});
}

TEST_CASE(
    "IrcLink: a line kept for later after an overlong one is fed again without the overlong one's tail") {
  Linked l;
  // An overlong line cut by the reads: its first part is dropped as it comes, and the
  // framer drops what follows up to its LF.
  const std::string head(protocols::irc::kMaxLine + 100, 'a');
  l.write(head);
  REQUIRE(test::run_until(l.io, [&] { return l.link->read == head.size(); }));  // read and dropped
  REQUIRE(l.owner.asked.empty());
  l.owner.hold = "two";
  l.write("PRIVMSG #a :tail\r\nPRIVMSG #a :two\r\n");
  REQUIRE(test::run_until(l.io, [&] { return !l.owner.handled.empty(); }));
  CHECK(l.owner.handled == std::vector<std::string>{"two"});
  asio::post(l.strand, [&] { l.link->redeliver(); });  // what the owner kept, again
  REQUIRE(test::run_until(l.io, [&] { return l.owner.handled.size() >= 2; }));
  test::run_until(
      l.io, [] { return false; }, 50ms);
  CHECK(l.owner.handled == std::vector<std::string>{"two", "two"});  // never "tail"
}

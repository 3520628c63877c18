// The core-event renderers (render_message, render_presence, render_room): stanzas are
// well-formed whatever the event carries, and carry what XEP-0045/0203/0359 ask for.
#include <doctest/doctest.h>

#include <chrono>
#include <pugixml.hpp>
#include <string>
#include <vector>

#include "adapters/xmpp/render_message.hpp"
#include "adapters/xmpp/render_presence.hpp"
#include "adapters/xmpp/render_room.hpp"

using namespace parley::adapters::xmpp;
namespace core = parley::core;

namespace {

const Domains kD{"localhost", "conference.localhost"};

// Parses one rendered stanza; fails the test when it is not well-formed XML.
pugi::xml_node parse(pugi::xml_document& doc, const std::string& xml) {
  auto r = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default | pugi::parse_ws_pcdata);
  INFO(xml);
  REQUIRE(r);
  return doc.document_element();
}

core::Message direct(std::string body) {
  core::Message m;
  m.id = "id1";
  m.from = core::Address::user("bob", "pc");
  m.to = core::Address::user("alice", "phone");
  m.body = std::move(body);
  return m;
}

std::vector<std::string> status_codes(pugi::xml_node presence) {
  std::vector<std::string> out;
  for (auto s : presence.child("x").children("status")) out.push_back(s.attribute("code").value());
  return out;
}

core::Member member(const std::string& user, const std::string& nick, core::SessionId sid = 1) {
  core::Member m;
  m.session = sid;
  m.user = core::Address::user(user);
  m.nick = nick;
  return m;
}

}  // namespace

TEST_CASE("render message: markup in the text never becomes markup") {
  const std::string hostile = "<b>x</b> & <![CDATA[ ]]> </body><body>y</body>";
  core::Message m = direct(hostile);
  m.subject = "a<b>&c";
  m.thread = "t]]>";
  std::string out;
  render_message(kD, m, "alice@localhost/phone", "alice@localhost", false, out);
  CHECK(out.find("<b>") == std::string::npos);
  CHECK(out.find("]]>") == std::string::npos);
  pugi::xml_document doc;
  auto msg = parse(doc, out);
  CHECK(std::string(msg.child("body").text().get()) == hostile);
  CHECK(std::string(msg.child("subject").text().get()) == "a<b>&c");
  CHECK(std::string(msg.child("thread").text().get()) == "t]]>");
  CHECK(std::distance(msg.children("body").begin(), msg.children("body").end()) == 1);
}

TEST_CASE("render message: control characters XML 1.0 forbids are dropped, invalid UTF-8 replaced") {
  // IRC formatting codes (bold \x02, colour \x03, reset \x0f), NUL, and a stray byte.
  std::string body = std::string(
                         "a\x02"
                         "b\x03"
                         "4c\x0f") +
                     std::string(1, '\0') +
                     "d\xff"
                     "e\tf\ng";
  std::string out;
  render_message(kD, direct(body), "alice@localhost/phone", "alice@localhost", false, out);
  for (unsigned char ch : out) {
    if (ch < 0x20) CHECK((ch == '\t' || ch == '\n'));
  }
  pugi::xml_document doc;
  auto msg = parse(doc, out);
  CHECK(std::string(msg.child("body").text().get()) ==
        "ab4cd\xEF\xBF\xBD"
        "e\tf\ng");
}

TEST_CASE("render message: the 'to' value is escaped and its offset splits the stanza") {
  core::Message m = direct("hi");
  std::string out;
  std::size_t at = render_message(kD, m, "", "alice@localhost", false, out);
  std::string with;
  render_message(kD, m, "a'b<c@localhost", "alice@localhost", false, with);
  CHECK(with == out.substr(0, at) + "a&apos;b&lt;c@localhost" + out.substr(at));
  pugi::xml_document doc;
  CHECK(std::string(parse(doc, with).attribute("to").value()) == "a'b<c@localhost");
}

TEST_CASE("render message: delay stamp, stanza-id and origin-id") {
  core::Message m = direct("hi");
  m.origin_id = "client-1";
  m.timestamp = core::Timestamp{std::chrono::seconds(1700000000)};
  std::string out;
  render_message(kD, m, "alice@localhost/phone", "alice@localhost", true, out);
  pugi::xml_document doc;
  auto msg = parse(doc, out);
  CHECK(std::string(msg.attribute("id").value()) == "client-1");  // the sender's id
  auto delay = msg.child("delay");
  CHECK(std::string(delay.attribute("xmlns").value()) == "urn:xmpp:delay");
  CHECK(std::string(delay.attribute("stamp").value()) == "2023-11-14T22:13:20.000Z");
  CHECK(std::string(delay.attribute("from").value()) == "localhost");
  auto sid = msg.child("stanza-id");
  CHECK(std::string(sid.attribute("id").value()) == "id1");
  CHECK(std::string(sid.attribute("by").value()) == "alice@localhost");
  CHECK(std::string(msg.child("origin-id").attribute("id").value()) == "client-1");

  std::string plain;
  render_message(kD, m, "alice@localhost/phone", "alice@localhost", false, plain);
  CHECK(plain.find("<delay") == std::string::npos);
}

TEST_CASE("render message: delayed() only for stored messages older than a moment") {
  core::Message m = direct("hi");
  CHECK_FALSE(delayed(m));  // no timestamp
  m.timestamp = core::Clock::now();
  CHECK_FALSE(delayed(m));
  m.timestamp = core::Clock::now() - std::chrono::minutes(1);
  CHECK(delayed(m));
}

TEST_CASE("render message: room message from the occupant, stamped by the room, /me actions") {
  core::Message m;
  m.id = "r1";
  m.to = core::Address::room("dev");
  m.kind = core::MessageKind::action;
  m.nick = "bo<b";
  m.body = "waves";
  std::string out;
  render_message(kD, m, "alice@localhost/phone", "alice@localhost", false, out);
  pugi::xml_document doc;
  auto msg = parse(doc, out);
  CHECK(std::string(msg.attribute("from").value()) == "dev@conference.localhost/bo<b");
  CHECK(std::string(msg.attribute("type").value()) == "groupchat");
  CHECK(std::string(msg.child("body").text().get()) == "/me waves");
  CHECK(std::string(msg.child("stanza-id").attribute("by").value()) == "dev@conference.localhost");
}

TEST_CASE("render presence: show, status and priority, unavailable keeps only the status") {
  core::PresenceUpdate p;
  p.from = core::Address::user("bob", "pc");
  p.tuple.availability = core::Availability::dnd;
  p.tuple.note = "busy <really>";
  p.tuple.priority = 5;
  pugi::xml_document doc;
  auto pr = parse(doc, render_presence(kD, p, "alice@localhost/phone"));
  CHECK(std::string(pr.attribute("from").value()) == "bob@localhost/pc");
  CHECK(std::string(pr.child("show").text().get()) == "dnd");
  CHECK(std::string(pr.child("status").text().get()) == "busy <really>");
  CHECK(std::string(pr.child("priority").text().get()) == "5");
  p.tuple.basic = core::Basic::closed;
  pugi::xml_document doc2;
  auto gone = parse(doc2, render_presence(kD, p, "alice@localhost/phone"));
  CHECK(std::string(gone.attribute("type").value()) == "unavailable");
  CHECK_FALSE(gone.child("show"));
  CHECK_FALSE(gone.child("priority"));
}

TEST_CASE("render presence: subscription and roster push") {
  core::SubscriptionEvent s;
  s.from = core::Address::user("bob", "pc");
  s.action = core::SubscriptionAction::subscribed;
  CHECK(render_subscription(kD, s, "alice@localhost") ==
        "<presence from='bob@localhost' to='alice@localhost' type='subscribed'/>");
  core::RosterItem item;
  item.contact = core::Address::user("bob");
  item.name = "Bob & co";
  item.to = core::SubscriptionState::active;
  item.from = core::SubscriptionState::pending;
  item.groups = {"<friends>"};
  pugi::xml_document doc;
  auto iq = parse(doc, render_roster_push(kD, item, false, "alice@localhost/phone", "push1"));
  CHECK(std::string(iq.attribute("id").value()) == "push1");
  auto it = iq.child("query").child("item");
  CHECK(std::string(it.attribute("subscription").value()) == "to");
  CHECK(std::string(it.attribute("name").value()) == "Bob & co");
  CHECK(std::string(it.child("group").text().get()) == "<friends>");
  CHECK(render_roster_item(kD, item, true) == "<item jid='bob@localhost' subscription='remove'/>");
}

TEST_CASE("render room: self join carries 100 and 110, and 201 when it created the room") {
  core::Room room;
  room.name = "dev";
  core::Member me = member("alice", "al");
  room.members[1] = me;
  pugi::xml_document doc;
  auto pr = parse(doc, render_room_join(kD, room, me, "alice@localhost/phone", true));
  CHECK(status_codes(pr) == std::vector<std::string>{"100", "110", "201"});
  CHECK(std::string(pr.child("x").child("item").attribute("role").value()) == "participant");
  CHECK(std::string(pr.child("x").child("item").attribute("jid").value()) == "alice@localhost");
  room.persistent = true;
  pugi::xml_document doc2;
  CHECK(status_codes(parse(doc2, render_room_join(kD, room, me, "alice@localhost/phone", true))) ==
        std::vector<std::string>{"100", "110"});
  pugi::xml_document doc3;
  CHECK(status_codes(parse(doc3, render_room_join(kD, room, me, "bob@localhost/pc", false))).empty());
}

TEST_CASE("render room: kick 307, ban 301 and outcast, part message as status") {
  core::Room room;
  room.name = "dev";
  core::Member m = member("bob", "bob");
  core::LeaveReason kick{core::LeaveReason::Kind::kick, "op", "spam <b>"};
  pugi::xml_document d1;
  auto k = parse(d1, render_room_leave(kD, room, m, kick, "bob@localhost/pc", true));
  CHECK(std::string(k.attribute("type").value()) == "unavailable");
  CHECK(status_codes(k) == std::vector<std::string>{"307", "110"});
  CHECK(std::string(k.child("x").child("item").child("reason").text().get()) == "spam <b>");
  CHECK(std::string(k.child("x").child("item").child("actor").attribute("nick").value()) == "op");
  CHECK(std::string(k.child("x").child("item").attribute("role").value()) == "none");

  core::LeaveReason ban{core::LeaveReason::Kind::ban, "op", ""};
  pugi::xml_document d2;
  auto b = parse(d2, render_room_leave(kD, room, m, ban, "alice@localhost/phone", false));
  CHECK(status_codes(b) == std::vector<std::string>{"301"});
  CHECK(std::string(b.child("x").child("item").attribute("affiliation").value()) == "outcast");

  core::LeaveReason part{core::LeaveReason::Kind::part, "", "bye </presence>"};
  pugi::xml_document d3;
  auto p = parse(d3, render_room_leave(kD, room, m, part, "alice@localhost/phone", false));
  CHECK(status_codes(p).empty());
  CHECK(std::string(p.child("status").text().get()) == "bye </presence>");
}

TEST_CASE("render room: nick change is 303 with the new nick, then the new occupant") {
  core::Room room;
  room.name = "dev";
  auto [gone, back] = render_room_nick(kD, room, member("bob", "bob"), "rob", "bob@localhost/pc", true);
  pugi::xml_document d1, d2;
  auto g = parse(d1, gone);
  auto n = parse(d2, back);
  CHECK(std::string(g.attribute("from").value()) == "dev@conference.localhost/bob");
  CHECK(std::string(g.attribute("type").value()) == "unavailable");
  CHECK(std::string(g.child("x").child("item").attribute("nick").value()) == "rob");
  CHECK(status_codes(g) == std::vector<std::string>{"303", "110"});
  CHECK(std::string(n.attribute("from").value()) == "dev@conference.localhost/rob");
  CHECK_FALSE(n.attribute("type"));
  CHECK(status_codes(n) == std::vector<std::string>{"110"});
}

TEST_CASE("render room: topic, configuration change 104 and invitation") {
  core::Room room;
  room.name = "dev";
  core::Topic t{"new <topic>", "op", {}};
  CHECK(render_room_topic(kD, room, t, "a@localhost/r", "i1") ==
        "<message from='dev@conference.localhost/op' to='a@localhost/r' type='groupchat' id='i1'>"
        "<subject>new &lt;topic&gt;</subject></message>");
  t.set_by.clear();
  CHECK(render_room_topic(kD, room, t, "a@localhost/r", "i1").find("from='dev@conference.localhost' ") !=
        std::string::npos);
  CHECK(render_room_config_changed(kD, room, "a@localhost/r", "i2") ==
        "<message from='dev@conference.localhost' to='a@localhost/r' type='groupchat' id='i2'>"
        "<x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x></message>");
  CHECK(render_room_invite(kD, "dev", core::Address::user("bob"), "a@localhost/r") ==
        "<message from='dev@conference.localhost' to='a@localhost/r'>"
        "<x xmlns='http://jabber.org/protocol/muc#user'><invite from='bob@localhost'/></x></message>");
}

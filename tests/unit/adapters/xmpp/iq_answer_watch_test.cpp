// adapters/xmpp/iq_answer_watch.hpp: the component's firewall answers an iq that threw only
// if the gateway had not answered it already (RFC 6120 §8.2.3), judged from the stanzas the
// gateway rendered meanwhile.
#include "adapters/xmpp/iq_answer_watch.hpp"

#include <doctest/doctest.h>

#include "adapters/gateway/render.hpp"

using parley::adapters::xmpp::IqAnswerWatch;
namespace gw = parley::adapters::gateway;

TEST_CASE("IqAnswerWatch: a result or error to the sender with the request's id is its answer") {
  IqAnswerWatch w;
  CHECK_FALSE(w.watching());
  w.watch("u@example.org/r", "q1");
  CHECK(w.watching());
  CHECK_FALSE(w.answered());
  w.sent(gw::render_iq_result("irc.example.org", "u@example.org/r", "q1"));
  CHECK(w.answered());

  w.watch("u@example.org/r", "q2");  // a new request: not answered yet
  CHECK_FALSE(w.answered());
  w.sent(gw::render_error("iq", "irc.example.org", "u@example.org/r", "q2", "cancel", "item-not-found", {}));
  CHECK(w.answered());
  w.end();
  CHECK_FALSE(w.watching());
}

TEST_CASE("IqAnswerWatch: other stanzas on the way are not the answer") {
  IqAnswerWatch w;
  w.watch("u@example.org/r", "q1");
  // a MAM page's messages, to the sender, before the result
  w.sent(
      "<message from='#c%irc@gw' to='u@example.org/r' id='q1'><result xmlns='urn:xmpp:mam:2' "
      "queryid='q1' id='1'/></message>");
  // the answer to another request of the same sender, and to another user's of the same id
  w.sent(gw::render_iq_result("gw", "u@example.org/r", "q10"));
  w.sent(gw::render_iq_result("gw", "u@example.org/other", "q1"));
  w.sent(gw::render_iq_result("gw", "v@example.org/r", "q1"));
  // an iq request of ours with that id (type get), and a result whose id is only in its payload
  w.sent("<iq type='get' from='gw' to='u@example.org/r' id='q1'><ping xmlns='urn:xmpp:ping'/></iq>");
  w.sent("<iq type='result' from='gw' to='u@example.org/r' id='x'><q id='q1'/></iq>");
  CHECK_FALSE(w.answered());
  // after end(), nothing is watched
  w.end();
  w.sent(gw::render_iq_result("gw", "u@example.org/r", "q1"));
  CHECK_FALSE(w.answered());
}

TEST_CASE("IqAnswerWatch: ids and JIDs are compared as rendered, escaped") {
  IqAnswerWatch w;
  w.watch("u@example.org/r'\"<&>", "a'b<c>&d");
  w.sent(gw::render_iq_result("gw", "u@example.org/r'\"<&>", "a'b<c>"));  // a prefix of the id
  CHECK_FALSE(w.answered());
  w.sent(gw::render_iq_result("gw", "u@example.org/r'\"<&>", "a'b<c>&d"));
  CHECK(w.answered());
}

TEST_CASE("IqAnswerWatch: a request without an id is answered with id='' or with none") {
  IqAnswerWatch w;
  w.watch("u@example.org/r", "");
  w.sent(gw::render_iq_result("gw", "u@example.org/r", "q1"));  // another request's
  CHECK_FALSE(w.answered());
  w.sent(gw::render_error("iq", "gw", "u@example.org/r", "", "cancel", "bad-request", {}));  // no id at all
  CHECK(w.answered());
  w.watch("u@example.org/r", "");
  w.sent(gw::render_iq_result("gw", "u@example.org/r", ""));  // id=''
  CHECK(w.answered());
}

// protocols/xmpp/stanza_buffer.hpp: a dropped Stanza's byte block is where the framer cuts the
// next stanza (one malloc and free less per stanza), small blocks only, one per thread; never
// under AddressSanitizer, where a view into a dropped stanza must stay a reported error.
#include "protocols/xmpp/stanza_buffer.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/stanza.hpp"

namespace px = parley::protocols::xmpp;

namespace {

constexpr std::string_view kHeader =
    "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:component:accept'>";

// The next stanza of `f` fed `data` (the header first if not seen yet); empty when none.
// (These tests run on threads of their own: no REQUIRE, whose throw would end the process.)
std::vector<char> next(px::StreamFramer& f, std::string_view data) {
  for (;;) {
    const auto step = f.feed(data);
    data.remove_prefix(step.consumed);
    if (step.status == px::StreamFramer::Status::stanza) return f.take_stanza();
    if (step.status == px::StreamFramer::Status::header) f.release_header();
    if (step.status == px::StreamFramer::Status::error ||
        step.status == px::StreamFramer::Status::need_more) {
      FAIL_CHECK("no stanza");
      return {};
    }
  }
}

}  // namespace

TEST_CASE("stanza buffers: one small spare per thread, a big block is freed") {
  // a clean slate on a thread of its own (another test may have left this thread a spare)
  std::thread([] {
    CHECK(px::take_stanza_buffer().capacity() == 0);
    std::vector<char> small(100, 'x');
    const char* block = small.data();
    px::give_stanza_buffer(std::move(small));
    std::vector<char> other(200, 'y');
    px::give_stanza_buffer(std::move(other));  // a spare is kept already: not kept
    CHECK(other.capacity() == 200);            // left to its owner, who frees it
    std::vector<char> got = px::take_stanza_buffer();
    if (px::kStanzaBuffersRecycled) {
      CHECK(got.data() == block);
      CHECK(got.empty());  // cleared: the old bytes are not part of the next stanza
      CHECK(got.capacity() >= 100);
    } else {
      CHECK(got.capacity() == 0);
    }
    CHECK(px::take_stanza_buffer().capacity() == 0);  // taken: none left
    std::vector<char> big(px::kSpareStanzaBytes + 1, 'z');
    px::give_stanza_buffer(std::move(big));
    CHECK(px::take_stanza_buffer().capacity() == 0);
  }).join();
}

TEST_CASE("stanza buffers: the framer cuts the next stanza into the block of the stanza dropped before") {
  std::thread([] {
    px::StreamFramer f;
    const std::string a = std::string(kHeader) + "<message to='a@b' id='1'><body>one</body></message>";
    std::vector<char> bytes = next(f, a);
    const char* block = bytes.data();
    {
      auto s = px::Stanza::parse(std::move(bytes), std::make_shared<const px::StreamNamespaces>());
      CHECK((s && s->attr("id") == "1"));
    }  // dropped: its block is the spare
    const std::vector<char> second = next(f, "<message to='a@b' id='2'><body>two</body></message>");
    CHECK(std::string_view(second.data(), second.size()) ==
          "<message to='a@b' id='2'><body>two</body></message>");
    CHECK((second.data() == block) == px::kStanzaBuffersRecycled);
    // a stanza bigger than the block grows it as before
    const std::string long_body(3000, 'l');
    const std::string third = "<message id='3'><body>" + long_body + "</body></message>";
    std::vector<char> big = next(f, third);
    CHECK(std::string_view(big.data(), big.size()) == third);
    auto s = px::Stanza::parse(std::move(big), std::make_shared<const px::StreamNamespaces>());
    CHECK((s && std::string_view(s->child("body").child_value()) == long_body));
    // A spare of a capacity malloc would not give a short stanza: told apart from a block
    // the allocator happened to hand out again.
    std::vector<char> spare;
    spare.reserve(1000);
    px::give_stanza_buffer(std::move(spare));
    const std::vector<char> fourth = next(f, "<message id='4'/>");
    CHECK(std::string_view(fourth.data(), fourth.size()) == "<message id='4'/>");
    CHECK((fourth.capacity() == 1000) == px::kStanzaBuffersRecycled);
    // A stanza pugixml refuses gives its block back too (Stanza::parse's own Stanza goes).
    std::vector<char> refused;
    refused.reserve(500);
    refused.push_back('x');
    CHECK_FALSE(px::Stanza::parse(std::move(refused), nullptr));
    CHECK((px::take_stanza_buffer().capacity() == 500) == px::kStanzaBuffersRecycled);
  }).join();
}

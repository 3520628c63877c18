#include "protocols/xmpp/stanza_buffer.hpp"

#include <utility>

namespace parley::protocols::xmpp {

namespace {
std::vector<char>& spare() {
  thread_local std::vector<char> buffer;
  return buffer;
}
}  // namespace

std::vector<char> take_stanza_buffer() { return std::exchange(spare(), {}); }

void give_stanza_buffer(std::vector<char>&& b) {
  if (!kStanzaBuffersRecycled || b.capacity() == 0 || b.capacity() > kSpareStanzaBytes ||
      spare().capacity() != 0)
    return;
  b.clear();
  spare() = std::move(b);
}

}  // namespace parley::protocols::xmpp

// Why: libre 1.1.0 (strans.c) keeps every server transaction in two hash tables, by Via
// branch (retransmissions) and by Call-ID (merged requests, RFC 3261 §8.2.2.2), until its
// timer J fires 32 s after the final response on UDP. Every new request without a To tag
// walks the Call-ID bucket comparing CSeq method and number. A UA that reuses its Call-ID
// (a presence publisher's PUBLISHes, REGISTER refreshes) makes that bucket hold every one
// of its requests of the last 32 s: at 1,000 PUBLISH/s each one walked ~30,000 entries
// (perf: list_apply under libre's request handler, 300 µs per PUBLISH).
//
// RFC 3261 §8.2.2.2 asks for the check against *ongoing* transactions; once the TU has sent
// the final response the transaction only absorbs retransmissions, which the branch index
// does. So the transaction leaves the Call-ID index when it is answered: a merged request
// is still refused (482) while its twin waits for the core, and the walk is bounded by the
// requests in flight.
//
// libre has no call for this; its struct sip_strans is private and begins with the two
// list elements (`struct le he, he_mrg`, linked with data == the transaction). That layout
// is checked before anything is touched, and nothing is done when it does not hold.
#include "adapters/sip/libre_strans.hpp"

#include <re.h>

namespace parley::adapters::sip {

bool strans_leave_merge_index(sip_strans* st) {
  if (!st) return false;
  auto* le = reinterpret_cast<struct le*>(st);
  // he (by branch) and he_mrg (by Call-ID): both linked, both pointing back at st.
  if (le[0].data != st || !le[0].list || le[1].data != st || !le[1].list) return false;
  hash_unlink(&le[1]);  // libre's destructor unlinks it again: a no-op once unlinked
  return true;
}

}  // namespace parley::adapters::sip

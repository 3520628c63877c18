#pragma once
// The block a stanza's bytes are cut into, recycled per thread.
//
// The framer cuts each top-level element into a std::vector<char> (StreamFramer::take_stanza),
// Stanza::parse parses it in place, and the stanza is dropped once handled: a malloc and a
// free per stanza, each time of a block the cache has not seen. Here the Stanza gives its
// block back when it goes (~Stanza) and the framer starts its next stanza in it. One spare
// per thread (a stream's stanzas are handled one at a time); a block above kSpareStanzaBytes
// (a big stanza's) is freed, not kept.
#include <cstddef>
#include <vector>

namespace parley::protocols::xmpp {

inline constexpr std::size_t kSpareStanzaBytes = 4096;
// Not under AddressSanitizer: a view kept into a dropped stanza's bytes must stay a
// use-after-free it reports, not a read of the next stanza's.
// (GCC defines __SANITIZE_ADDRESS__; clang, which builds the libFuzzer targets, tells it
// through __has_feature.)
#if defined(__SANITIZE_ADDRESS__)
#define PARLEY_STANZA_BUFFERS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PARLEY_STANZA_BUFFERS_ASAN 1
#endif
#endif
#ifdef PARLEY_STANZA_BUFFERS_ASAN
inline constexpr bool kStanzaBuffersRecycled = false;
#else
inline constexpr bool kStanzaBuffersRecycled = true;
#endif

// This thread's spare, empty (no capacity when there is none).
std::vector<char> take_stanza_buffer();
// Keeps `b` as this thread's spare if there is none and it is small enough, else frees it.
void give_stanza_buffer(std::vector<char>&& b);

}  // namespace parley::protocols::xmpp

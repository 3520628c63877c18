// Micro-benchmark of the XMPP inbound parse path as the IRC gateway's component sees it:
// groupchat stanzas of ~170 bytes arriving on a XEP-0114 stream go through StreamFramer,
// Stanza::parse (pugixml; the namespace check only if a name has a prefix other than xml:),
// valid_jid of `from` and parse_jid of `to` ("old": parse_jid of both). Prints
// ns/stanza and heap allocations/stanza for the current code ("new") and for the
// pre-session-23 code kept under tests/unit/protocols/xmpp/reference ("old"), alternating
// in the same run so machine load hits both alike. Two feeding patterns: one stanza per
// read (a quiet room: the framer goes idle after each) and 32 stanzas per read (a busy one).
// Every case is bounded in stanzas and time; the whole program runs for a few seconds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/alloc_count.hpp"
#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/jid.hpp"
#include "protocols/xmpp/stanza.hpp"
#include "tests/unit/protocols/xmpp/reference/framer_ref.hpp"
#include "tests/unit/protocols/xmpp/reference/jid_ref.hpp"
#include "tests/unit/protocols/xmpp/reference/stanza_ref.hpp"

namespace px = parley::protocols::xmpp;

namespace {

constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
    "xmlns='jabber:component:accept' from='irc.localhost' id='a1b2c3d4'>";

// What Prosody forwards to the component for a groupchat line (~170 bytes; Prosody 0.12
// keeps the client's xml:lang).
std::string stanza(std::size_t n) {
  return "<message type='groupchat' xml:lang='en' to='#parley%irc.libera.chat@irc.localhost' id='m" +
         std::to_string(100000 + n) + "' from='alice@localhost/laptop'><body>hello from xmpp, line " +
         std::to_string(100000 + n) + " &amp; more</body></message>";
}

std::size_t g_sink = 0;  // keeps results observable

template <class Framer, class Handle>
std::size_t drain(Framer& f, std::string_view piece, Handle&& handle) {
  std::size_t stanzas = 0;
  for (;;) {
    auto step = f.feed(piece);
    if (step.status == Framer::Status::error) std::abort();
    if (step.status == Framer::Status::stanza) {
      handle(f.take_stanza());
      ++stanzas;
    }
    if (step.status == Framer::Status::header) f.release_header();
    piece.remove_prefix(step.consumed);
    if (step.status == Framer::Status::need_more) return stanzas;
  }
}

struct Result {
  double ns_per_stanza;
  double allocs_per_stanza;
};

// Runs the stream `reads` (each string is one read) through path `P` for ~budget.
template <class P>
Result run(const std::vector<std::string>& reads, std::size_t per_read, std::chrono::milliseconds budget) {
  using clock = std::chrono::steady_clock;
  P p;
  p.feed(std::string(kHeader));
  for (std::size_t i = 0; i < 64 && i < reads.size(); ++i) p.feed(reads[i]);  // warm up
  std::size_t stanzas = 0;
  std::size_t allocs0 = parley::bench::allocations();
  auto start = clock::now(), now = start;
  constexpr std::size_t kMaxStanzas = 20'000'000;
  while (now - start < budget && stanzas < kMaxStanzas) {
    for (const auto& r : reads) stanzas += p.feed(r);
    now = clock::now();
  }
  std::size_t allocs = parley::bench::allocations() - allocs0;
  double ns = std::chrono::duration<double, std::nano>(now - start).count();
  (void)per_read;
  return {ns / static_cast<double>(stanzas), static_cast<double>(allocs) / static_cast<double>(stanzas)};
}

struct NewPath {
  px::StreamFramer f;
  std::shared_ptr<const px::StreamNamespaces> ns = std::make_shared<const px::StreamNamespaces>();
  std::size_t feed(std::string_view piece) {
    return drain(f, piece, [&](std::vector<char> bytes) {
      // As the component stream does: the framer's verdict on prefixes, 'from' only checked.
      auto st = px::Stanza::parse(std::move(bytes), ns, f.stanza_prefixed());
      if (!st) std::abort();
      const bool from = px::valid_jid(st->attr("from"));
      auto to = px::parse_jid(st->attr("to"));
      if (!from || !to) std::abort();
      g_sink += to->local.size() + st->child("body").text().get()[0];
    });
  }
};

struct OldPath {
  px::ref::RefStreamFramer f;
  px::StreamNamespaces ns;
  std::size_t feed(std::string_view piece) {
    return drain(f, piece, [&](std::vector<char> bytes) {
      auto doc = px::ref::parse_stanza(bytes, ns);
      if (!doc) std::abort();
      auto root = doc->document_element();
      auto from = px::ref::parse_jid(px::attr(root, "from"));
      auto to = px::ref::parse_jid(px::attr(root, "to"));
      if (!from || !to) std::abort();
      g_sink += from->local.size() + to->local.size() + px::child(root, "body", {}, ns).text().get()[0];
    });
  }
};

// The framer alone (the stanza bytes are taken and dropped).
template <class Framer>
struct FramerOnly {
  Framer f;
  std::size_t feed(std::string_view piece) {
    return drain(f, piece, [&](std::vector<char> bytes) { g_sink += bytes.size(); });
  }
};

// Stanza::parse alone (the framer in front is the current one for both).
template <bool New>
struct ParseOnly {
  px::StreamFramer f;
  std::shared_ptr<const px::StreamNamespaces> ns = std::make_shared<const px::StreamNamespaces>();
  std::size_t feed(std::string_view piece) {
    return drain(f, piece, [&](std::vector<char> bytes) {
      if constexpr (New) {
        auto st = px::Stanza::parse(std::move(bytes), ns, f.stanza_prefixed());
        g_sink += st->size();
      } else {
        auto doc = px::ref::parse_stanza(bytes, *ns);
        g_sink += doc ? 1 : 0;
      }
    });
  }
};

// parse_jid alone, on the two JIDs of each stanza.
template <bool New>
struct JidOnly {
  std::size_t n = 0;
  std::size_t feed(std::string_view piece) {
    if (piece.starts_with("<?xml")) return 0;
    const std::string id = "alice@localhost/laptop", to = "#parley%irc.libera.chat@irc.localhost";
    auto a = New ? px::parse_jid(id) : px::ref::parse_jid(id);
    auto b = New ? px::parse_jid(to) : px::ref::parse_jid(to);
    g_sink += a->local.size() + b->local.size();
    return 1;
  }
};

std::vector<std::string> make_reads(std::size_t per_read, std::size_t total) {
  std::vector<std::string> reads;
  std::string cur;
  for (std::size_t i = 0; i < total; ++i) {
    cur += stanza(i);
    if ((i + 1) % per_read == 0) reads.push_back(std::move(cur)), cur.clear();
  }
  if (!cur.empty()) reads.push_back(std::move(cur));
  return reads;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  rounds = std::clamp(rounds, 1, 50);
  std::printf("stanza bytes: %zu (e.g. %s)\n", stanza(0).size(), stanza(0).c_str());
  auto compare = [&]<class Old, class New>(const char* what, const std::vector<std::string>& reads) {
    std::vector<double> o, n;
    for (int r = 0; r < rounds; ++r) {
      o.push_back(run<Old>(reads, 1, std::chrono::milliseconds(200)).ns_per_stanza);
      n.push_back(run<New>(reads, 1, std::chrono::milliseconds(200)).ns_per_stanza);
    }
    std::sort(o.begin(), o.end());
    std::sort(n.begin(), n.end());
    std::printf("  %-28s old %7.0f ns | new %7.0f ns | new/old %.2f\n", what, o[o.size() / 2],
                n[n.size() / 2], n[n.size() / 2] / o[o.size() / 2]);
  };
  for (std::size_t per_read : {std::size_t{1}, std::size_t{32}}) {
    auto reads = make_reads(per_read, 1024);
    std::vector<double> o, n;
    double oa = 0, na = 0;
    for (int r = 0; r < rounds; ++r) {
      auto ro = run<OldPath>(reads, per_read, std::chrono::milliseconds(300));
      auto rn = run<NewPath>(reads, per_read, std::chrono::milliseconds(300));
      o.push_back(ro.ns_per_stanza), n.push_back(rn.ns_per_stanza);
      oa = ro.allocs_per_stanza, na = rn.allocs_per_stanza;
    }
    std::sort(o.begin(), o.end());
    std::sort(n.begin(), n.end());
    std::printf(
        "%2zu stanza(s)/read: old %7.0f ns/stanza (min %6.0f) %5.1f allocs | new %7.0f ns/stanza (min %6.0f) "
        "%5.1f allocs | new/old %.2f\n",
        per_read, o[o.size() / 2], o.front(), oa, n[n.size() / 2], n.front(), na,
        n[n.size() / 2] / o[o.size() / 2]);
  }
  std::printf("parts (medians, per stanza, one stanza per read):\n");
  auto reads = make_reads(1, 1024);
  compare.operator()<FramerOnly<px::ref::RefStreamFramer>, FramerOnly<px::StreamFramer>>("StreamFramer::feed",
                                                                                         reads);
  compare.operator()<ParseOnly<false>, ParseOnly<true>>("framer + Stanza::parse", reads);
  compare.operator()<JidOnly<false>, JidOnly<true>>("parse_jid x2", reads);
  return g_sink == 42 ? 1 : 0;
}

// Micro-benchmark of the PSYC codec (protocols/psyc): parse and render throughput on a
// mix of typical packets (private messages, presence, a context message with routing
// modifiers, a binary value, an explicit content length), in MB/s and packets/s, plus
// heap allocations per packet (global operator new is counted below).
//
// Parse cases: the whole stream in one buffer (a pipelined burst), and the stream fed in
// chunks the way a circuit gets it from its socket (the unparsed tail stays in the
// receive buffer, the next read appends to it). Render: the parsed packets back to bytes
// into one reused string. Every run first checks that parse -> render gives the stream
// back byte for byte. Each case runs about half a second: `bench_psyc_codec [seconds]`.
//
// Rates are per second of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), i.e. what one
// core does, so that other load on the machine does not count against the codec; the
// wall-clock rate is printed next to it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "bench/alloc_count.hpp"
#include "protocols/psyc/parser.hpp"
#include "protocols/psyc/render.hpp"

using namespace parley::protocols::psyc;

namespace {

using Clock = std::chrono::steady_clock;

// What a circuit and a peer link carry most: the packets the adapter itself renders.
std::vector<std::string> typical_packets() {
  std::string blob;
  for (int i = 0; i < 96; ++i) blob += static_cast<char>((i * 37 + 11) & 0xff);  // any bytes, LF included
  return {
      // A private message between two people.
      ":_source\tpsyc://example.org/~alice\n:_target\tpsyc://example.net/~bob\n\n"
      "_message_private\nAre you coming to the meeting this afternoon?\n|\n",
      // Presence with a degree and a description.
      ":_source\tpsyc://example.org/~alice\n:_target\tpsyc://example.net/~bob\n\n"
      ":_degree_availability\t6\n:_description_presence\tat my desk\n_notice_presence_here\n|\n",
      // A room message as a context master multicasts it (routing modifiers, a counter).
      ":_context\tpsyc://example.org/@dev\n:_source_relay\tpsyc://example.org/~alice\n:_counter\t18242\n\n"
      ":_nick\talice\n_message_public\nthe build is green again, merging the codec branch now\n|\n",
      // A short action in the same context.
      ":_context\tpsyc://example.org/@dev\n:_source_relay\tpsyc://example.net/~bob\n\n"
      ":_nick\tbob\n_message_action\nwaves\n|\n",
      // A binary value (length-prefixed, may hold LF) and an explicit content length.
      ":_source\tpsyc://example.org/~alice\n:_target\tpsyc://example.net/~bob\n" +
          std::to_string(std::string(":_data_avatar 96\t").size() + blob.size() + 1 + 19) +
          "\n:_data_avatar 96\t" + blob + "\n_notice_avatar_set\n|\n",
      // Membership as context state (a list value).
      ":_context\tpsyc://example.org/@dev\n\n+_list_members\t|psyc://example.net/~carol\n"
      "_notice_context_enter\n|\n",
  };
}

struct Stream {
  std::string bytes;
  std::size_t packets = 0;
};

Stream make_stream(std::size_t target_bytes) {
  Stream s;
  auto pk = typical_packets();
  while (s.bytes.size() < target_bytes)
    for (const auto& p : pk) {
      s.bytes += p;
      ++s.packets;
    }
  return s;
}

struct Result {
  double mb_per_s, packets_per_s, allocs_per_packet, wall_mb_per_s;
};

void print(const char* name, const Result& r) {
  std::printf("%-24s %8.1f MB/s %11.0f packets/s %6.3f allocs/packet  (wall %6.1f MB/s)\n", name, r.mb_per_s,
              r.packets_per_s, r.allocs_per_packet, r.wall_mb_per_s);
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs `one_pass` (which handles the whole stream once) until `budget` has passed.
template <class F>
Result run(const Stream& s, double budget, F&& one_pass) {
  one_pass();  // warm up: buffers reach their working size
  std::size_t allocs_before = parley::bench::allocations();
  std::size_t passes = 0;
  const auto wall_start = Clock::now();
  const double start = cpu_seconds();
  double now = start;
  while (now - start < budget && passes < 1'000'000) {
    one_pass();
    ++passes;
    now = cpu_seconds();
  }
  double secs = now - start;
  double wall = std::chrono::duration<double>(Clock::now() - wall_start).count();
  double bytes = static_cast<double>(s.bytes.size()) * static_cast<double>(passes);
  double packets = static_cast<double>(s.packets) * static_cast<double>(passes);
  return {bytes / secs / 1e6, packets / secs,
          static_cast<double>(parley::bench::allocations() - allocs_before) / packets, bytes / wall / 1e6};
}

std::size_t g_sink = 0;  // keeps the work observable

// The whole stream in one buffer, parsed packet after packet (as on_data does).
std::size_t parse_whole(Parser& p, std::string_view in) {
  std::size_t used = 0, n = 0;
  while (used < in.size()) {
    if (p.parse(in.substr(used)) != Status::done) std::abort();
    used += p.consumed();
    g_sink += p.packet().method.size();
    ++n;
  }
  return n;
}

// The stream as reads of `chunk` bytes into a receive buffer: each read appends, the
// complete packets are parsed, the consumed prefix is dropped (the tail stays).
std::size_t parse_chunked(Parser& p, std::string_view in, std::size_t chunk, std::string& rx) {
  std::size_t n = 0;
  rx.clear();
  for (std::size_t off = 0; off < in.size(); off += chunk) {
    rx.append(in.substr(off, chunk));
    std::string_view data = rx;
    std::size_t used = 0;
    while (used < data.size()) {
      auto st = p.parse(data.substr(used));
      if (st == Status::need_more) break;
      if (st != Status::done) std::abort();
      used += p.consumed();
      g_sink += p.packet().method.size();
      ++n;
    }
    rx.erase(0, used);
  }
  if (!rx.empty()) std::abort();
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  double budget = argc > 1 ? std::atof(argv[1]) : 0.5;
  if (budget <= 0 || budget > 30) budget = 0.5;
  const Stream s = make_stream(1 << 20);  // 1 MiB: bigger than L2, like a burst in a socket buffer
  Parser parser;

  // Round trip first: every packet renders back to its exact bytes.
  {
    std::string out;
    std::string_view in = s.bytes;
    std::size_t used = 0;
    while (used < in.size()) {
      if (parser.parse(in.substr(used)) != Status::done) {
        std::fprintf(stderr, "parse failed at %zu: %s\n", used, parser.error().c_str());
        return 1;
      }
      used += parser.consumed();
      render(parser.packet(), out);
    }
    if (out != s.bytes) {
      std::fprintf(stderr, "round trip differs\n");
      return 1;
    }
  }

  auto pk = typical_packets();
  std::size_t sum = 0;
  for (const auto& p : pk) sum += p.size();
  std::printf(
      "PSYC codec: %zu packet kinds, %.0f bytes average; stream %zu bytes, %zu packets; %.2f s per case\n",
      pk.size(), static_cast<double>(sum) / static_cast<double>(pk.size()), s.bytes.size(), s.packets,
      budget);

  print("parse whole buffer", run(s, budget, [&] { parse_whole(parser, s.bytes); }));
  std::string rx;
  for (std::size_t chunk : {1460u, 16384u, 65536u}) {
    char name[64];
    std::snprintf(name, sizeof name, "parse chunked %zu B", chunk);
    print(name, run(s, budget, [&] { parse_chunked(parser, s.bytes, chunk, rx); }));
  }

  // Render: the parsed packets (views into the stream) back into one reused buffer.
  std::vector<Packet> packets;
  {
    std::string_view in = s.bytes;
    std::size_t used = 0;
    while (used < in.size()) {
      parser.parse(in.substr(used));
      used += parser.consumed();
      packets.push_back(parser.packet());
    }
  }
  std::string out;
  out.reserve(s.bytes.size());
  print("render", run(s, budget, [&] {
          out.clear();
          for (const auto& p : packets) render(p, out);
          g_sink += out.size();
        }));
  std::printf("RESULT sink=%zu\n", g_sink % 10);
  return 0;
}

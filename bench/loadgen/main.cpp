// parley_loadgen: drives any IRC or XMPP server on loopback and reports throughput,
// latency percentiles, server CPU per delivered line/stanza and memory per connection.
#include <cstring>

#include "run.hpp"

namespace {

constexpr const char* kUsage = R"(usage: parley_loadgen SUBCOMMAND [--option value]...

Common options: --host 127.0.0.1 (loopback only)  --port P  --server-pid PID (CPU/RSS
from /proc)  --setup-timeout 120 (seconds for connecting/logging in; every run also has
a hard deadline and exits 2 on any protocol failure or when it passes).

IRC
  irc-fanout   --members M --rate R --seconds S [--senders K] [--window W] [--drain 10]
               [--channel #bench] [--oper NAME:PASSWORD]
               M+K clients join one channel; the K senders send PRIVMSGs at R lines/s in total
               (R=0: as fast as possible with at most W lines per member in flight); each line
               reaches M+K-1 members. Reports delivered lines/s, p50/p99/max latency, lost
               lines, server CPU µs per delivered line and server CPU utilisation. --oper: the
               senders OPER up and set user mode +F first (flood exemptions).
  irc-register --count N [--concurrency 20]   registrations/s (NICK/USER until 001, then QUIT)
  irc-idle     --count N --seconds S          holds N registered idle connections; server
               RSS delta / N (prints READY N once all are connected)
  (all IRC commands: [--pass PW] [--nick-prefix P] [--concurrency C])

XMPP (c2s: STARTTLS accepting any certificate, SASL PLAIN, bind, initial presence)
  common: --domain localhost --password pw --user-prefix u (accounts PREFIX0..PREFIXn-1)
  xmpp-register --count N            creates accounts by in-band registration (XEP-0077)
  xmpp-one2one  --pairs P --rate R --seconds S [--window W]   chat messages from uI to
               u(P+I) (full JID); R=0: max throughput with a window; p50/p99, CPU µs/stanza
  xmpp-room     --members M --rate R --seconds S [--room bench --muc conference.DOMAIN]
               M+1 occupants of one MUC room, one sends groupchat messages; every occupant's
               copy (the sender's reflection too) counts as a delivered stanza
  xmpp-login    --count N [--concurrency 10]   full logins/s (then </stream:stream>)
  xmpp-idle     --count N --seconds S          holds N authenticated sessions; RSS delta / N
                [--warmup 1]                   (after W warm-up logins, ended before measuring)

Mixed (the honest users of bench/hostile.py)
  chat  --irc-port P --port Q [--irc-users 25 --xmpp-users 25 --rooms 5 --rooms-per-user 2]
        [--rate 1 --seconds 60 --start-delay 5 --drain 10 --dm-every 3]
        [--source-base 127.0.1.1 --nick-prefix hi --user-prefix hx --room-prefix hroom]
        [--irc-caps "message-tags server-time"]
        IRC guests and XMPP accounts (user i connects from source-base + i) join shared
        rooms (#hroomN = hroomN@MUC); each sends R messages/s, every dm-every-th one a direct
        message, the rest to its rooms. Prints READY once everyone is in (then waits
        start-delay), counts every message at every intended recipient: lost, duplicates,
        p50/p90/p99/p99.9 latency (overall and by receiving protocol). A disconnected user
        is reported (DISCONNECT nick reason) and its messages count as lost, not as a failure.
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  std::string cmd = argv[1];
  try {
    loadgen::Options o(argc, argv, 2);
    if (cmd.rfind("irc-", 0) == 0) return loadgen::irc_main(cmd, o);
    if (cmd.rfind("xmpp-", 0) == 0) return loadgen::xmpp_main(cmd, o);
    if (cmd == "chat") return loadgen::chat_main(o);
    throw loadgen::Failure("unknown subcommand '" + cmd + "' (see --help)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parley_loadgen %s: FAILED: %s\n", cmd.c_str(), e.what());
    return 2;
  }
}

"""A real irssi, driven in a private tmux server, registers, joins #dev and speaks; a raw
socket client in the same channel sees it and answers, and irssi's screen shows the answer."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parley_harness as h  # noqa: E402


def tmux(sock, *args, check=True):
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, check=check, timeout=10)


def wait_screen(sock, pattern, timeout=15):
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux(sock, "capture-pane", "-p", "-t", "irssi", check=False).stdout
        if pattern in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"irssi screen never showed {pattern!r}:\n{screen}")


def test_irssi_session():
    if not shutil.which("irssi") or not shutil.which("tmux"):
        print("SKIP: irssi or tmux missing")
        return
    with h.Parleyd(h.config(irc=True)) as d, tempfile.TemporaryDirectory(prefix="irssi-") as home:
        port = d.ports["irc"]
        Path(home, "config").write_text(
            'settings = { core = { real_name = "Irssi Tester"; user_name = "itest"; nick = "irssiuser"; }; '
            '"fe-common/core" = { autocreate_own_query = "no"; }; };\n')
        raw = h.LineClient(port)
        raw.send("NICK rawuser")
        raw.send("USER raw 0 * :Raw")
        raw.expect(r" 001 rawuser ")
        raw.send("JOIN #dev")
        raw.expect(r" 366 rawuser #dev ")
        sock = f"parley-irc-{os.getpid()}"
        env = dict(os.environ, TERM="xterm")
        subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "irssi", "-x", "160", "-y", "40",
                        f"irssi --home={home} -c 127.0.0.1 -p {port} -n irssiuser"], check=True, env=env, timeout=10)
        try:
            wait_screen(sock, "Welcome to the")
            tmux(sock, "send-keys", "-t", "irssi", "/join #dev", "Enter")
            raw.expect(r"^:irssiuser!~?itest@\S+ JOIN #dev$", timeout=15)
            wait_screen(sock, "rawuser")  # the NAMES list shows the raw client
            tmux(sock, "send-keys", "-t", "irssi", "hello from irssi", "Enter")
            raw.expect(r"^:irssiuser!\S+ PRIVMSG #dev :hello from irssi$", timeout=15)
            tmux(sock, "send-keys", "-t", "irssi", "/me waves", "Enter")
            raw.expect(r"PRIVMSG #dev :\x01ACTION waves\x01", timeout=15)
            raw.send("PRIVMSG #dev :hi irssi, raw here")
            wait_screen(sock, "hi irssi, raw here")
            tmux(sock, "send-keys", "-t", "irssi", "/part #dev", "Enter")
            raw.expect(r"^:irssiuser!\S+ PART #dev", timeout=15)
            tmux(sock, "send-keys", "-t", "irssi", "/quit leaving now", "Enter")
            time.sleep(1)
        finally:
            tmux(sock, "kill-server", check=False)
        raw.send("WHOWAS irssiuser")
        raw.expect(r" 314 rawuser irssiuser ", timeout=10)
        raw.close()


if __name__ == "__main__":
    h.run_tests(globals())

"""The Debian package: built with CPack from the build directory of the parleyd under test
(scripts/package.sh does the same from a Release build), then checked without installing:
dpkg-deb --info/--contents (files, conffiles, maintainer scripts, dependencies), the
packaged /etc/parley/parley.yaml passes `parleyd --check-config`, and lintian reports no
error. Then installed for real with `dpkg -i` on this Debian 12 system, seen through an
overlay in a private mount namespace so that the machine itself is left untouched: the
maintainer scripts create the parley user and /var/lib/parley, the installed
`parleyd --check-config /etc/parley/parley.yaml` passes, the installed daemon starts as the
parley user on the packaged config and stops on SIGTERM, and `dpkg --purge` removes it.
Skips when dpkg-deb, cpack or the build's CPackConfig.cmake is missing, or (the install
test) when the overlay cannot be mounted (not root, no unshare).
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import parley_harness as h

BUILD = Path(h.PARLEYD).parent
_deb: Path | None = None
_tmp = tempfile.TemporaryDirectory(prefix="parley-pkg-")


def deb() -> Path:
    """Builds the package once for every test of this script (gzip: faster than xz)."""
    global _deb
    if _deb is not None:
        return _deb
    for tool in ("dpkg-deb", "cpack", "dpkg-shlibdeps"):
        if shutil.which(tool) is None:
            raise h.Skip(f"{tool} not installed")
    if not (BUILD / "CPackConfig.cmake").exists():
        raise h.Skip(f"no CPackConfig.cmake in {BUILD} (parleyd not from a CMake build of this tree)")
    subprocess.run(["cmake", "--build", str(BUILD), "--target", "parley_package_files"], check=True,
                   capture_output=True, timeout=120)
    out = Path(_tmp.name) / "out"
    r = subprocess.run(["cpack", "-G", "DEB", "-B", str(out), "-D", "CPACK_DEBIAN_COMPRESSION_TYPE=gzip"],
                       cwd=BUILD, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    debs = list(out.glob("parley_*_amd64.deb"))
    assert len(debs) == 1, f"{debs}\n{r.stdout}"
    assert re.fullmatch(r"parley_\d+\.\d+\.\d+_amd64\.deb", debs[0].name), debs[0].name
    _deb = debs[0]
    return _deb


def dpkg_deb(*args: str) -> str:
    return subprocess.run(["dpkg-deb", *args], check=True, capture_output=True, text=True, timeout=60).stdout


def test_contents():
    listing = dpkg_deb("--contents", str(deb()))
    files = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    perms = {line.split()[-1].lstrip("."): line.split()[0] for line in listing.splitlines()}
    for f in ("/usr/sbin/parleyd", "/etc/parley/parley.yaml", "/lib/systemd/system/parleyd.service",
              "/usr/share/man/man8/parleyd.8.gz", "/usr/share/man/man5/parley.yaml.5.gz",
              "/usr/share/doc/parley/copyright", "/usr/share/doc/parley/changelog.gz"):
        assert f in files, f"{f} not in the package:\n{listing}"
    assert perms["/usr/sbin/parleyd"] == "-rwxr-xr-x", perms["/usr/sbin/parleyd"]
    assert all(" root/root " in line for line in listing.splitlines()), listing


def test_control():
    info = dpkg_deb("--info", str(deb()))
    assert re.search(r"^ Package: parley$", info, re.M), info
    assert re.search(r"^ Architecture: amd64$", info, re.M), info
    depends = re.search(r"^ Depends: (.*)$", info, re.M).group(1)
    for d in ("adduser", "libc6", "libsqlite3-0", "libssl3"):
        assert d in depends, depends
    conffiles = dpkg_deb("--info", str(deb()), "conffiles")
    assert conffiles.split() == ["/etc/parley/parley.yaml"], conffiles
    postinst = dpkg_deb("--info", str(deb()), "postinst")
    assert re.search(r"adduser --system --group --home /var/lib/parley", postinst), postinst
    for script in ("postinst", "prerm", "postrm"):
        r = subprocess.run(["sh", "-n"], input=dpkg_deb("--info", str(deb()), script), text=True, capture_output=True)
        assert r.returncode == 0, f"{script}: {r.stderr}"


def test_packaged_config_is_valid():
    root = Path(_tmp.name) / "root"
    subprocess.run(["dpkg-deb", "--extract", str(deb()), str(root)], check=True, timeout=120)
    etc = root / "etc/parley/parley.yaml"
    text = etc.read_text()
    assert text.startswith("# Parley - /etc/parley/parley.yaml, installed by the Debian package."), text[:200]
    assert re.search(r"^  data_dir: /var/lib/parley ", text, re.M), "data_dir is not /var/lib/parley"
    r = subprocess.run([str(root / "usr/sbin/parleyd"), "--check-config", str(etc)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^  control_socket: /run/parley/control ", text, re.M), "control_socket is not in /run/parley"
    # The rest is the embedded default, key for key.
    default = (h.SOURCE / "config" / "parley.yaml").read_text()
    deployed = ("data_dir:", "control_socket:")
    strip = lambda t: [l for l in t[t.index("\nserver:"):].splitlines() if not any(k in l for k in deployed)]
    assert strip(text) == strip(default)


def test_lintian_reports_no_error():
    path = deb()
    if shutil.which("lintian") is None:
        raise h.Skip("lintian not installed (scripts/setup.sh installs it)")
    r = subprocess.run(["lintian", "--fail-on", "error", str(path)], capture_output=True, text=True, timeout=240)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert r.returncode == 0 and not errors, r.stdout + r.stderr


# Runs inside the overlay root (as root, in a private mount namespace): install, inspect,
# start the installed daemon briefly as the parley user, purge. Prints KEY=value lines.
INSTALL_SCRIPT = r"""
set -u
export DEBIAN_FRONTEND=noninteractive
dpkg -i /parley.deb >/dpkg-i.log 2>&1; echo "install=$?"
echo "user=$(getent passwd parley | cut -d: -f1,6)"
echo "state=$(stat -c '%U:%G %a' /var/lib/parley)"
echo "config=$(stat -c '%U:%G %a' /etc/parley/parley.yaml)"
echo "status=$(dpkg-query -W -f='${Status}' parley)"
/usr/sbin/parleyd --check-config /etc/parley/parley.yaml >/check.log 2>&1; echo "check=$?"
# /run<n>.yaml is the packaged config with free loopback ports (the defaults would clash
# with other tests), started the way the unit starts it: user parley, state in
# /var/lib/parley. Tests running beside this one may take a port between its choice and the
# bind (their connections' own ports come from the same range): then the next file.
for n in 1 2 3; do
  chown root:parley /run$n.yaml; chmod 0640 /run$n.yaml
  setpriv --reuid=parley --regid=parley --init-groups /usr/sbin/parleyd --config /run$n.yaml >/run.log 2>&1 &
  pid=$!
  for i in $(seq 1 100); do grep -q -e "parleyd ready" -e "already in use" /run.log && break; sleep 0.1; done
  grep -q "already in use" /run.log || break
  wait $pid
done
echo "ready=$(grep -c 'parleyd ready' /run.log)"
kill -TERM $pid; wait $pid; echo "run=$?"
echo "store=$(ls /var/lib/parley | tr '\n' ' ')"
dpkg --purge parley >/dpkg-p.log 2>&1; echo "purge=$?"
echo "after=$(ls /usr/sbin/parleyd /etc/parley /var/lib/parley 2>&1 | grep -c 'No such file')"
"""


def test_installs_with_dpkg_on_this_debian_system():
    path = deb()
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        raise h.Skip("installing needs root and unshare(1) for a private overlay")
    host_before = [Path(p).exists() for p in ("/etc/parley", "/usr/sbin/parleyd", "/var/lib/parley")]
    work = Path(_tmp.name) / "install"
    for d in ("upper", "work", "root"):
        (work / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(path, work / "upper" / "parley.deb")
    (work / "upper" / "install.sh").write_text(INSTALL_SCRIPT)
    extracted = work / "extracted"
    subprocess.run(["dpkg-deb", "--extract", str(path), str(extracted)], check=True, timeout=120)
    packaged = (extracted / "etc/parley/parley.yaml").read_text()
    for n in (1, 2, 3):
        with_free_ports = re.sub(r"(?<=127\.0\.0\.1:)\d+", lambda m: str(h.free_port()), packaged)
        (work / "upper" / f"run{n}.yaml").write_text(with_free_ports)
    root = work / "root"
    mount = (f"mount -t overlay overlay -o lowerdir=/,upperdir={work}/upper,workdir={work}/work {root} || exit 90; "
             f"mount --bind /proc {root}/proc; mount --bind /dev {root}/dev; mount -t tmpfs tmpfs {root}/run; "
             f"mount -t tmpfs tmpfs {root}/tmp; exec chroot {root} sh /install.sh")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", mount], capture_output=True,
                       text=True, timeout=180)
    if r.returncode == 90:
        raise h.Skip(f"cannot mount an overlay over /: {r.stderr.strip()}")
    got = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
    logs = "".join(f"\n---- {n} ----\n" + ((work / "upper" / n).read_text() if (work / "upper" / n).exists() else "")
                   for n in ("dpkg-i.log", "check.log", "run.log", "dpkg-p.log"))
    detail = r.stdout + r.stderr + logs
    assert got.get("install") == "0", detail
    assert got.get("status") == "install ok installed", detail
    assert got.get("user") == "parley:/var/lib/parley", detail
    assert got.get("state") == "parley:parley 750", detail
    assert got.get("config") == "root:parley 640", detail
    assert got.get("check") == "0", detail
    assert got.get("ready") == "1", detail
    assert got.get("run") == "0", detail
    assert "parley.db" in got.get("store", ""), detail  # the daemon wrote its store as parley
    assert got.get("purge") == "0", detail
    assert got.get("after") == "3", detail  # binary, config and state are gone
    # The machine itself is untouched: everything happened in the overlay.
    assert [Path(p).exists() for p in ("/etc/parley", "/usr/sbin/parleyd", "/var/lib/parley")] == host_before


if __name__ == "__main__":
    try:
        h.run_tests(globals())
    finally:
        _tmp.cleanup()

"""The Debian package: built with CPack from the build directory of the parleyd under test
(scripts/package.sh does the same from a Release build), then checked without installing:
dpkg-deb --info/--contents (files, conffiles, maintainer scripts, dependencies), the
packaged /etc/parley/parley.yaml passes `parleyd --check-config`, and lintian reports no
error. Skips when dpkg-deb, cpack or the build's CPackConfig.cmake is missing; the lintian
test skips when lintian is (it is not in setup.sh; `apt-get install lintian`).
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
    # The rest is the embedded default, key for key.
    default = (h.SOURCE / "config" / "parley.yaml").read_text()
    strip = lambda t: [l for l in t[t.index("\nserver:"):].splitlines() if "data_dir:" not in l]
    assert strip(text) == strip(default)


def test_lintian_reports_no_error():
    path = deb()
    if shutil.which("lintian") is None:
        raise h.Skip("lintian not installed (apt-get install lintian); not part of setup.sh")
    r = subprocess.run(["lintian", "--fail-on", "error", str(path)], capture_output=True, text=True, timeout=240)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert r.returncode == 0 and not errors, r.stdout + r.stderr


if __name__ == "__main__":
    try:
        h.run_tests(globals())
    finally:
        _tmp.cleanup()

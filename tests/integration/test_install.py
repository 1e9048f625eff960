"""Installing ringhttpd (issue 12): `make install` / `make uninstall` into a
DESTDIR, the manual ringhttpd(8) and the systemd units. The install test
builds the server in a temporary INSTALL_DIR (about 20 s)."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import sanitized_binary

ROOT = Path(__file__).resolve().parents[2]
MAN = ROOT / "docs" / "ringhttpd.8"


def engine_independent(engine):
    """These tests concern files, not an engine: run them once."""
    if engine != "threads" and os.environ.get("RINGHTTPD_ENGINES", "threads,uring") != engine:
        pytest.skip("engine-independent: run with the threads engine")


def test_manual_is_lint_clean_and_renders(engine):
    engine_independent(engine)
    if shutil.which("mandoc") is None:
        pytest.skip("mandoc not installed (scripts/deps.sh installs it)")
    p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", str(MAN)],
                       capture_output=True, text=True)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), p.stdout + p.stderr
    text = subprocess.run(["mandoc", "-T", "ascii", str(MAN)], capture_output=True,
                          text=True, check=True).stdout
    text = re.sub(r".\x08", "", text)  # overstrike (bold, underline)
    for section in ("SYNOPSIS", "OPTIONS", "SIGNALS", "RESTARTS", "ENVIRONMENT", "FILES",
                    "EXIT STATUS", "EXAMPLES"):
        assert section in text, f"no {section} section"


def test_manual_names_every_flag_of_help(server_bin, engine):
    engine_independent(engine)
    helptext = subprocess.run([str(server_bin), "--help"], capture_output=True, text=True,
                              check=True).stdout
    flags = sorted(set(re.findall(r"--[a-z][a-z-]+", helptext)))
    source = MAN.read_text()
    missing = [f for f in flags if "Fl \\-" + f[2:].replace("-", "\\-") not in source]
    assert len(flags) > 10 and not missing, f"ringhttpd(8) does not document {missing}"


def test_install_and_uninstall_into_destdir(engine, tmp_path):
    """make install PREFIX=/usr DESTDIR=...: the binary, the manual and the
    units, the service pointing at the installed binary; make uninstall
    removes exactly those."""
    engine_independent(engine)
    dest, build = tmp_path / "root", tmp_path / "build"
    env = dict(os.environ, MAKEFLAGS="")
    run = lambda *a: subprocess.run(["make", "-C", str(ROOT), *a, f"INSTALL_DIR={build}"],  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=600)
    p = run("install", "PREFIX=/usr", f"DESTDIR={dest}")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    files = sorted(str(f.relative_to(dest)) for f in dest.rglob("*") if f.is_file())
    assert files == ["usr/lib/systemd/system/ringhttpd.service",
                     "usr/lib/systemd/system/ringhttpd.socket",
                     "usr/sbin/ringhttpd",
                     "usr/share/man/man8/ringhttpd.8"], files
    binary = dest / "usr/sbin/ringhttpd"
    assert os.access(binary, os.X_OK)
    assert subprocess.run([str(binary), "--version"], capture_output=True,
                          text=True).stdout.startswith("ringhttpd ")
    service = (dest / "usr/lib/systemd/system/ringhttpd.service").read_text()
    assert "ExecStart=/usr/sbin/ringhttpd " in service and "@SBINDIR@" not in service
    p = run("uninstall", f"DESTDIR={dest}")
    assert p.returncode == 0, p.stdout + p.stderr
    left = [str(f.relative_to(dest)) for f in dest.rglob("*") if f.is_file()]
    assert left == [], left


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_units_verify(server_bin, engine, tmp_path):
    """systemd-analyze verify on the units, with ExecStart pointing at the
    built binary (verify checks that it exists)."""
    engine_independent(engine)
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    service = (ROOT / "dist" / "ringhttpd.service.in").read_text()
    service = service.replace("@SBINDIR@/ringhttpd", str(Path(server_bin).resolve()))
    (unit_dir / "ringhttpd.service").write_text(service)
    shutil.copy(ROOT / "dist" / "ringhttpd.socket", unit_dir / "ringhttpd.socket")
    p = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        str(unit_dir / "ringhttpd.socket"), str(unit_dir / "ringhttpd.service")],
                       capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    if p.returncode != 0 and re.search(r"Failed to (initialize|connect|setup)|Cannot|not booted",
                                       out, re.I) and "ringhttpd" not in out:
        pytest.skip(f"systemd-analyze cannot run here: {out.strip()[:200]}")
    assert p.returncode == 0 and "ringhttpd" not in out, out


def eval_flake(flake_dir):
    return subprocess.run(["nix-instantiate", "--eval", "--strict", "--json",
                           str(ROOT / "tests" / "nix" / "check-flake.nix"),
                           "--arg", "flakeDir", str(flake_dir)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("nix-instantiate") is None,
                    reason="nix-instantiate not installed (Debian's nix-bin; scripts/deps.sh)")
def test_flake_parses_and_evaluates_offline(engine, tmp_path):
    """flake.nix: parsed, and its outputs evaluated against a stub of the
    nixpkgs attributes it uses (nixpkgs cannot be fetched here). A build by
    Nix is not tried: see the README."""
    engine_independent(engine)
    p = subprocess.run(["nix-instantiate", "--parse", str(ROOT / "flake.nix")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    p = eval_flake(ROOT)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    cmake_version = re.search(r"project\(ringhttpd VERSION ([0-9.]+)",
                              (ROOT / "CMakeLists.txt").read_text()).group(1)
    assert out["pname"] == "ringhttpd" and out["version"] == cmake_version, out
    assert set(out["buildInputs"]) == {"liburing", "libdeflate"}, out
    assert set(out["nativeBuildInputs"]) == {"cmake", "pkg-config"}, out
    assert "-DUSE_IOURING=ON" in out["cmakeFlags"] and out["srcIsTheFlake"], out
    assert out["systems"] == out["shellSystems"] == ["aarch64-linux", "x86_64-linux"], out
    assert out["defaultIsRinghttpd"] and out["shellInputsFrom"] == ["ringhttpd"], out
    assert "pytest" in out["shellPackages"], out
    # The check has teeth: a misspelt nixpkgs attribute fails to evaluate.
    (tmp_path / "flake.nix").write_text(
        (ROOT / "flake.nix").read_text().replace("pkgs.libdeflate", "pkgs.libdeflat"))
    shutil.copy(ROOT / "CMakeLists.txt", tmp_path / "CMakeLists.txt")
    p = eval_flake(tmp_path)
    assert p.returncode != 0 and "libdeflat" in p.stderr, p.stdout + p.stderr


@pytest.mark.skipif(shutil.which("dpkg-buildpackage") is None or shutil.which("dh") is None,
                    reason="dpkg-dev and debhelper not installed (scripts/deps.sh)")
def test_debian_package_builds_installs_and_removes(engine, tmp_path):
    """dpkg-buildpackage -us -uc -b on a copy of the tracked files: the .deb
    holds the server, the manual and the units, and (as root, when no
    ringhttpd package is installed yet) installs, runs and is removed
    cleanly. Without systemd as PID 1 its postinst enables the socket but
    starts nothing."""
    engine_independent(engine)
    if sanitized_binary():
        pytest.skip("built once, in the release run")
    src = tmp_path / "ringhttpd"
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                           check=True).stdout.split(b"\0")
    for f in filter(None, files):
        dest = src / f.decode()
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f.decode(), dest)
    p = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    debs = sorted(tmp_path.glob("ringhttpd_*.deb"))
    assert len(debs) == 1, list(tmp_path.iterdir())
    listing = subprocess.run(["dpkg-deb", "-c", str(debs[0])], capture_output=True, text=True,
                             check=True).stdout
    for path in ("./usr/sbin/ringhttpd", "./usr/share/man/man8/ringhttpd.8.gz",
                 "./lib/systemd/system/ringhttpd.service", "./lib/systemd/system/ringhttpd.socket"):
        assert path in listing, listing
    if os.geteuid() != 0 or subprocess.run(["dpkg", "-s", "ringhttpd"],
                                           capture_output=True).returncode == 0:
        return  # not root, or a ringhttpd package is there already: leave the system alone
    try:
        p = subprocess.run(["dpkg", "-i", str(debs[0])], capture_output=True, text=True,
                           timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        v = subprocess.run(["/usr/sbin/ringhttpd", "--version"], capture_output=True, text=True)
        assert v.stdout.startswith("ringhttpd "), v
    finally:
        p = subprocess.run(["dpkg", "--purge", "ringhttpd"], capture_output=True, text=True,
                           timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not os.path.exists("/usr/sbin/ringhttpd")

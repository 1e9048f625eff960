"""Command line: help, version, bad flags, start-up failures, flag behaviour."""

import os
import re
import socket
import subprocess

import pytest

from helpers import free_port, sanitizer_report, wait_until

# Every flag of the contract's synopsis.
FLAGS = ["--directory", "--port", "--bind", "--engine", "--workers", "--threads",
         "--idle-timeout", "--header-timeout", "--max-request-size", "--max-connections",
         "--access-log", "--mime-types", "--file-cache", "--reuse-port", "--quiet", "--help",
         "--version"]


def run(binary, *args, timeout=10):
    return subprocess.run([str(binary), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_help_prints_usage_to_stdout_and_exits_0(server_bin):
    p = run(server_bin, "--help")
    assert p.returncode == 0, p.stderr
    assert "usage" in p.stdout.lower()
    missing = [f for f in FLAGS if f not in p.stdout]
    assert not missing, f"--help does not mention {missing}"
    assert not sanitizer_report(p.stderr)


def test_version_exits_0(server_bin):
    p = run(server_bin, "--version")
    assert p.returncode == 0, p.stderr
    assert re.search(r"\d+\.\d+", p.stdout), f"no version number in {p.stdout!r}"
    assert len(p.stdout.strip().splitlines()) <= 3


def check_usage_error(p, needle):
    assert p.returncode == 2, f"exit {p.returncode}; stderr {p.stderr!r}"
    assert p.stdout == "", f"usage error printed to stdout: {p.stdout!r}"
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    # One line of error, optionally one more with the usage hint -- not the
    # whole usage text.
    assert 1 <= len(lines) <= 2, f"expected a one-line error, got:\n{p.stderr}"
    assert needle in p.stderr, f"error does not name {needle!r}: {p.stderr!r}"
    assert "--help" in p.stderr or "usage" in p.stderr.lower(), \
        f"no usage hint: {p.stderr!r}"


@pytest.mark.parametrize("args, needle", [
    (["--bogus"], "--bogus"),
    (["-Z"], "Z"),
    (["--port", "abc"], "abc"),
    (["--port", "70000"], "70000"),
    (["--port", "-1"], "-1"),
    (["--port"], "port"),
    (["--engine", "bogus"], "bogus"),
    (["--bind", "not-an-address"], "not-an-address"),
    (["--idle-timeout", "soon"], "soon"),
    (["--header-timeout", "1x"], "1x"),
    (["--max-request-size", "big"], "big"),
    (["--max-request-size", "-5"], "-5"),
    (["--max-connections", "many"], "many"),
    (["--threads", "lots"], "lots"),
    (["--workers", "x"], "x"),
    (["--file-cache", "-1"], "-1"),
    (["--file-cache", "2000000"], "2000000"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_flag_or_value_exits_2_with_one_line(server_bin, args, needle):
    check_usage_error(run(server_bin, *args), needle)


def test_missing_directory_exits_2(server_bin, tmp_path):
    missing = tmp_path / "does-not-exist"
    p = run(server_bin, "--port", str(free_port()), "--directory", str(missing))
    assert p.returncode == 2, f"exit {p.returncode}; stderr {p.stderr!r}"
    assert p.stderr.strip(), "no message on stderr"


def test_directory_that_is_a_file_exits_2(server_bin, tmp_path):
    f = tmp_path / "plain-file"
    f.write_text("x")
    p = run(server_bin, "--port", str(free_port()), "--directory", str(f))
    assert p.returncode == 2, f"exit {p.returncode}; stderr {p.stderr!r}"
    assert p.stderr.strip(), "no message on stderr"


def test_access_log_that_cannot_be_opened_exits_1(server_bin, tmp_path):
    """A runtime condition (a missing directory, permissions), not a usage
    error: exit 1 with the path and the reason."""
    p = run(server_bin, "--port", str(free_port()), "--access-log",
            str(tmp_path / "missing" / "access.log"))
    assert p.returncode == 1, f"exit {p.returncode}; stderr {p.stderr!r}"
    assert "missing/access.log" in p.stderr and "No such file" in p.stderr, p.stderr


def test_busy_port_exits_1_naming_the_port(server_bin, engine):
    with socket.socket() as blocker:
        blocker.bind(("0.0.0.0", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        p = run(server_bin, "--engine", engine, "--port", str(port))
    assert p.returncode == 1, f"exit {p.returncode}; stderr {p.stderr!r}"
    assert str(port) in p.stderr, f"message does not name port {port}: {p.stderr!r}"


def test_quiet_prints_nothing_at_start_up(make_server, files_dir):
    s = make_server("--quiet", directory=files_dir)
    assert s.get("/echo/q").status == 200
    assert s.stderr() == "", f"--quiet still wrote: {s.stderr()!r}"
    rc, _ = s.stop()
    assert rc == 0
    assert s.stderr() == "", f"--quiet still wrote at shutdown: {s.stderr()!r}"


def test_flag_of_the_other_engine_is_accepted_with_a_note(make_server, other_engine_flag):
    flag, value = other_engine_flag
    s = make_server(flag, value)
    assert s.get("/").status == 200
    assert flag.lstrip("-") in s.stderr(), \
        f"no start-up note about the ignored {flag}: {s.stderr()!r}"


def listening_on(port):
    """The local addresses listening on port, from /proc/net/tcp and tcp6
    (state 0A)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = [line.split() for line in f.readlines()[1:]]
        except OSError:
            continue
        found += [r[1] for r in rows if r[3] == "0A" and int(r[1].split(":")[1], 16) == port]
    return found


def test_default_bind_is_every_address_ipv6_and_ipv4(make_server):
    """Without --bind: "::" taking IPv4 too where the host has IPv6 (one
    socket), else 0.0.0.0."""
    s = make_server(pass_bind=False)
    any6, any4 = "0" * 32 + ":%04X" % s.port, "00000000:%04X" % s.port
    assert listening_on(s.port) == ([any6] if _can_bind6("::") else [any4])
    assert s.get("/").status == 200  # over IPv4 (127.0.0.1)
    if _can_bind6("::1"):
        with socket.create_connection(("::1", s.port), timeout=5) as c:
            c.sendall(b"GET /echo/six HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.recv(4096).endswith(b"six")


def _can_bind6(addr):
    """Whether this host can bind an IPv6 socket to addr ("::" or "::1")."""
    try:
        with socket.socket(socket.AF_INET6) as t:
            t.bind((addr, 0))
        return True
    except OSError:
        return False


def _ipv6_loopback():
    return _can_bind6("::1")


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_bind_ipv6_literal(make_server):
    s = make_server(bind="::1")
    r = s.get("/echo/v6")
    assert (r.status, r.body) == (200, b"v6")


def test_bind_ipv4_literal(make_server):
    s = make_server(bind="127.0.0.1")
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    listening = [r[1] for r in rows if r[3] == "0A" and int(r[1].split(":")[1], 16) == s.port]
    assert listening == ["0100007F:%04X" % s.port], f"listening sockets: {listening}"


def test_default_port_is_4221(make_server):
    try:
        with socket.socket() as probe:
            probe.bind(("0.0.0.0", 4221))
    except OSError:
        pytest.skip("port 4221 is in use on this machine")
    s = make_server(port=0, pass_bind=False)  # no --port at all
    assert s.port == 4221
    assert s.get("/").status == 200


def test_engine_auto_serves(make_server):
    s = make_server(engine="auto")
    assert s.get("/echo/auto").body == b"auto"


@pytest.mark.engine("threads")
def test_threads_flag_sets_pool_size(make_server):
    s = make_server("--threads", "3")
    conns = [s.conn() for _ in range(3)]
    try:
        for i, c in enumerate(conns):  # three connections served at once
            c.send(f"GET /echo/{i} HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.read_response().body == str(i).encode()
        with open(f"/proc/{s.proc.pid}/status") as f:
            threads = int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))
        assert threads <= 3 + 8, f"{threads} threads with --threads 3"
    finally:
        for c in conns:
            c.close()


@pytest.mark.engine("uring")
def test_workers_flag_sets_ring_count(make_server):
    s = make_server("--workers", "2")
    assert s.get("/").status == 200
    fd_dir = f"/proc/{s.proc.pid}/fd"

    def rings():
        found = []
        for fd in os.listdir(fd_dir):
            try:  # the socket of the request above may close meanwhile
                if os.readlink(os.path.join(fd_dir, fd)) == "anon_inode:[io_uring]":
                    found.append(fd)
            except FileNotFoundError:
                pass
        return found
    # Each worker sets up its ring in its own thread: on a loaded machine the
    # second may come up after the first has already answered.
    wait_until(lambda: len(rings()) >= 2, 10.0, what="two io_uring instances")
    assert len(rings()) == 2, f"{len(rings())} io_uring instances with --workers 2"

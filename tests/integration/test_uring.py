"""Acceptance tests of the io_uring engine (issue 3).

- seccomp: under tests/tools/no_io_uring (io_uring_* fail with EPERM, as under
  Docker's default profile) `--engine auto` falls back to threads with one log
  line that says why, and `--engine uring` exits non-zero with a clear message.
- 10,000 concurrent keep-alive connections on one ring, each answered with its
  own body.
- slow clients (a stalled reader of a 16 MiB file, 50 slowloris heads) do not
  delay a normal client (uring, and threads with --threads 128).
- an idle uring server with 100 idle keep-alive connections does not spin.

The no_io_uring helper is looked up next to the server binary (the build
directory); the seccomp tests are skipped without it.
"""

import errno
import os
import re
import resource
import select
import socket
import subprocess
import time
from pathlib import Path

import pytest

from helpers import (Server, ServerStartError, build_request, cpu_seconds, free_port, open_fds,
                     raise_nofile, sanitizer_report, wait_until)

LOCALHOST = "127.0.0.1"


# ---------------------------------------------------------------- helpers


def no_io_uring_tool(server_bin):
    tool = Path(server_bin).resolve().parent / "no_io_uring"
    if not os.access(tool, os.X_OK):
        pytest.skip(f"no seccomp helper at {tool} (build the no_io_uring target from "
                    f"tests/tools/no_io_uring.c next to the server binary)")
    return tool


class SandboxedServer(Server):
    """A Server whose command runs under the no_io_uring seccomp helper."""

    def __init__(self, tool, *args, **kw):
        super().__init__(*args, **kw)
        self.tool = tool

    def command(self, port):
        return [str(self.tool)] + super().command(port)


class ResponseReader:
    """Incremental parser of Content-Length framed responses on one socket."""

    def __init__(self):
        self.buf = bytearray()
        self.responses = []  # (status, body)

    def feed(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            m = re.search(rb"\r\ncontent-length:[ \t]*(\d+)", head, re.I)
            assert m, f"response without Content-Length: {head!r}"
            total = end + 4 + int(m.group(1))
            if len(self.buf) < total:
                return
            status = int(head[9:12])
            self.responses.append((status, bytes(self.buf[end + 4:total])))
            del self.buf[:total]


# ---------------------------------------------------------------- seccomp


@pytest.mark.engine("uring")
def test_auto_falls_back_to_threads_under_seccomp(server_bin, engine):
    tool = no_io_uring_tool(server_bin)
    s = SandboxedServer(tool, server_bin, "auto")
    try:
        try:
            s.start()
        except ServerStartError as e:
            pytest.fail(f"--engine auto did not start under seccomp: {e}", pytrace=False)
        r = s.get("/")
        assert r.status == 200, f"GET / under the threads fallback: {r}"
        with s.conn() as c:  # keep-alive and pipelining still work on the fallback
            c.send(build_request("GET", "/echo/a") + build_request("GET", "/echo/b"))
            assert [c.read_response().body for _ in range(2)] == [b"a", b"b"]
        err = s.stderr()
        lines = [ln for ln in err.splitlines() if "io_uring" in ln.lower()]
        assert len(lines) == 1, f"expected one line about io_uring on stderr, got:\n{err}"
        line = lines[0]
        assert re.search(r"EPERM|seccomp", line, re.I), f"fallback line does not say why: {line}"
        assert re.search(r"threads", line), f"fallback line does not name the engine used: {line}"
        assert re.search(r"allow|enable|sysctl|io_uring_disabled", line, re.I), \
            f"fallback line does not say what would enable io_uring: {line}"
    finally:
        problems = s.finish()
    assert not problems, "\n".join(problems)


@pytest.mark.engine("uring")
def test_uring_engine_refused_under_seccomp_exits(server_bin, engine, tmp_path):
    tool = no_io_uring_tool(server_bin)
    port = free_port()
    cmd = [str(tool), str(server_bin), "--engine", "uring", "--bind", LOCALHOST,
           "--port", str(port)]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("--engine uring under seccomp still running after 10 s (should exit)",
                    pytrace=False)
    took = time.monotonic() - t0
    err = p.stderr.decode(errors="replace")
    assert p.returncode != 0, f"--engine uring exited 0 under seccomp; stderr:\n{err}"
    assert took < 5, f"--engine uring took {took:.1f}s to give up"
    assert "io_uring" in err, f"no message naming io_uring on stderr:\n{err}"
    assert not sanitizer_report(err), err


# ---------------------------------------------------------------- 10k connections

N_CONNS = 10_000


@pytest.mark.engine("uring")
def test_10k_concurrent_keep_alive_connections_one_ring(make_server, engine):
    old = raise_nofile(N_CONNS + 500)
    socks = []
    ep = select.epoll()
    t_start = time.monotonic()
    deadline = t_start + 50
    try:
        srv = make_server("--workers", "1")
        addr = (srv.connect_host(), srv.port)

        # Connect in batches: at most BATCH handshakes in flight, so the listen
        # backlog never overflows (a dropped SYN costs a 1 s retransmit).
        BATCH = 500
        for first in range(0, N_CONNS, BATCH):
            pending = {}
            for i in range(first, min(first + BATCH, N_CONNS)):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                socks.append(s)
                err = s.connect_ex(addr)
                assert err in (0, errno.EINPROGRESS), f"connect #{i}: {os.strerror(err)}"
                pending[s.fileno()] = s
                ep.register(s.fileno(), select.EPOLLOUT)
            while pending:
                assert time.monotonic() < deadline, f"connects stuck: {len(pending)} pending"
                for fd, _ in ep.poll(1.0):
                    s = pending.pop(fd)
                    ep.unregister(fd)
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    assert err == 0, f"connect failed: {os.strerror(err)}"
        t_connected = time.monotonic()

        # One keep-alive request on each.
        index = {}
        readers = {}
        for i, s in enumerate(socks):
            req = f"GET /echo/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            assert s.send(req) == len(req), f"short send on #{i}"
            index[s.fileno()] = i
            readers[s.fileno()] = ResponseReader()
            ep.register(s.fileno(), select.EPOLLIN)
        waiting = set(index)
        while waiting:
            left = deadline - time.monotonic()
            assert left > 0, f"{len(waiting)} of {N_CONNS} responses missing after 50 s"
            for fd, _ in ep.poll(min(left, 1.0)):
                data = socks[index[fd]].recv(65536)
                assert data, f"connection #{index[fd]} closed by the server"
                rd = readers[fd]
                rd.feed(data)
                assert len(rd.responses) <= 1, f"#{index[fd]}: extra response {rd.responses}"
                if rd.responses:
                    status, body = rd.responses[0]
                    assert status == 200 and body == str(index[fd]).encode(), \
                        f"#{index[fd]}: got {status} {body[:40]!r}"
                    waiting.discard(fd)
                    ep.unregister(fd)
        t_answered = time.monotonic()

        # All connections still open: no EOF, no stray bytes, and the server
        # holds all of them.
        for i, s in enumerate(socks):
            try:
                data = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            pytest.fail(f"connection #{i} not idle-open at the end: {data!r}", pytrace=False)
        assert open_fds(srv.proc.pid) >= N_CONNS, "server holds fewer fds than connections"
        # And they are still served: a second request on every 100th.
        for i in range(0, N_CONNS, 100):
            s = socks[i]
            s.setblocking(True)
            s.settimeout(10)
            s.sendall(f"GET /echo/again{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            rd = ResponseReader()
            while not rd.responses:
                data = s.recv(65536)
                assert data, f"connection #{i} closed instead of answering a second request"
                rd.feed(data)
            assert rd.responses == [(200, f"again{i}".encode())], f"#{i}: {rd.responses}"
        assert srv.alive()
        print(f"10k: connected in {t_connected - t_start:.2f}s, "
              f"answered in {t_answered - t_connected:.2f}s")
    finally:
        ep.close()
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)
    # The server lets go of them and still serves.
    wait_until(lambda: open_fds(srv.proc.pid) < 100, 20, 0.1,
               what="the server to close the 10,000 connections")
    assert srv.get("/echo/after").body == b"after"


# ---------------------------------------------------------------- slow clients

N_SLOWLORIS = 50
BIG = 16 << 20


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("big")
    with open(d / "big.bin", "wb") as f:
        f.write(os.urandom(1 << 20) * (BIG >> 20))
    return d


def test_slow_clients_do_not_delay_others(make_server, engine, big_dir):
    flags = ("--threads", "128") if engine == "threads" else ()
    srv = make_server(*flags, directory=big_dir)
    addr = (srv.connect_host(), srv.port)
    socks = []
    try:
        # A client that asks for 16 MiB and never reads.
        stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        socks.append(stalled)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.settimeout(5)
        stalled.connect(addr)
        stalled.sendall(build_request("GET", "/files/big.bin"))
        # Its response has started (peeking leaves the window closed).
        wait_until(lambda: stalled.recv(16, socket.MSG_PEEK).startswith(b"HTTP/1.1 200"), 5,
                   what="the big response to start")

        # 50 slowloris clients: a partial head, then a byte per second.
        lorises = []
        t_lorises = time.monotonic()
        for _ in range(N_SLOWLORIS):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.settimeout(5)
            s.connect(addr)
            s.sendall(b"GET /echo/slow HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            lorises.append(s)

        # A normal client: 20 sequential requests on fresh connections, each
        # within 2 s, while the slowloris clients trickle.
        next_trickle = time.monotonic() + 1.0
        took = []
        for i in range(20):
            now = time.monotonic()
            if now >= next_trickle:
                for s in lorises:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass  # the server may have given up on it (408); fine
                next_trickle = now + 1.0
            t0 = time.monotonic()
            with srv.conn(timeout=10) as c:
                c.send(build_request("GET", f"/echo/x{i}"))
                r = c.read_response()
            took.append(time.monotonic() - t0)
            assert r.status == 200 and r.body == f"x{i}".encode(), f"request {i}: {r}"
            assert took[-1] < 2.0, f"request {i} took {took[-1]:.2f}s behind slow clients"
            time.sleep(0.15)  # spread over ~3 s so the trickle goes on meanwhile
        print(f"normal client: max {max(took) * 1000:.1f} ms over {len(took)} requests")

        # The slowloris heads, completed now, are answered (unless the 10 s
        # header timeout has passed on a very slow machine: then 408).
        for s in lorises:
            s.sendall(b"\r\n\r\n")
        for n, s in enumerate(lorises):
            rd = ResponseReader()
            while not rd.responses:
                data = s.recv(65536)
                assert data, f"slowloris #{n}: closed without a response"
                rd.feed(data)
            status, body = rd.responses[0]
            if status == 408:
                assert time.monotonic() - t_lorises > 9, f"slowloris #{n}: 408 before 10 s"
            else:
                assert (status, body) == (200, b"slow"), f"slowloris #{n}: {rd.responses}"

        # The stalled transfer resumes and delivers the whole file intact.
        stalled.settimeout(20)
        rd = ResponseReader()
        while not rd.responses:
            data = stalled.recv(1 << 20)
            assert data, f"big response cut after {len(rd.buf)} bytes"
            rd.feed(data)
        status, body = rd.responses[0]
        assert status == 200 and len(body) == BIG, f"big response: {status}, {len(body)} bytes"
        assert body == (big_dir / "big.bin").read_bytes(), "big response corrupted"
        assert srv.alive()
    finally:
        for s in socks:
            s.close()


# ---------------------------------------------------------------- no spinning


@pytest.mark.engine("uring")
def test_idle_uring_server_does_not_spin(make_server, engine):
    srv = make_server()
    conns = []
    try:
        for i in range(100):
            c = srv.conn()
            conns.append(c)
            c.send(build_request("GET", f"/echo/{i}"))
        for i, c in enumerate(conns):
            r = c.read_response()
            assert r.status == 200 and r.body == str(i).encode()
            assert r.get("Connection") == "keep-alive"
        time.sleep(0.2)  # let the last completions settle
        pid = srv.proc.pid
        before = cpu_seconds(pid)
        time.sleep(2.0)
        used = cpu_seconds(pid) - before
        assert used < 0.2, f"idle server used {used:.2f}s CPU in 2 s with 100 idle connections"
        for c in conns:  # still open
            c.sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                c.sock.recv(1, socket.MSG_PEEK)
    finally:
        for c in conns:
            c.close()


def ring_completions(pid):
    """{ring fd: completions posted (CqTail)} for each io_uring of pid."""
    rings = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:[io_uring]":
                continue
            info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        m = re.search(r"^CqTail:\s*(\d+)", info, re.M)
        if m:
            rings[fd] = int(m.group(1))
    return rings


@pytest.mark.engine("uring")
def test_workers_share_the_connections(make_server, engine):
    """--workers 2: connections that all arrive at once are spread over both
    rings. The kernel hands every connection to the same waiting accept; the
    engine passes connections on to the least loaded worker (MSG_RING)."""
    s = make_server("--workers", "2")
    wait_until(lambda: len(ring_completions(s.proc.pid)) == 2, 10.0, what="two rings")
    conns = [socket.create_connection((LOCALHOST, s.port), timeout=5) for _ in range(8)]
    try:
        # All 8 are in the accept queue before any byte is sent.
        before = ring_completions(s.proc.pid)
        for _ in range(10):
            for i, c in enumerate(conns):
                c.sendall(build_request("GET", f"/echo/{i}"))
            for i, c in enumerate(conns):
                data = b""
                while not data.endswith(b"\r\n\r\n" + str(i).encode()):
                    chunk = c.recv(4096)
                    assert chunk, f"connection {i} closed"
                    data += chunk
                assert data.startswith(b"HTTP/1.1 200 ")
        after = ring_completions(s.proc.pid)
    finally:
        for c in conns:
            c.close()
    # One connection's 10 requests are >= 20 completions (recv + send each).
    busy = {fd: after[fd] - before.get(fd, 0) for fd in after}
    assert len(busy) == 2 and all(n >= 20 for n in busy.values()), (
        f"completions per ring during the load: {busy} (one ring served everything)")


def pipe_fds(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:")
        except OSError:
            pass  # closed meanwhile
    return n


def kernel_has_cachestat():
    major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", os.uname().release).groups())
    return (major, minor) >= (6, 5)


@pytest.mark.engine("uring")
@pytest.mark.skipif(not kernel_has_cachestat(), reason="cachestat(2) needs Linux 6.5")
def test_cached_file_is_sent_inline_and_a_cold_one_through_io_wq(make_server, tmp_path):
    """A file whose pages are all in the page cache goes out by sendfile(2)
    from the worker (no splice pipe is ever made); one that is not, which
    could make the worker wait on a disk, is spliced by io-wq through a pipe.
    Both arrive whole: ranges too, and on one keep-alive connection."""
    hot, cold = os.urandom(3 << 20), os.urandom(200 << 10)
    (tmp_path / "hot.bin").write_bytes(hot)
    (tmp_path / "hot.bin").read_bytes()  # in the page cache
    with open(tmp_path / "cold.bin", "wb") as f:
        f.write(cold)
        f.flush()
        os.fsync(f.fileno())  # clean pages can be dropped
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    s = make_server(directory=tmp_path)
    with s.conn() as c:
        c.send(build_request("GET", "/files/hot.bin") +
               build_request("GET", "/files/hot.bin", headers={"Range": "bytes=1000-300000"}))
        r1, r2 = c.read_response(), c.read_response()
        assert (r1.status, r2.status) == (200, 206)
        assert r1.body == hot and r2.body == hot[1000:300001]
        assert pipe_fds(s.proc.pid) == 0, "a cached file went through a splice pipe"
        c.send(build_request("GET", "/files/cold.bin"))
        r = c.read_response()
        assert r.status == 200 and r.body == cold
        assert pipe_fds(s.proc.pid) > 0, "a file not in the page cache was sent inline"

"""Load cases of issue 9 at the scale they were reported at: too slow for
`make test`, run by `make test-load` (RINGHTTPD_LOAD=1; `.ci/run` calls it).

- 19,000 idle connections expiring together must not stall new clients
  (before: 8 s), and SIGTERM with 19,000 idle connections exits within 2 s
  (before: 9 s);
- 4,200 concurrent stalled downloads, of one cached file and of a file each
  not in the page cache (splice pipes and bounce buffers): every one is
  delivered whole (before: the 4,097th got a 200 head and no body; cold,
  1,750 cut short, then, past tcp_mem pressure, one stalled for minutes),
  and the pipes go after the burst; stalled past the timeout, the cold ones
  are cut and every descriptor comes back;
- 9,000 connections holding partial heads: memory comes back after they
  close (before: 111 MB of a 123 MB peak stayed);
- 5,000 keep-alive clients are all served (threads before: 64).
"""

import os
import resource
import socket
import time

import pytest

from helpers import (build_request, idle_pipe_fds, open_fds, open_idle, raise_nofile,
                     read_whole_response, rss_kib, sanitized_binary, served, stalled_download,
                     wait_until)

pytestmark = pytest.mark.load


def keep_alive_round(socks, path_of):
    """One request on every socket, pipelined across sockets; returns the
    answers that were not 200 with the expected body."""
    bad = []
    for i, s in enumerate(socks):
        s.setblocking(True)
        s.settimeout(30)
        s.sendall(build_request("GET", path_of(i)))
    for i, s in enumerate(socks):
        status, _, body = read_whole_response(s)
        want = path_of(i)[len("/echo/"):].encode()
        if status != 200 or body != want:
            bad.append((i, status, body[:40]))
    return bad


def test_5000_keep_alive_clients_are_all_served(make_server, engine):
    old = raise_nofile(5500)
    socks = []
    try:
        srv = make_server()  # default --threads 64 under the threads engine
        socks = open_idle(srv, 5000)
        assert keep_alive_round(socks, lambda i: f"/echo/k{i}") == []
        assert keep_alive_round(socks, lambda i: f"/echo/again{i}") == []
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


N_IDLE = 19000


def test_mass_idle_expiry_does_not_stall_new_clients(make_server, engine):
    """19,000 idle connections time out in the same second; a new client
    every 20 ms around that second must be answered within 1 s."""
    old = raise_nofile(N_IDLE + 500)
    socks = []
    try:
        # Long enough that the last of them is accepted before the first
        # expires, even on a loaded machine (4 s was not, once, in CI).
        idle = 8
        srv = make_server("--idle-timeout", str(idle))
        t0 = time.monotonic()
        socks = open_idle(srv, N_IDLE)
        wait_until(lambda: open_fds(srv.proc.pid) >= N_IDLE, 30, 0.1,
                   what="the server to accept them all")
        worst = 0.0
        until = t0 + idle + (time.monotonic() - t0) + 2
        while time.monotonic() < until:
            t = time.monotonic()
            c = served(srv, "/echo/probe", timeout=5.0)
            took = time.monotonic() - t
            assert c is not None, "a new client was not served during the expiry"
            c.close()
            worst = max(worst, took)
            time.sleep(0.02)
        print(f"worst latency of a new client during the expiry of {N_IDLE}: {worst:.3f} s")
        assert worst < 1.0, f"a new client waited {worst:.2f} s"
        wait_until(lambda: open_fds(srv.proc.pid) < 100, 20, 0.1,
                   what="the idle connections to be closed")
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def test_sigterm_with_19000_idle_connections(make_server, engine):
    old = raise_nofile(N_IDLE + 500)
    socks = []
    try:
        srv = make_server()
        socks = open_idle(srv, N_IDLE)
        wait_until(lambda: open_fds(srv.proc.pid) >= N_IDLE, 30, 0.1,
                   what="the server to accept them all")
        rc, took = srv.stop()
        print(f"SIGTERM with {N_IDLE} idle connections: exit {rc} in {took:.2f} s")
        assert rc == 0 and took < 2.0, f"exit {rc} after {took:.2f} s"
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


N_DOWNLOADS = 4200


@pytest.fixture(scope="module")
def mib_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("load")
    (d / "one.bin").write_bytes(os.urandom(1 << 20))
    return d


@pytest.fixture(scope="module")
def cold_dir(tmp_path_factory):
    """N_DOWNLOADS files of 1 MiB never read (sparse): none is in the page
    cache when its download starts, so each goes through a splice pipe or,
    past the pipes the fd limit allows, a bounce buffer."""
    d = tmp_path_factory.mktemp("cold")
    for i in range(N_DOWNLOADS):
        with open(d / f"cold{i}.bin", "wb") as f:
            f.truncate(1 << 20)
    return d


@pytest.mark.engine("uring")
@pytest.mark.parametrize("cold", [False, True], ids=["cached", "cold"])
def test_4200_stalled_downloads_arrive_whole(make_server, engine, mib_dir, cold_dir, cold):
    """cached: one file in the page cache, sent by sendfile(2) from the
    worker once the socket has room. cold: a file each, not cached, the path
    of splice pipes and bounce buffers. Before the send queues were capped
    (TCP_NOTSENT_LOWAT) the 4,200 queued 1.8 GB, past the host's tcp_mem
    pressure mark: the kernel then stalled a download for minutes."""
    # cold: a socket, the open file and a share of the pipes per download
    old = raise_nofile(3 * N_DOWNLOADS + 500 if cold else N_DOWNLOADS + 500)
    socks = []
    try:
        # Read one after another, the last downloads wait longer than the 60 s
        # a send may stall before the server rightly cuts it (on a loaded
        # machine: the 2,408th). Then the kernel drops the orphaned socket
        # after its zero-window probes without a RST, and the client waits.
        srv = make_server("--idle-timeout", "600", directory=cold_dir if cold else mib_dir)
        base = open_fds(srv.proc.pid)
        for i in range(N_DOWNLOADS):
            socks.append(stalled_download(srv, f"/files/cold{i}.bin" if cold else "/files/one.bin"))
        time.sleep(1.0)  # every transfer started and blocked
        want = bytes(1 << 20) if cold else (mib_dir / "one.bin").read_bytes()
        for i, s in enumerate(socks):
            status, length, body = read_whole_response(s, timeout=60)
            assert status == 200 and length == len(want), (i, status, length)
            assert body == want, f"download {i}: {len(body)} of {length} bytes"
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)
    # cold: the file cache's descriptors too, closed FILE_CACHE_FD_IDLE
    # (10 s) after their last use
    wait_until(lambda: open_fds(srv.proc.pid) <= base + idle_pipe_fds() + 8, 30 if cold else 20,
               0.1, what=f"the pipes to be closed (fds {open_fds(srv.proc.pid)}, base {base})")


@pytest.mark.engine("uring")
def test_4200_stalled_cold_downloads_are_cut_at_the_timeout(make_server, engine, cold_dir):
    """Transfers that wait for room in the socket (a splice turned back with
    EAGAIN waits for POLLOUT) still end when the peer stalls past the
    timeout: every descriptor comes back and the server keeps serving."""
    old = raise_nofile(3 * N_DOWNLOADS + 500)
    socks = []
    try:
        srv = make_server("--idle-timeout", "3", directory=cold_dir)
        base = open_fds(srv.proc.pid)
        for i in range(N_DOWNLOADS):
            socks.append(stalled_download(srv, f"/files/cold{i}.bin"))
        wait_until(lambda: open_fds(srv.proc.pid) >= base + N_DOWNLOADS, 30, 0.1,
                   what="the downloads to be in flight")
        # 3 s without progress, then the kill; the file cache's descriptors
        # close FILE_CACHE_FD_IDLE (10 s) after their last use
        wait_until(lambda: open_fds(srv.proc.pid) <= base + idle_pipe_fds() + 8, 40, 0.2,
                   what=f"the stalled downloads to be cut (fds {open_fds(srv.proc.pid)}, "
                        f"base {base})")
        c = served(srv, "/echo/after")
        assert c, "not serving after the cut"
        c.close()
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


@pytest.mark.skipif(sanitized_binary(), reason="ASan's allocator does not return memory")
def test_memory_after_9000_partial_heads(make_server, engine):
    old = raise_nofile(9500)
    socks = []
    try:
        srv = make_server()
        base = rss_kib(srv.proc.pid)
        half = b"GET /echo/x HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 3000
        for _ in range(9000):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.connect((srv.connect_host(), srv.port))
            s.sendall(half)
            socks.append(s)
        wait_until(lambda: rss_kib(srv.proc.pid) > base + 50000, 30, 0.1,
                   what="the server to buffer the partial heads")
        peak = rss_kib(srv.proc.pid)
        for s in socks:
            s.close()
        socks = []
        wait_until(lambda: open_fds(srv.proc.pid) < 100, 30, 0.1,
                   what="the server to close the connections")
        try:
            ring = 4 * int(os.environ.get("RINGHTTPD_URING_WORKERS") or 1) if engine == "uring" else 0
            wait_until(lambda: rss_kib(srv.proc.pid) < base + (12 + ring) * 1024, 10, 0.2,
                       what="memory to be returned")
        finally:
            print(f"RSS KiB: idle {base}, peak {peak}, after {rss_kib(srv.proc.pid)}")
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)

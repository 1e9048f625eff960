"""The open-file cache of /files/ (issue 11, point 4): what a user can rely
on. An upload through the server is seen by the very next request, on every
worker; a change behind the server's back (rename over, rewrite in place,
truncate, delete) within one second; descriptors are kept only of larger
files, and let go of when the file changes or goes unused."""

import os
import time
import uuid

import pytest

from helpers import build_request, open_fds


def unique(prefix="fc"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def cached(make_server, engine, tmp_path):
    d = tmp_path / "files"
    d.mkdir()
    flags = ["--workers", "2"] if engine == "uring" else []
    return make_server(*flags, directory=d), d


def body(server, name):
    r = server.get(f"/files/{name}")
    return r.status, r.body


def wait_fresh(server, name, want, limit=1.5):
    """Seconds until GET name gives want (fails past limit)."""
    t0 = time.monotonic()
    while True:
        got = body(server, name)
        if got == want:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < limit, f"{name}: still {got!r} after {limit}s"
        time.sleep(0.02)


@pytest.mark.parametrize("change", ["rewrite", "rename-over", "truncate", "append", "delete"])
def test_changes_behind_the_back_seen_within_a_second(cached, change):
    server, d = cached
    name = unique()
    path = d / name
    path.write_bytes(b"version one")
    for _ in range(5):  # hot: in the cache of every worker that answered
        assert body(server, name) == (200, b"version one")
    if change == "rewrite":
        with open(path, "r+b") as f:
            f.write(b"VERSION ONE")
        want = (200, b"VERSION ONE")
    elif change == "rename-over":
        (d / (name + ".new")).write_bytes(b"version two")
        os.rename(d / (name + ".new"), path)
        want = (200, b"version two")
    elif change == "truncate":
        os.truncate(path, 3)
        want = (200, b"ver")
    elif change == "append":
        with open(path, "ab") as f:
            f.write(b"+")
        want = (200, b"version one+")
    else:
        path.unlink()
        want = (404, b"404 Not Found\n")
    wait_fresh(server, name, want)
    # Within that second, threads that checked their copy before the change
    # may still serve it (each thread keeps its own); one second later none
    # does, on any connection, any worker.
    time.sleep(1.05)
    for _ in range(10):
        assert body(server, name) == want


def test_upload_through_the_server_is_seen_at_once_everywhere(cached):
    server, d = cached
    name = unique()
    (d / name).write_bytes(b"old")
    for _ in range(10):
        assert body(server, name) == (200, b"old")
    for i in range(5):
        new = f"new {i}".encode()
        with server.conn() as c:
            c.send(build_request("PUT", f"/files/{name}", body=new))
            assert c.read_response().status == 204
        # the very next request, on new connections (handed to any worker)
        for _ in range(6):
            assert body(server, name) == (200, new)
    with server.conn() as c:
        c.send(build_request("DELETE", f"/files/{name}"))
        assert c.read_response().status == 204
    for _ in range(6):
        assert body(server, name)[0] == 404


def test_validators_from_the_cache(cached):
    server, d = cached
    name = unique()
    (d / name).write_bytes(b"x" * 100)
    first = server.get(f"/files/{name}")
    for _ in range(5):
        r = server.get(f"/files/{name}")
        assert (r.get("ETag"), r.get("Last-Modified"), r.body) == (
            first.get("ETag"), first.get("Last-Modified"), b"x" * 100)
        r = server.get(f"/files/{name}", {"If-None-Match": first.get("ETag")})
        assert r.status == 304
        h = server.request("HEAD", f"/files/{name}")
        assert h.get("Content-Length") == "100" and h.body == b""


def test_small_files_hold_no_descriptors(cached):
    server, d = cached
    names = [unique() for _ in range(300)]
    for n in names:
        (d / n).write_bytes(n.encode())
    base = open_fds(server.proc.pid)
    for n in names:
        assert body(server, n) == (200, n.encode())
    assert open_fds(server.proc.pid) <= base + 4


def fds_on(pid, path):
    """The server's descriptors open on path (deleted or not)."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        n += target in (str(path), f"{path} (deleted)")
    return n


BIG = bytes(range(256)) * 400  # 100 KiB: its descriptor is kept, not its bytes


def test_large_file_descriptor_is_kept_and_let_go(make_server, engine, tmp_path):
    """A hot larger file is served from one kept descriptor (per thread that
    served it); when it is deleted behind the server's back, the next request
    sees 404 and the descriptor is closed, so the space is freed."""
    server = make_server("--threads", "1", "--workers", "1", directory=tmp_path)
    path = tmp_path / "big.bin"
    path.write_bytes(BIG)
    for _ in range(5):
        assert body(server, "big.bin") == (200, BIG)
    assert fds_on(server.proc.pid, path) == 1
    r = server.get("/files/big.bin", {"Range": "bytes=100-199"})
    assert r.status == 206 and r.body == BIG[100:200]
    path.unlink()
    wait_fresh(server, "big.bin", (404, b"404 Not Found\n"))
    assert fds_on(server.proc.pid, path) == 0, "a deleted file's descriptor is still open"


def test_unused_descriptor_is_closed_after_ten_seconds(make_server, engine, tmp_path):
    """Deleted behind the server's back and never asked for again: the
    descriptor goes after FILE_CACHE_FD_IDLE (10 s) without a request."""
    server = make_server("--threads", "1", "--workers", "1", directory=tmp_path)
    path = tmp_path / "big.bin"
    path.write_bytes(BIG)
    assert body(server, "big.bin") == (200, BIG)
    path.unlink()
    assert fds_on(server.proc.pid, path) == 1
    t0 = time.monotonic()
    while fds_on(server.proc.pid, path):
        assert time.monotonic() - t0 < 13, "still open 13 s after its last request"
        time.sleep(0.2)
    assert time.monotonic() - t0 > 8, "closed before it was unused for 10 s"


def test_file_cache_zero_turns_it_off(make_server, tmp_path):
    d = tmp_path / "files"
    d.mkdir()
    server = make_server("--file-cache", "0", directory=d)
    (d / "f").write_bytes(b"one")
    assert body(server, "f") == (200, b"one")
    (d / "f").write_bytes(b"two")
    assert body(server, "f") == (200, b"two")  # no second of grace: nothing is kept

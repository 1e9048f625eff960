"""The open-file cache of /files/ (issue 11, point 4): what a user can rely
on. An upload through the server is seen by the very next request, on every
worker; a change behind the server's back (rename over, rewrite in place,
truncate, delete) within one second; the cache holds no descriptors."""

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
        want = (404, b"")
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


def test_cache_holds_no_descriptors(cached):
    server, d = cached
    names = [unique() for _ in range(300)]
    for n in names:
        (d / n).write_bytes(n.encode())
    base = open_fds(server.proc.pid)
    for n in names:
        assert body(server, n) == (200, n.encode())
    assert open_fds(server.proc.pid) <= base + 4


def test_file_cache_zero_turns_it_off(make_server, tmp_path):
    d = tmp_path / "files"
    d.mkdir()
    server = make_server("--file-cache", "0", directory=d)
    (d / "f").write_bytes(b"one")
    assert body(server, "f") == (200, b"one")
    (d / "f").write_bytes(b"two")
    assert body(server, "f") == (200, b"two")  # no second of grace: nothing is kept

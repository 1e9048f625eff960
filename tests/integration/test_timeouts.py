"""--idle-timeout and --header-timeout (1 s each here)."""

import select
import time

import pytest


@pytest.fixture(scope="module")
def quick(module_server):
    return module_server("--idle-timeout", "1", "--header-timeout", "1")


def test_idle_keep_alive_closed_silently(quick):
    with quick.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().get("Connection") == "keep-alive"
        t0 = time.monotonic()
        closed, data = c.closed_within(3.0)
        took = time.monotonic() - t0
    assert closed, "idle keep-alive connection not closed within 3 s"
    assert data == b"", f"idle timeout sent bytes: {data!r}"
    assert took > 0.5, f"closed after {took:.2f}s: not a 1 s idle timeout"


def test_connection_without_any_bytes_closed(quick):
    with quick.conn() as c:
        closed, data = c.closed_within(3.0)
    assert closed and data == b""


def test_partial_head_gets_408(quick):
    with quick.conn() as c:
        t0 = time.monotonic()
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        r = c.read_response()
        assert r.status_line.startswith(b"HTTP/1.1 408"), r
        assert r.get("Connection") == "close"
        c.read_eof(3.0)
        assert time.monotonic() - t0 < 3.0


def test_trickled_head_gets_408(quick):
    """The header timeout counts from the first byte, not the last."""
    payload = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    with quick.conn() as c:
        t0 = time.monotonic()
        got = b""
        for byte in payload:
            try:
                c.send(bytes([byte]))
            except OSError:
                break
            readable, _, _ = select.select([c.sock], [], [], 0.3)
            if readable:
                break
            if time.monotonic() - t0 > 6:
                break
        closed, got = c.closed_within(3.0)
        took = time.monotonic() - t0
    assert got.startswith(b"HTTP/1.1 408"), f"got {got[:60]!r} after {took:.1f}s of trickling"
    assert took < 3.5, f"408 only after {took:.1f}s: the timer restarted on each byte"


def test_slow_but_timely_head_served(quick):
    with quick.conn() as c:
        c.send(b"GET /echo/slow HTTP/1.1\r\n")
        time.sleep(0.3)  # a slow client, well inside the 1 s header timeout
        c.send(b"Host: x\r\n\r\n")
        assert c.read_response().body == b"slow"


def test_active_keep_alive_outlives_idle_timeout(quick):
    """Each request restarts the idle timer: 6 requests 0.4 s apart (2.4 s
    in total) all succeed on one connection."""
    with quick.conn() as c:
        for i in range(6):
            c.send(f"GET /echo/{i} HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.read_response().body == str(i).encode()
            time.sleep(0.4)


def test_quick_server_still_serves(quick):
    assert quick.get("/echo/ok").body == b"ok"

"""--max-request-size and --max-connections."""

import os
import time

import pytest

from helpers import assert_error, build_request, chunked, served, wait_until


@pytest.fixture(scope="module")
def small(module_server, tmp_path_factory):
    """A server accepting request bodies up to 1000 bytes."""
    d = tmp_path_factory.mktemp("small")
    s = module_server("--max-request-size", "1000", directory=d)
    s.dir = d
    return s


def assert_dir_empty(d):
    """Nothing left behind (a refused upload leaves no temporary file)."""
    wait_until(lambda: os.listdir(d) == [], 3.0, what=f"{d} to be empty")


def assert_413_and_close(c):
    assert_error(c.read_response(), 413, "close")
    c.read_eof(3.0)


def test_body_at_limit_accepted(small):
    r = small.request("POST", "/files/at-limit", body=b"x" * 1000)
    assert r.status == 201
    assert (small.dir / "at-limit").read_bytes() == b"x" * 1000
    os.unlink(small.dir / "at-limit")


def test_content_length_over_limit_413(small):
    with small.conn() as c:
        c.send(build_request("POST", "/files/over", {"Content-Length": "1001"}) + b"x" * 1001)
        assert_413_and_close(c)
    assert_dir_empty(small.dir)


def test_chunked_over_limit_413(small):
    with small.conn() as c:
        c.send(build_request("POST", "/files/over-chunked", {"Transfer-Encoding": "chunked"},
                             chunked(b"y" * 600, b"y" * 600)))
        assert_413_and_close(c)
    assert_dir_empty(small.dir)


def test_chunked_at_limit_accepted(small):
    r = small.request("POST", "/files/chunked-ok", {"Transfer-Encoding": "chunked"},
                      chunked(b"z" * 500, b"z" * 500))
    assert r.status == 201
    assert (small.dir / "chunked-ok").read_bytes() == b"z" * 1000
    os.unlink(small.dir / "chunked-ok")


def test_expect_100_too_large_gets_413_without_100(small):
    with small.conn() as c:
        c.send(build_request("POST", "/files/expect-big",
                             {"Expect": "100-continue", "Content-Length": "5000"}))
        r = c.read_response()
        assert_error(r, 413, "close")  # and no 100 Continue before it
        c.read_eof(3.0)
    assert_dir_empty(small.dir)


def test_expect_100_acceptable_size(small):
    with small.conn() as c:
        c.send(build_request("POST", "/files/expect-ok",
                             {"Expect": "100-continue", "Content-Length": "10"}))
        interim = c.read_response()
        assert interim.status_line == b"HTTP/1.1 100 Continue"
        c.send(b"0123456789")
        assert c.read_response().status == 201
    assert (small.dir / "expect-ok").read_bytes() == b"0123456789"
    os.unlink(small.dir / "expect-ok")


def test_small_server_still_serves(small):
    assert small.get("/echo/ok").body == b"ok"


# -- --max-connections --------------------------------------------------------------

def test_max_connections(module_server):
    s = module_server("--max-connections", "2")
    # The start-up probe's connection may still count for a moment: poll.
    first = wait_until(lambda: served(s, "/echo/in", timeout=1.0), 5.0, what="first connection")
    second = wait_until(lambda: served(s, "/echo/in", timeout=1.0), 5.0, what="second connection")
    try:
        # A third connection is answered 503 (with Retry-After) and closed,
        # before it sends anything: a client sees why, not a reset.
        t0 = time.monotonic()
        with s.conn(timeout=3.0) as third:
            closed, data = third.closed_within(3.0)
            assert closed, "third connection not closed"
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), data
            assert b"\r\nRetry-After: 1\r\n" in head and b"\r\nConnection: close" in head, data
            assert body == b"503 Service Unavailable\n", data
        assert time.monotonic() - t0 < 4.0
        # The two open ones are unharmed.
        for c in (first, second):
            c.send(b"GET /echo/still HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.read_response().body == b"still"
        # Closing one frees a slot.
        first.close()
        fourth = wait_until(lambda: served(s, "/echo/in", timeout=1.0), 5.0, interval=0.05,
                            what="a new connection after one closed")
        fourth.close()
    finally:
        first.close()
        second.close()

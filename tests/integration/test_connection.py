"""Headers on every response, keep-alive/close, pipelining, header-name case,
request bodies on GET."""

import gzip
import random
import socket
import time

import pytest

from helpers import HELLO, assert_error, build_request, check_common_headers, chunked


def connection_behaves_as_announced(c, r):
    """Connection: close -> the server closes; keep-alive -> the socket still
    serves a request."""
    if r.get("Connection") == "close":
        assert c.read_eof(2.0) == b""
    else:
        c.send(b"GET /echo/still-open HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().body == b"still-open"


EVERY_KIND = [
    ("GET", "/", {}, None),
    ("GET", "/echo/x", {}, None),
    ("GET", "/echo/x", {"Accept-Encoding": "gzip"}, None),
    ("GET", "/user-agent", {"User-Agent": "ua"}, None),
    ("GET", "/files/hello.txt", {}, None),
    ("GET", "/files/empty.bin", {}, None),
    ("HEAD", "/echo/x", {}, None),
    ("HEAD", "/files/hello.txt", {}, None),
    ("GET", "/files/missing", {}, None),
    ("GET", "/nope", {}, None),
    ("PUT", "/files/x", {}, b""),
    ("GET", "/files/..%2Fsecret.txt", {}, None),
    ("POST", "/files/no-such-dir/x", {}, b"x"),
    ("GET", "/", {"Connection": "close"}, None),
    ("GET", "/", {"Expect": "bogus"}, None),
    ("GET", "/", {"Transfer-Encoding": "gzip"}, None),
    ("GET", "/", {"Content-Length": "abc"}, None),
    ("POST", "/files/too-big", {"Content-Length": str(10 << 20)}, None),
]


@pytest.mark.parametrize("method, path, headers, body", EVERY_KIND,
                         ids=[f"{m} {p} {' '.join(f'{k}={v}' for k, v in h.items())}".strip()
                              for m, p, h, _ in EVERY_KIND])
def test_every_response_has_length_date_connection(server, method, path, headers, body):
    with server.conn() as c:
        c.send(build_request(method, path, headers, body))
        r = c.read_response(method)
        check_common_headers(r)
        connection_behaves_as_announced(c, r)


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /files/missing HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (b"GET /files/..%2Fsecret.txt HTTP/1.1\r\nHost: x\r\n\r\n", 403),
    (b"PATCH /files/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", 405),
], ids=["404-missing-file", "404-unknown-path", "403-dotdot", "405-patch"])
def test_soft_errors_are_empty_and_keep_alive(server, request_bytes, status):
    """A well-framed request answered 403/404/405 leaves the connection usable:
    the response is empty, says keep-alive, and the next request is answered."""
    with server.conn() as c:
        c.send(request_bytes)
        assert_error(c.read_response(), status, "keep-alive")
        c.send(b"GET /echo/after HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"after")


@pytest.mark.parametrize("request_bytes, status", [
    (b"POST /files/no-such-dir/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", 409),
    (b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 404),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
], ids=["409-no-parent", "404-unread-body", "400-bad-length"])
def test_errors_with_unread_input_close(server, request_bytes, status):
    """An error answered before the request body was read (or a framing error)
    ends the connection: Content-Length: 0, no body, Connection: close, EOF."""
    with server.conn() as c:
        c.send(request_bytes)
        assert_error(c.read_response(), status, "close")
        assert c.read_eof(2.0) == b""


def test_http11_keeps_alive(server):
    with server.conn() as c:
        for i in range(3):
            c.send(f"GET /echo/{i} HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response()
            assert (r.status, r.body) == (200, str(i).encode())
            assert r.get("Connection") == "keep-alive"


@pytest.mark.parametrize("value", ["close", "Close", "foo, close", "close, foo", "keep-alive, close"])
def test_connection_close_closes(server, value):
    with server.conn() as c:
        c.send(f"GET /echo/bye HTTP/1.1\r\nHost: x\r\nConnection: {value}\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"bye")
        assert r.get("Connection") == "close"
        t0 = time.monotonic()
        assert c.read_eof(2.0) == b""
        assert time.monotonic() - t0 < 1.0, "server did not close right after the response"


def test_connection_close_on_second_request(server):
    with server.conn() as c:
        c.send(b"GET /echo/1 HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /echo/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
               b"GET /echo/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().get("Connection") == "keep-alive"
        r = c.read_response()
        assert (r.body, r.get("Connection")) == (b"2", "close")
        assert c.read_eof(2.0) == b"", "answered a request after Connection: close"


def test_http10_closes_by_default(server):
    with server.conn() as c:
        c.send(b"GET /echo/old HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"old")
        assert r.get("Connection") == "close"
        assert c.read_eof(2.0) == b""


@pytest.mark.parametrize("value", ["keep-alive", "Keep-Alive"])
def test_http10_keep_alive_persists(server, value):
    with server.conn() as c:
        for i in range(2):
            c.send(f"GET /echo/old{i} HTTP/1.0\r\nConnection: {value}\r\n\r\n")
            r = c.read_response()
            assert (r.status, r.body) == (200, f"old{i}".encode())
            assert r.get("Connection") == "keep-alive"



def test_header_names_case_insensitive(server, files_dir):
    with server.conn() as c:
        c.send(b"GET /echo/zipped HTTP/1.1\r\nhOsT: x\r\nACCEPT-ENCODING: gzip\r\n\r\n")
        r = c.read_response()
        assert r.get("Content-Encoding") == "gzip"
        assert gzip.decompress(r.body) == b"zipped"
        c.send(b"GET /user-agent HTTP/1.1\r\nHOST: x\r\nuser-agent: lower/1\r\n\r\n")
        assert c.read_response().body == b"lower/1"
        c.send(b"POST /files/case-test.txt HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\ncase")
        assert c.read_response().status == 201
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nCONNECTION: CLOSE\r\n\r\n")
        assert c.read_response().get("Connection") == "close"
        assert c.read_eof(2.0) == b""
    assert (files_dir / "case-test.txt").read_bytes() == b"case"
    (files_dir / "case-test.txt").unlink()


def test_header_values_trimmed(server, files_dir):
    with server.conn() as c:
        c.send(b"POST /files/trim-test.txt HTTP/1.1\r\nHost: x\r\nContent-Length: \t 4 \t\r\n"
               b"\r\ntrim"
               b"GET /echo/t HTTP/1.1\r\nHost: x\r\nAccept-Encoding:   gzip   \r\n\r\n")
        assert c.read_response().status == 201
        assert c.read_response().get("Content-Encoding") == "gzip"
    assert (files_dir / "trim-test.txt").read_bytes() == b"trim"
    (files_dir / "trim-test.txt").unlink()


def test_identical_duplicate_content_length_ok(server, files_dir):
    r = server.request("POST", "/files/dup-cl.txt",
                       [("Content-Length", "5"), ("Content-Length", "5")], b"twice")
    assert r.status == 201
    assert (files_dir / "dup-cl.txt").read_bytes() == b"twice"
    (files_dir / "dup-cl.txt").unlink()


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_body_on_get_is_discarded(server, framing):
    if framing == "length":
        first = b"GET /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nGET /echo/X"
    else:
        first = (b"GET /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 + chunked("GET /echo/X HTTP/1.1\r\n\r\n"))
    with server.conn() as c:
        c.send(first + b"GET /echo/b HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().body == b"a"
        assert c.read_response().body == b"b"


def test_pipelining_32_in_one_send(server):
    reqs, expect = [], []
    for i in range(32):
        kind = i % 6
        if kind == 0:
            reqs.append(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            expect.append(("GET", 200, b""))
        elif kind == 1:
            reqs.append(b"GET /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            expect.append(("GET", 200, b"%d" % i))
        elif kind == 2:
            reqs.append(b"GET /user-agent HTTP/1.1\r\nHost: x\r\nUser-Agent: ua-%d\r\n\r\n" % i)
            expect.append(("GET", 200, b"ua-%d" % i))
        elif kind == 3:
            reqs.append(b"GET /files/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            expect.append(("GET", 200, HELLO))
        elif kind == 4:
            reqs.append(b"HEAD /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            expect.append(("HEAD", 200, b""))
        else:
            reqs.append(b"GET /echo/gz%d HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n" % i)
            expect.append(("GZIP", 200, b"gz%d" % i))
    with server.conn(timeout=10) as c:
        c.send(b"".join(reqs))
        for i, (method, status, body) in enumerate(expect):
            r = c.read_response("HEAD" if method == "HEAD" else "GET")
            assert r.status == status, f"response {i}: {r}"
            got = gzip.decompress(r.body) if method == "GZIP" else r.body
            assert got == body, f"response {i} out of order or wrong: {r}"
            if method == "HEAD":
                assert r.get("Content-Length") == str(len(str(i)))
        c.send(b"GET /echo/end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert c.read_response().body == b"end"
        assert c.read_eof() == b""


def test_pipelined_post_then_get_sees_new_content(server, files_dir):
    with server.conn() as c:
        c.send(build_request("POST", "/files/pipe.txt", body=b"first")
               + build_request("GET", "/files/pipe.txt")
               + build_request("POST", "/files/pipe.txt", body=b"second!")
               + build_request("GET", "/files/pipe.txt"))
        assert c.read_response().status == 201
        assert c.read_response().body == b"first"
        assert c.read_response().status == 201
        assert c.read_response().body == b"second!"
    (files_dir / "pipe.txt").unlink()


def test_request_split_into_small_pieces(server):
    data = (b"POST /files/split.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
            b"GET /echo/split HTTP/1.1\r\nHost: x\r\n\r\n")
    rnd = random.Random(1234)
    with server.conn() as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        i = 0
        while i < len(data):
            n = rnd.randint(1, 7)
            c.send(data[i:i + n])
            i += n
            time.sleep(0.002)  # let segments go out one by one (not synchronisation)
        assert c.read_response().status == 201
        assert c.read_response().body == b"split"
    split = server.directory / "split.txt"
    assert split.read_bytes() == b"0123456789"
    split.unlink()

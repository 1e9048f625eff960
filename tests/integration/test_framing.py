"""Bad input: each gets its status, an empty error response, and the
connection closes; the server keeps serving new connections."""

import random
import socket

import pytest

from helpers import assert_error, assert_still_serving, build_request


def H(*lines, body=b""):
    """Raw request from lines (joined with CRLF, head terminated)."""
    return b"".join(l + b"\r\n" for l in lines) + b"\r\n" + body


def GET_WITH(*headers):
    return H(b"GET / HTTP/1.1", b"Host: x", *headers)


BAD = {
    "garbage-binary": (b"\x00\x01\xff\xfe\x80garbage\r\n\r\n", 400),
    "garbage-word": (b"HELLO\r\n\r\n", 400),
    "no-version": (b"GET /\r\n\r\n", 400),
    "extra-token": (b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
    "bad-protocol": (b"GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400),
    "cl-abc": (GET_WITH(b"Content-Length: abc"), 400),
    "cl-negative": (GET_WITH(b"Content-Length: -1"), 400),
    "cl-two-numbers": (GET_WITH(b"Content-Length: 1 2"), 400),
    "cl-plus": (GET_WITH(b"Content-Length: +5", ) + b"hello", 400),
    "cl-hex": (GET_WITH(b"Content-Length: 0x5") + b"hello", 400),
    "cl-empty": (GET_WITH(b"Content-Length: "), 400),
    "cl-overflow": (GET_WITH(b"Content-Length: 99999999999999999999999"), 400),
    "cl-differing-duplicates": (GET_WITH(b"Content-Length: 5", b"Content-Length: 6") + b"hello!", 400),
    "cl-and-te": (GET_WITH(b"Content-Length: 5", b"Transfer-Encoding: chunked")
                  + b"0\r\n\r\n", 400),
    "te-gzip": (GET_WITH(b"Transfer-Encoding: gzip"), 501),
    "te-unknown": (GET_WITH(b"Transfer-Encoding: foo"), 501),
    "chunk-size-bad": (GET_WITH(b"Transfer-Encoding: chunked") + b"zz\r\nhello\r\n0\r\n\r\n", 400),
    "chunk-size-empty": (GET_WITH(b"Transfer-Encoding: chunked") + b"\r\nhello\r\n0\r\n\r\n", 400),
    "chunk-no-crlf-after-data": (GET_WITH(b"Transfer-Encoding: chunked")
                                 + b"5\r\nhelloXX0\r\n\r\n", 400),
    "head-over-8k": (GET_WITH(b"X-Big: " + b"a" * 9000), 431),
    "request-line-over-8k": (H(b"GET /echo/" + b"a" * 9000 + b" HTTP/1.1", b"Host: x"), 414),
    "too-many-header-lines": (GET_WITH(*[b"X-H%d: v" % i for i in range(100)]), 431),
    "expect-other": (H(b"POST /files/expect HTTP/1.1", b"Host: x", b"Expect: something-else",
                       b"Content-Length: 1", body=b"x"), 417),
    "expect-other-no-body": (GET_WITH(b"Expect: something-else"), 417),
    "http-2.0": (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    "space-before-colon": (H(b"GET / HTTP/1.1", b"Host : x"), 400),
    "obs-fold": (GET_WITH(b"X-A: b", b"  continued"), 400),
    "bare-lf": (b"GET / HTTP/1.1\nHost: x\n\n", 400),
    "bare-lf-in-one-header": (b"GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400),
    "header-without-colon": (GET_WITH(b"NoColonHere"), 400),
    "empty-header-name": (GET_WITH(b": value"), 400),
    "duplicate-host": (H(b"GET / HTTP/1.1", b"Host: a", b"Host: b"), 400),
    "no-host": (H(b"GET / HTTP/1.1"), 400),
    "no-host-post-body-unread": (H(b"POST /files/nohost HTTP/1.1", b"Content-Length: 5",
                                   body=b"hello"), 400),
    "host-space": (H(b"GET / HTTP/1.1", b"Host: ex ample"), 400),
    "host-slash": (H(b"GET / HTTP/1.1", b"Host: x/y"), 400),
    "host-userinfo": (H(b"GET / HTTP/1.1", b"Host: a@b"), 400),
    "host-two-ports": (H(b"GET / HTTP/1.1", b"Host: h:1:2"), 400),
    "host-port-letters": (H(b"GET / HTTP/1.1", b"Host: h:8o"), 400),
    "host-bad-pct": (H(b"GET / HTTP/1.1", b"Host: h%zz"), 400),
    "host-unclosed-ipv6": (H(b"GET / HTTP/1.1", b"Host: [::1"), 400),
    "host-bad-ipv6": (H(b"GET / HTTP/1.1", b"Host: [zz::1]"), 400),
    "host-junk-after-ipv6": (H(b"GET / HTTP/1.1", b"Host: [::1]x"), 400),
    "host-utf8": (H(b"GET / HTTP/1.1", b"Host: caf\xc3\xa9"), 400),
}


@pytest.mark.parametrize("host", [
    b"", b"example.com", b"example.com:8080", b"127.0.0.1:4221", b"[::1]", b"[::1]:4221",
    b"[2001:db8::7]", b"[::ffff:192.0.2.1]", b"[v1.fe80::a+en1]", b"ex%41mple", b"a_b-c~d",
    b"x:", b"localhost",
])
def test_valid_host_values(server, host):
    """uri-host [":" port] (RFC 3986 3.2.2), and the empty value."""
    with server.conn() as c:
        c.send(H(b"GET /echo/ok HTTP/1.1", b"Host: " + host))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"ok"), r


def test_http10_may_omit_host(server):
    with server.conn() as c:
        c.send(H(b"GET /echo/old HTTP/1.0"))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"old"), r


def test_missing_host_refused_before_the_body(server, files_dir):
    """The 400 comes at once: the server does not wait for a body it will not
    read, and nothing is stored."""
    with server.conn() as c:
        c.send(H(b"POST /files/nohost HTTP/1.1", b"Content-Length: 1000000",
                 b"Expect: 100-continue"))
        assert_error(c.read_response(), 400, "close")
    assert not (files_dir / "nohost").exists()



@pytest.mark.parametrize("case", list(BAD))
def test_bad_request(server, case):
    data, status = BAD[case]
    with server.conn() as c:
        c.send(data)
        assert_error(c.read_response(), status, "close")
        c.read_eof(3.0)  # closes (leftover input may be drained first)
    assert_still_serving(server)


def test_chunk_size_overflow(server):
    with server.conn() as c:
        c.send(GET_WITH(b"Transfer-Encoding: chunked") + b"fffffffffffffffffffff\r\nx\r\n0\r\n\r\n")
        r = c.read_response()
        assert r.status in (400, 413), r
        c.read_eof(3.0)
    assert_still_serving(server)


def test_bad_request_after_good_ones_on_same_connection(server):
    with server.conn() as c:
        c.send(b"GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\nHELLO\r\n\r\n")
        assert c.read_response().body == b"one"
        assert c.read_response().status == 400
        c.read_eof(3.0)


def test_64_header_lines_and_large_head_accepted(server):
    headers = [b"X-H%d: v" % i for i in range(63)]
    r_bytes = H(b"GET /echo/many HTTP/1.1", b"Host: x", *headers)  # 64 header lines
    with server.conn() as c:
        c.send(r_bytes)
        assert c.read_response().body == b"many"
        c.send(GET_WITH(b"X-Big: " + b"b" * 7000))  # under 8 KiB in total
        assert c.read_response().status == 200


def test_url_of_7k_accepted(server):
    s = "a" * 7000
    r = server.get("/echo/" + s)
    assert (r.status, r.body) == (200, s.encode())


def test_expect_with_decided_error_gets_no_100(server):
    for path, status in [("/files/..%2Fx", 403), ("/nope", 404), ("/files/hello.txt", 405)]:
        method = "PATCH" if status == 405 else "POST"
        with server.conn() as c:
            c.send(build_request(method, path, {"Expect": "100-continue", "Content-Length": "5"}))
            r = c.read_response()
            assert r.status == status, f"{method} {path}: {r}"


def mutations(seed, count):
    rnd = random.Random(seed)
    base = [
        b"GET /echo/abc HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n",
        b"POST /files/fuzz.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        b"POST /files/fuzz.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        b"HEAD /files/hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ]
    alphabet = b"\x00\r\n :%/.;-0123456789aAfFzZ\xff\t"
    for _ in range(count):
        data = bytearray(rnd.choice(base))
        for _ in range(rnd.randint(1, 6)):
            op = rnd.randrange(4)
            i = rnd.randrange(len(data))
            if op == 0:
                data[i] = rnd.choice(alphabet)
            elif op == 1:
                data.insert(i, rnd.choice(alphabet))
            elif op == 2:
                del data[i]
            else:
                data[i:i] = data[i:i + rnd.randint(1, 40)] * rnd.randint(1, 50)
        yield bytes(data)
    for _ in range(count // 4):
        yield bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 300)))


def test_mutated_requests_never_crash_or_hang(make_server, tmp_path):
    server = make_server(directory=tmp_path)
    for i, data in enumerate(mutations(20240601, 120)):
        with server.conn() as c:
            try:
                c.send(data)
                c.sock.shutdown(socket.SHUT_WR)  # no more input: the server must finish
            except OSError:
                pass  # the server may already have answered and closed
            try:
                c.read_eof(3.0)
            except AssertionError as e:
                raise AssertionError(f"case {i} {data!r}: {e}") from None
    assert_still_serving(server)


def test_bad_percent_encoding_does_not_crash(server):
    for path in ["/echo/%", "/echo/%4", "/echo/%zz", "/files/%", "/files/%G0", "/echo/%00"]:
        with server.conn() as c:
            c.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response()
            assert r.status in (200, 400, 403, 404), f"{path}: {r}"
    assert_still_serving(server)

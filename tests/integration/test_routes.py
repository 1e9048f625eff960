"""Routes: /, /echo (percent-decoding, gzip negotiation), /user-agent, HEAD, 404."""

import gzip
import http.client
import subprocess

import pytest

from helpers import assert_error, build_request, check_common_headers, requires_curl


def test_root_is_200_with_empty_body(server):
    with server.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
    assert r.status_line == b"HTTP/1.1 200 OK"
    assert r.get("Content-Length") == "0"
    assert r.body == b""
    check_common_headers(r)


def test_echo_returns_text_plain(server):
    r = server.get("/echo/abc")
    assert r.status == 200
    assert r.body == b"abc"
    assert r.get("Content-Type") == "text/plain"
    assert r.get("Content-Length") == "3"
    assert r.get("Vary") == "Accept-Encoding"
    assert r.get("Content-Encoding") is None


@pytest.mark.parametrize("raw, text", [
    ("hello%20world", b"hello world"),
    ("%41%62c", b"Abc"),
    ("%4a%4B", b"JK"),
    ("caf%C3%A9", "café".encode()),
    ("a%2Fb", b"a/b"),
    ("100%25", b"100%"),
])
def test_echo_is_percent_decoded(server, raw, text):
    r = server.get("/echo/" + raw)
    assert (r.status, r.body) == (200, text)
    assert r.get("Content-Length") == str(len(text))


def test_echo_ignores_query_string(server):
    r = server.get("/echo/abc?x=1")
    assert (r.status, r.body) == (200, b"abc")


def test_echo_via_http_client(server):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        c.request("GET", "/echo/stdlib")
        r = c.getresponse()
        assert (r.status, r.read()) == (200, b"stdlib")
        assert r.getheader("Content-Type") == "text/plain"
        c.request("GET", "/echo/again")  # same connection (keep-alive)
        assert c.getresponse().read() == b"again"
    finally:
        c.close()


GZIP_YES = ["gzip", "GZIP", "deflate, gzip", "gzip;q=0.5", "gzip; q=1.0", "x-gzip", "*",
            "br;q=1.0, gzip;q=0.8, *;q=0.1", "gzip;q=0.001"]
GZIP_NO = [None, "gzip;q=0", "gzip;q=0.0", "gzip; q=0.000", "deflate", "identity", "br",
           "identity, *;q=0"]


@pytest.mark.parametrize("accept", GZIP_YES)
def test_echo_gzip_when_accepted(server, accept):
    text = b"compress me please " * 8
    path = "/echo/" + text.decode().replace(" ", "%20")
    r = server.request("GET", path, {"Accept-Encoding": accept})
    assert r.status == 200
    assert r.get("Content-Encoding") == "gzip", f"Accept-Encoding {accept!r}: {r}"
    assert r.get("Vary") == "Accept-Encoding"
    assert r.get("Content-Type") == "text/plain"
    assert int(r.get("Content-Length")) == len(r.body)
    assert r.body[:2] == b"\x1f\x8b"
    assert gzip.decompress(r.body) == text


@pytest.mark.parametrize("accept", GZIP_NO, ids=str)
def test_echo_not_gzipped_otherwise(server, accept):
    headers = {"Accept-Encoding": accept} if accept is not None else {}
    r = server.request("GET", "/echo/plain", headers)
    assert r.status == 200
    assert r.get("Content-Encoding") is None, f"Accept-Encoding {accept!r}: {r}"
    assert r.body == b"plain"
    assert r.get("Vary") == "Accept-Encoding"


@requires_curl
def test_curl_compressed(server):
    p = subprocess.run(["curl", "-sS", "--compressed", "-D", "-", "-o", "/dev/stderr",
                        server.url("/echo/curl-gzip")],
                       capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    headers = p.stdout.decode().lower()
    assert "content-encoding: gzip" in headers
    assert "vary: accept-encoding" in headers
    assert p.stderr == b"curl-gzip"


@pytest.mark.parametrize("sent, expected", [
    ("foo/1.0", b"foo/1.0"),
    ("   padded/2.0   ", b"padded/2.0"),
    ("\tinner spaces kept\t", b"inner spaces kept"),
])
def test_user_agent_trimmed(server, sent, expected):
    with server.conn() as c:
        c.send(f"GET /user-agent HTTP/1.1\r\nHost: x\r\nUser-Agent:{sent}\r\n\r\n")
        r = c.read_response()
    assert (r.status, r.body) == (200, expected)
    assert r.get("Content-Type") == "text/plain"
    assert r.get("Content-Length") == str(len(expected))


@requires_curl
def test_user_agent_with_curl(server):
    p = subprocess.run(["curl", "-sS", "-A", "curl-test/1.2", server.url("/user-agent")],
                       capture_output=True, timeout=20)
    assert (p.returncode, p.stdout) == (0, b"curl-test/1.2")


@pytest.mark.parametrize("path", ["/nope", "/index.html", "/echoes/x", "/user-agentx"])
def test_unknown_path_404(server, path):
    assert_error(server.get(path), 404)


@pytest.mark.parametrize("method, path", [
    ("POST", "/echo/x"), ("PUT", "/"), ("DELETE", "/user-agent"), ("POST", "/"),
    ("OPTIONS", "/"), ("PATCH", "/echo/x"), ("TRACE", "/user-agent"),
])
def test_other_known_methods_on_non_file_routes_405(server, method, path):
    """RFC 9110 15.5.6: a known method the route does not allow is 405, and
    Allow names what it does allow. The body was read: the connection stays."""
    with server.conn() as c:
        c.send(build_request(method, path, body=b""))
        r = c.read_response()
        assert_error(r, 405, "keep-alive")
        assert r.get("Allow") == "GET, HEAD"
        c.send(build_request("GET", "/echo/next"))
        assert c.read_response().body == b"next"


@pytest.mark.parametrize("method, path", [
    ("BREW", "/"), ("FOO", "/files/hello.txt"), ("get", "/echo/x"), ("PROPFIND", "/nope"),
])
def test_unknown_method_501(server, method, path):
    """RFC 9110 9.1: a method the server does not know is 501 on any path,
    known route or not (method names are case-sensitive: "get" is unknown)."""
    assert_error(server.request(method, path), 501)


@pytest.mark.parametrize("path, headers", [
    ("/", {}),
    ("/echo/head-test", {}),
    ("/echo/head-test", {"Accept-Encoding": "gzip"}),
    ("/user-agent", {"User-Agent": "head-agent"}),
    ("/files/hello.txt", {}),
    ("/files/random-1m.bin", {}),
    ("/files/missing-file", {}),
    ("/nope", {}),
])
def test_head_matches_get_without_body(server, path, headers):
    get = server.request("GET", path, headers)
    with server.conn() as c:
        # HEAD then GET / pipelined: the GET's status line must follow the
        # HEAD's headers immediately (no body bytes in between).
        c.send(build_request("HEAD", path, headers) + b"GET /echo/after HTTP/1.1\r\nHost: x\r\n\r\n")
        head = c.read_response("HEAD")
        if head.get("Connection") != "close":
            assert c.buf[:9] == b"HTTP/1.1 " or c.buf == b""
            nxt = c.read_response()
            assert (nxt.status, nxt.body) == (200, b"after")
        else:
            assert c.read_eof() == b"", "HEAD response carried a body"
    assert head.status == get.status
    assert head.header_set() == get.header_set()
    assert head.get("Content-Length") == str(len(get.body))

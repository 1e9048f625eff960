"""/files/: GET, POST uploads (Content-Length, chunked, 100-continue, curl),
405, 409, and the atomic-write promise (no temporary file left behind)."""

import http.client
import os
import subprocess
import uuid

import pytest

from helpers import HELLO, RANDOM_1M, assert_error, build_request, chunked, requires_curl, wait_until


def unique(prefix="up"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def listing(d):
    return sorted(os.listdir(d))


class StrayCheck(set):
    """Names a test may add to the directory; anything else is a stray file."""

    def __init__(self, d):
        super().__init__()
        self.dir = d
        self.before = set(listing(d))

    def strays(self):
        return set(listing(self.dir)) - self.before - self

    def wait_clean(self, timeout=3.0):
        try:
            wait_until(lambda: not self.strays(), timeout, what="temporary files to go")
        except AssertionError:
            pytest.fail(f"stray files in {self.dir}: {self.strays()}")


@pytest.fixture
def no_stray_files(files_dir):
    """Fails the test if the directory gains anything but the names the test
    adds to the returned set (e.g. a temporary upload file left behind)."""
    check = StrayCheck(files_dir)
    yield check
    check.wait_clean()


# -- GET ----------------------------------------------------------------------

@pytest.mark.parametrize("name, content", [
    ("hello.txt", HELLO),
    ("random-1m.bin", RANDOM_1M),
    ("empty.bin", b""),
    ("with%20space.txt", b"spaced\n"),
    ("sub/inner.txt", b"inner\n"),
    ("inside-link", HELLO),
])
def test_get_file(server, name, content):
    r = server.get("/files/" + name)
    assert r.status == 200
    assert r.get("Content-Type") == "application/octet-stream"
    assert r.get("Content-Length") == str(len(content))
    assert r.body == content


def test_get_file_http_client(server):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        c.request("GET", "/files/random-1m.bin")
        r = c.getresponse()
        assert r.status == 200 and r.read() == RANDOM_1M
    finally:
        c.close()


@pytest.mark.parametrize("name", ["missing.txt", "sub", "emptydir", "sub/missing", "sub/"])
def test_get_missing_or_directory_404(server, name):
    assert_error(server.get("/files/" + name), 404)


def test_no_directory_every_files_request_404(make_server):
    s = make_server()  # no --directory
    for method, body in [("GET", None), ("HEAD", None), ("POST", b"data")]:
        r = s.request(method, "/files/hello.txt", body=body)
        assert r.status == 404, f"{method}: {r}"
    assert s.get("/echo/still").body == b"still"


# -- POST -----------------------------------------------------------------------

def test_post_content_length_creates_file(server, files_dir, no_stray_files):
    name = unique()
    no_stray_files.add(name)
    r = server.request("POST", "/files/" + name, body=b"posted body\n")
    assert r.status == 201
    assert r.reason == "Created"
    assert (files_dir / name).read_bytes() == b"posted body\n"
    assert server.get("/files/" + name).body == b"posted body\n"


def test_post_empty_body(server, files_dir, no_stray_files):
    name = unique()
    no_stray_files.add(name)
    assert server.request("POST", "/files/" + name, body=b"").status == 201
    assert (files_dir / name).read_bytes() == b""


def test_post_http_client(server, files_dir, no_stray_files):
    name = unique()
    no_stray_files.add(name)
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        c.request("POST", "/files/" + name, body=RANDOM_1M)  # exactly the default limit
        assert c.getresponse().status == 201
    finally:
        c.close()
    assert (files_dir / name).read_bytes() == RANDOM_1M


@pytest.mark.parametrize("te", ["chunked", "Chunked"])
def test_post_chunked_then_pipelined_request(server, files_dir, no_stray_files, te):
    name = unique()
    no_stray_files.add(name)
    body = chunked("hello", " chunked", "x" * 300, b"\x00\xff" * 20)
    with server.conn() as c:
        c.send(build_request("POST", "/files/" + name, {"Transfer-Encoding": te}, body)
               + b"GET /echo/next HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 201
        nxt = c.read_response()
        assert (nxt.status, nxt.body) == (200, b"next")
    assert (files_dir / name).read_bytes() == b"hello chunked" + b"x" * 300 + b"\x00\xff" * 20


def test_post_chunked_with_extension_and_trailer(server, files_dir, no_stray_files):
    name = unique()
    no_stray_files.add(name)
    body = b"4;ext=1\r\nwiki\r\n9\r\npedia in \r\n0\r\nX-Trailer: t\r\n\r\n"
    r = server.request("POST", "/files/" + name, {"Transfer-Encoding": "chunked"}, body)
    assert r.status == 201
    assert (files_dir / name).read_bytes() == b"wikipedia in "


def test_post_overwrites_existing(server, files_dir, no_stray_files):
    name = unique()
    no_stray_files.add(name)
    assert server.request("POST", "/files/" + name, body=b"a much longer first version").status == 201
    assert server.request("POST", "/files/" + name, body=b"short").status == 201
    assert (files_dir / name).read_bytes() == b"short"


def test_post_into_subdirectory(server, files_dir, no_stray_files):
    name = unique()
    r = server.request("POST", f"/files/sub/{name}", body=b"nested")
    assert r.status == 201
    assert (files_dir / "sub" / name).read_bytes() == b"nested"
    os.unlink(files_dir / "sub" / name)


def test_post_expect_100_continue(server, files_dir, no_stray_files):
    name = unique()
    no_stray_files.add(name)
    with server.conn() as c:
        c.send(build_request("POST", "/files/" + name,
                             {"Expect": "100-continue", "Content-Length": "5"}))
        interim = c.read_response()
        assert interim.status_line.startswith(b"HTTP/1.1 100"), interim
        assert c.buf == b"", "bytes after 100 Continue before the body was sent"
        c.send(b"abcde")
        r = c.read_response()
    assert r.status == 201
    assert (files_dir / name).read_bytes() == b"abcde"


def test_post_expect_is_case_insensitive(server, files_dir, no_stray_files):
    name = unique()
    no_stray_files.add(name)
    with server.conn() as c:
        c.send(build_request("POST", "/files/" + name,
                             {"expect": "100-Continue", "Content-Length": "2"}))
        assert c.read_response().status == 100
        c.send(b"ok")
        assert c.read_response().status == 201


def test_interrupted_upload_leaves_old_file(server, files_dir, no_stray_files):
    name = unique()
    no_stray_files.add(name)
    (files_dir / name).write_bytes(b"original")
    with server.conn() as c:
        c.send(build_request("POST", "/files/" + name, {"Content-Length": str(1 << 20)})
               + RANDOM_1M[:200000])
        # The body streams to a temporary file in the same directory ...
        wait_until(no_stray_files.strays, 3.0, what="the upload's temporary file")
        assert (files_dir / name).read_bytes() == b"original"
    # ... which goes away when the client gives up; the old file is intact.
    no_stray_files.wait_clean()
    assert (files_dir / name).read_bytes() == b"original"


@requires_curl
def test_curl_upload_with_expect_100(server, files_dir, tmp_path, no_stray_files):
    name = unique()
    no_stray_files.add(name)
    src = tmp_path / "src.bin"
    src.write_bytes(RANDOM_1M[:200000])
    p = subprocess.run(["curl", "-sS", "-v", "-X", "POST", "-T", str(src),
                        "-H", "Expect: 100-continue", "--expect100-timeout", "10",
                        "-o", "/dev/null", "-w", "%{http_code}", server.url("/files/" + name)],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout == b"201"
    assert b"HTTP/1.1 100" in p.stderr, "no 100 Continue seen by curl"
    assert (files_dir / name).read_bytes() == RANDOM_1M[:200000]


@requires_curl
def test_curl_upload_from_stdin_is_chunked(server, files_dir, no_stray_files):
    name = unique()
    no_stray_files.add(name)
    data = RANDOM_1M[:300000]
    p = subprocess.run(["curl", "-sS", "-v", "-X", "POST", "-T", "-", "-o", "/dev/null",
                        "-w", "%{http_code}", server.url("/files/" + name)],
                       input=data, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    assert b"Transfer-Encoding: chunked" in p.stderr
    assert p.stdout == b"201"
    assert (files_dir / name).read_bytes() == data


def test_post_over_default_limit_413_without_100(server, files_dir, no_stray_files):
    name = unique()
    with server.conn() as c:
        c.send(build_request("POST", "/files/" + name,
                             {"Expect": "100-continue", "Content-Length": str((1 << 20) + 1)}))
        r = c.read_response()
        assert_error(r, 413, "close")
        c.read_eof()
    assert not (files_dir / name).exists()


def test_two_mib_upload_with_larger_limit(module_server, tmp_path, no_stray_files):
    d = tmp_path / "big"
    d.mkdir()
    s = module_server("--max-request-size", str(4 << 20), directory=d)
    data = os.urandom(2 << 20)
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    try:
        c.request("POST", "/files/two-mib.bin", body=data)
        assert c.getresponse().status == 201
    finally:
        c.close()
    assert (d / "two-mib.bin").read_bytes() == data
    assert listing(d) == ["two-mib.bin"]
    r = s.get("/files/two-mib.bin")
    assert r.body == data


# -- refusals ----------------------------------------------------------------------

@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "TRACE"])
def test_other_methods_on_files_405(server, files_dir, method):
    r = server.request(method, "/files/hello.txt", body=b"")
    assert r.status == 405
    assert r.get("Allow") == "GET, HEAD, POST, PUT, DELETE"
    assert (files_dir / "hello.txt").read_bytes() == HELLO


def test_post_into_missing_directory_409(server, files_dir, no_stray_files):
    r = server.request("POST", "/files/no-such-dir/file.txt", body=b"x")
    assert r.status == 409
    assert not (files_dir / "no-such-dir").exists()


def test_post_over_existing_directory_409(server, files_dir, no_stray_files):
    r = server.request("POST", "/files/emptydir", body=b"x")
    assert r.status == 409
    assert (files_dir / "emptydir").is_dir()
    assert listing(files_dir / "emptydir") == []

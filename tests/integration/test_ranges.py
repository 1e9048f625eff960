"""Byte ranges on /files/ (issue 11, point 3): 206 with Content-Range, 416
with "bytes */size", If-Range, multipart/byteranges for several ranges, the
whole file for what must be ignored, zero-copy and pipelined on keep-alive."""

import email.parser
import email.policy
import os
import subprocess
import time
import uuid

import pytest

from helpers import RANDOM_1M, assert_error, build_request, requires_curl

DATA = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def a_file(files_dir):
    name = f"range-{uuid.uuid4().hex[:12]}"
    (files_dir / name).write_bytes(DATA)
    yield name
    if (files_dir / name).exists():
        (files_dir / name).unlink()


def get(server, name, headers, method="GET"):
    return server.request(method, f"/files/{name}", headers)


@pytest.mark.parametrize("spec, first, last", [
    ("bytes=0-9", 0, 9), ("bytes=1000-", 1000, 1023), ("bytes=-24", 1000, 1023),
    ("bytes=1000-5000", 1000, 1023), ("bytes=-5000", 0, 1023), ("BYTES=5-5", 5, 5),
    ("bytes=0-0, 5000-", 0, 0),
])
def test_single_range_206(server, a_file, spec, first, last):
    r = get(server, a_file, {"Range": spec})
    assert r.status == 206, r
    assert r.get("Content-Range") == f"bytes {first}-{last}/1024"
    assert r.get("Content-Length") == str(last - first + 1)
    assert r.get("Content-Type") == "application/octet-stream"
    assert r.get("ETag") and r.get("Last-Modified") and r.get("Accept-Ranges") == "bytes"
    assert r.body == DATA[first:last + 1]
    h = get(server, a_file, {"Range": spec}, "HEAD")
    assert h.status == 206 and h.body == b""
    assert (h.get("Content-Range"), h.get("Content-Length")) == (r.get("Content-Range"),
                                                                 r.get("Content-Length"))


@pytest.mark.parametrize("spec", ["bytes=1024-", "bytes=5000-6000", "bytes=-0",
                                  "bytes=2000-, 3000-3001"])
def test_unsatisfiable_416(server, a_file, spec):
    with server.conn() as c:
        c.send(build_request("GET", f"/files/{a_file}", {"Range": spec}))
        r = c.read_response()
        assert_error(r, 416, "keep-alive")
        assert r.get("Content-Range") == "bytes */1024"
        c.send(build_request("GET", "/echo/after"))
        assert c.read_response().body == b"after"


def test_empty_file_range_416(server, files_dir):
    r = get(server, "empty.bin", {"Range": "bytes=0-"})
    assert r.status == 416 and r.get("Content-Range") == "bytes */0"


@pytest.mark.parametrize("spec", ["items=0-1", "bytes=5-1", "bytes=abc", "bytes 0-1", "bytes=",
                                  "bytes=0-, 0-", "bytes=0-999, 500-",
                                  "bytes=" + ",".join(f"{2*i}-{2*i}" for i in range(17))])
def test_ignored_ranges_give_the_whole_file(server, a_file, spec):
    """An unknown unit, a malformed value, overlaps adding up to more than the
    file, or more than 16 parts: 200 with the whole file (RFC 9110 14.2)."""
    r = get(server, a_file, {"Range": spec})
    assert (r.status, r.body) == (200, DATA), spec
    assert r.get("Content-Range") is None


def test_two_range_fields_ignored(server, a_file):
    r = get(server, a_file, [("Range", "bytes=0-1"), ("Range", "bytes=2-3")])
    assert (r.status, r.body) == (200, DATA)


def parse_multipart(r):
    ctype = r.get("Content-Type")
    assert ctype.startswith("multipart/byteranges; boundary="), ctype
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + r.body)
    assert msg.is_multipart()
    return [(p["Content-Range"], p["Content-Type"], p.get_payload(decode=True))
            for p in msg.iter_parts()]


def test_multiple_ranges_multipart(server, a_file):
    r = get(server, a_file, {"Range": "bytes=0-1, 1000-1023, -3, 500-600"})
    assert r.status == 206, r
    assert int(r.get("Content-Length")) == len(r.body)
    assert r.get("Content-Range") is None
    parts = parse_multipart(r)
    assert parts == [
        ("bytes 0-1/1024", "application/octet-stream", DATA[0:2]),
        ("bytes 1000-1023/1024", "application/octet-stream", DATA[1000:1024]),
        ("bytes 1021-1023/1024", "application/octet-stream", DATA[1021:1024]),
        ("bytes 500-600/1024", "application/octet-stream", DATA[500:601]),
    ]
    boundary = r.get("Content-Type").split("boundary=")[1]
    assert r.body.endswith(f"\r\n--{boundary}--\r\n".encode())
    h = get(server, a_file, {"Range": "bytes=0-1, 1000-1023, -3, 500-600"}, "HEAD")
    assert h.status == 206 and h.get("Content-Length") == r.get("Content-Length")


def test_multipart_of_a_large_file_by_sendfile(server, files_dir):
    """Parts far larger than the output buffer go out zero-copy, whole."""
    r = get(server, "random-1m.bin", {"Range": "bytes=0-99999, 300000-699999, -1"})
    assert r.status == 206 and int(r.get("Content-Length")) == len(r.body)
    assert [p[2] for p in parse_multipart(r)] == [
        RANDOM_1M[:100000], RANDOM_1M[300000:700000], RANDOM_1M[-1:]]


def test_large_single_range(server):
    r = get(server, "random-1m.bin", {"Range": "bytes=123456-987654"})
    assert r.status == 206 and r.body == RANDOM_1M[123456:987655]


def test_if_range(server, files_dir, a_file):
    # A Last-Modified in the second of the response is weak (RFC 9110
    # 13.1.5: If-Range then never matches): date the file in the past.
    os.utime(files_dir / a_file, (time.time() - 60, time.time() - 60))
    etag = get(server, a_file, {}).get("ETag")
    lm = get(server, a_file, {}).get("Last-Modified")
    for value, status in [(etag, 206), (f"W/{etag}", 200), ('"other"', 200), (lm, 206),
                          ("Thu, 01 Jan 1970 00:00:00 GMT", 200), ("garbage", 200)]:
        r = get(server, a_file, {"Range": "bytes=0-9", "If-Range": value})
        assert r.status == status, (value, r)
        assert r.body == (DATA[:10] if status == 206 else DATA)


def test_conditions_before_ranges(server, a_file):
    etag = get(server, a_file, {}).get("ETag")
    assert get(server, a_file, {"Range": "bytes=0-9", "If-None-Match": etag}).status == 304
    assert get(server, a_file, {"Range": "bytes=0-9", "If-Match": '"x"'}).status == 412


def test_ranges_pipelined_on_keep_alive(server, a_file):
    reqs = b"".join(build_request("GET", f"/files/{a_file}", {"Range": f"bytes={i * 100}-{i * 100 + 99}"})
                    for i in range(10))
    with server.conn() as c:
        c.send(reqs + build_request("GET", f"/files/{a_file}", {"Range": "bytes=0-1,-1"}))
        got = [c.read_response() for _ in range(11)]
    for i in range(10):
        assert (got[i].status, got[i].body) == (206, DATA[i * 100:i * 100 + 100])
    assert [p[2] for p in parse_multipart(got[10])] == [DATA[:2], DATA[-1:]]


@requires_curl
def test_curl_resume(server, files_dir, tmp_path):
    """`curl -C -` continues a partial download with a Range from its size."""
    out = tmp_path / "partial"
    out.write_bytes(RANDOM_1M[:300000])
    p = subprocess.run(["curl", "-sS", "-C", "-", "-o", str(out), "-w", "%{http_code}",
                        server.url("/files/random-1m.bin")], capture_output=True, timeout=30)
    assert (p.returncode, p.stdout) == (0, b"206"), p.stderr
    assert out.read_bytes() == RANDOM_1M

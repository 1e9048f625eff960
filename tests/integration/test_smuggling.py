"""Request framing and smuggling (RFC 9112 sections 6 and 7): every ambiguous
or malformed framing is answered 400 (501 for an unknown transfer coding, 413
for a chunk larger than --max-request-size) and the connection closes; the
bytes after the bad framing are never answered as a request. Valid variants
(case, optional whitespace, extensions, trailers) are accepted, with the body
boundary exactly where RFC 9112 puts it.

Every rejected case carries a smuggled `GET /echo/smuggled` where a server
that guessed the framing differently would find a request: its answer (a body
"smuggled") must never appear."""

import os
import uuid

import pytest

from helpers import assert_error, assert_still_serving, wait_until

SMUGGLED = b"GET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
NEXT = b"GET /echo/next HTTP/1.1\r\nHost: x\r\n\r\n"


def head(*lines, target=b"/echo/x", method=b"POST", version=b"HTTP/1.1"):
    """A request head: the request line, Host, the given header lines, CRLF."""
    return b"".join(l + b"\r\n" for l in
                    (method + b" " + target + b" " + version, b"Host: x") + lines) + b"\r\n"


def cl(n):
    return b"Content-Length: %d" % n


TE = b"Transfer-Encoding: chunked"
# A chunked body that ends at once, then the smuggled request: a server that
# took Content-Length (or no body) instead would see other bytes as a request.
ZERO = b"0\r\n\r\n" + SMUGGLED
CL_BODY = b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED

# -- framing decided by the head ------------------------------------------------

HEAD_CASES = {
    # CL.TE and TE.CL: both headers present, in either order and disguise.
    "cl-te": (head(cl(len(ZERO)), TE) + ZERO, 400),
    "te-cl": (head(TE, cl(len(ZERO))) + ZERO, 400),
    "cl-te-short-cl": (head(cl(3), TE) + CL_BODY, 400),
    "cl-te-upper": (head(cl(len(ZERO)), b"TRANSFER-ENCODING: CHUNKED") + ZERO, 400),
    "cl-te-zero-cl": (head(b"Content-Length: 0", TE) + ZERO, 400),
    "cl-te-unknown-coding": (head(cl(len(ZERO)), b"Transfer-Encoding: xchunked") + ZERO, 400),
    # Content-Length that disagrees with itself.
    "cl-differing": (head(cl(5), cl(6)) + b"hello!" + SMUGGLED, 400),
    "cl-differing-list": (head(b"Content-Length: 5, 6") + b"hello!" + SMUGGLED, 400),
    "cl-differing-sign": (head(cl(5), b"Content-Length: +5") + b"hello" + SMUGGLED, 400),
    "cl-space-inside": (head(b"Content-Length: 1 0") + b"0123456789" + SMUGGLED, 400),
    "cl-empty-second": (head(cl(5), b"Content-Length:") + b"hello" + SMUGGLED, 400),
    # Transfer-Encoding where chunked is not the single final coding.
    "te-chunked-identity": (head(b"Transfer-Encoding: chunked, identity") + ZERO, 400),
    "te-chunked-twice": (head(b"Transfer-Encoding: chunked, chunked") + ZERO, 400),
    "te-repeated-header": (head(TE, TE) + ZERO, 400),
    "te-chunked-then-gzip": (head(TE, b"Transfer-Encoding: gzip") + ZERO, 400),
    "te-empty": (head(b"Transfer-Encoding: ") + ZERO, 400),
    "te-empty-list": (head(b"Transfer-Encoding: ,") + ZERO, 400),
    "te-empty-list-two": (head(b"Transfer-Encoding: , ,") + ZERO, 400),
    "te-chunked-then-empty": (head(TE, b"Transfer-Encoding: ") + ZERO, 400),
    "te-chunked-then-empty-list": (head(TE, b"Transfer-Encoding: , ,") + ZERO, 400),
    "te-parameter": (head(b"Transfer-Encoding: chunked;q=1") + ZERO, 400),
    "te-quoted": (head(b'Transfer-Encoding: "chunked"') + ZERO, 400),
    # Unknown codings: 501.
    "te-xchunked": (head(b"Transfer-Encoding: xchunked") + ZERO, 501),
    "te-chunkedx": (head(b"Transfer-Encoding: chunkedx") + ZERO, 501),
    "te-gzip": (head(b"Transfer-Encoding: gzip") + ZERO, 501),
    "te-identity": (head(b"Transfer-Encoding: identity") + ZERO, 501),
    "te-gzip-chunked": (head(b"Transfer-Encoding: gzip, chunked") + ZERO, 501),
    # Whitespace and folding where a lenient parser would see a header.
    "te-space-before-colon": (head(b"Transfer-Encoding : chunked") + ZERO, 400),
    "te-tab-before-colon": (head(b"Transfer-Encoding\t: chunked") + ZERO, 400),
    "te-space-before-name": (b"POST /echo/x HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: x\r\n\r\n"
                             + ZERO, 400),
    "te-obs-fold-value": (head(b"Transfer-Encoding:", b" chunked") + ZERO, 400),
    "te-in-obs-fold": (head(b"X-A: b", b" Transfer-Encoding: chunked") + ZERO, 400),
    "te-vertical-tab": (head(b"Transfer-Encoding:\x0bchunked") + ZERO, 400),
    "te-form-feed": (head(b"Transfer-Encoding: \x0cchunked") + ZERO, 400),
    # NUL and bare CR anywhere in the head.
    "nul-in-value": (head(b"Transfer-Encoding: chunked\x00") + ZERO, 400),
    "nul-in-name": (head(b"Transfer-Encoding\x00: chunked") + ZERO, 400),
    "nul-in-target": (head(TE, target=b"/echo/a\x00b") + ZERO, 400),
    "nul-in-method": (head(TE, method=b"PO\x00ST") + ZERO, 400),
    "bare-cr-in-value": (head(b"X-A: a\rTransfer-Encoding: chunked") + ZERO, 400),
    "bare-cr-line-end": (b"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\r\n\r\n"
                         + ZERO, 400),
    "bare-cr-in-request-line": (b"POST /echo/x HTTP/1.1\rX\r\nHost: x\r\n" + TE + b"\r\n\r\n" + ZERO,
                                400),
    "bare-cr-head-end": (b"POST /echo/x HTTP/1.1\r\nHost: x\r\n" + TE + b"\r\n\r\r\n" + ZERO, 400),
    "bare-lf-head-end": (b"POST /echo/x HTTP/1.1\r\nHost: x\r\n" + TE + b"\r\n\n" + ZERO, 400),
}

# -- framing decided by the chunked body --------------------------------------------

def chunked_upload(sub, body):
    return head(TE, target=b"/files/%s/%s" % (sub.name.encode(), uuid.uuid4().hex[:12].encode())) + body


BODY_CASES = {
    # Bad chunk sizes.
    "size-not-hex": (b"zz\r\nhello\r\n0\r\n\r\n", 400),
    "size-empty": (b"\r\nhello\r\n0\r\n\r\n", 400),
    "size-0x-prefix": (b"0x5\r\nhello\r\n0\r\n\r\n", 400),
    "size-negative": (b"-5\r\nhello\r\n0\r\n\r\n", 400),
    "size-plus": (b"+5\r\nhello\r\n0\r\n\r\n", 400),
    "size-leading-space": (b" 5\r\nhello\r\n0\r\n\r\n", 400),
    "size-trailing-space": (b"5 \r\nhello\r\n0\r\n\r\n", 400),
    "size-bare-lf": (b"5\nhello\r\n0\r\n\r\n", 400),
    "size-bare-cr": (b"5\rhello\r\n0\r\n\r\n", 400),
    "size-over-2-60": (b"1000000000000001\r\nhello\r\n0\r\n\r\n", 400),
    "size-64-bit-overflow": (b"10000000000000005\r\nhello\r\n0\r\n\r\n", 400),
    "size-huge": (b"f" * 40 + b"\r\nhello\r\n0\r\n\r\n", 400),
    # A valid size beyond --max-request-size (1 MiB): 413 before the data.
    "size-2-60": (b"1000000000000000\r\nhello\r\n0\r\n\r\n", 413),
    "size-over-limit": (b"200000\r\nhello\r\n0\r\n\r\n", 413),
    # Data not where the size says.
    "data-longer": (b"5\r\nhelloXX\r\n0\r\n\r\n", 400),
    "data-no-crlf": (b"5\r\nhello0\r\n\r\n", 400),
    "data-bare-lf": (b"5\r\nhello\n0\r\n\r\n", 400),
    "last-chunk-bare-lf": (b"5\r\nhello\r\n0\n\n", 400),
    # Malformed extensions.
    "ext-empty": (b"5;\r\nhello\r\n0\r\n\r\n", 400),
    "ext-no-name": (b"5;=v\r\nhello\r\n0\r\n\r\n", 400),
    "ext-space-in-value": (b"5;a=b c\r\nhello\r\n0\r\n\r\n", 400),
    "ext-unterminated-quote": (b'5;a="open\r\nhello\r\n0\r\n\r\n', 400),
    "ext-control": (b"5;a=\x01\r\nhello\r\n0\r\n\r\n", 400),
    "ext-nul": (b"5;a\x00\r\nhello\r\n0\r\n\r\n", 400),
    "ext-bare-cr": (b"5;a\rb\r\nhello\r\n0\r\n\r\n", 400),
    # Malformed trailers.
    "trailer-no-colon": (b"5\r\nhello\r\n0\r\nNoColon\r\n\r\n", 400),
    "trailer-obs-fold": (b"5\r\nhello\r\n0\r\nX-T: a\r\n folded\r\n\r\n", 400),
    "trailer-space-before-colon": (b"5\r\nhello\r\n0\r\nX-T : a\r\n\r\n", 400),
    "trailer-nul": (b"5\r\nhello\r\n0\r\nX-T: a\x00\r\n\r\n", 400),
    "trailer-bare-lf": (b"5\r\nhello\r\n0\r\nX-T: a\n\r\n", 400),
}


@pytest.fixture(scope="module")
def uploads(module_server, tmp_path_factory):
    """A server of its own (default limits) whose directory the tests inspect."""
    d = tmp_path_factory.mktemp("smuggling")
    s = module_server(directory=d)
    s.dir = d
    return s


@pytest.fixture
def updir(uploads):
    """An empty directory of the uploads server for this test alone (uploads
    go to /files/<updir.name>/...), so one test's leftovers cannot fail another."""
    d = uploads.dir / uuid.uuid4().hex[:12]
    d.mkdir()
    return d


def assert_rejected(server, data, status):
    """status and Connection: close, then EOF with nothing more answered."""
    with server.conn() as c:
        try:
            c.send(data)
        except OSError:
            pass  # the server may have answered and closed already
        assert_error(c.read_response(), status, "close")
        rest = c.read_eof(3.0)
        assert b"smuggled" not in rest, f"smuggled request answered: {rest!r}"
        assert rest == b"", f"bytes after the error response: {rest!r}"



def assert_no_files(d):
    """A refused upload creates nothing, not even a temporary file for long."""
    wait_until(lambda: os.listdir(d) == [], 3.0, what=f"{d} to be empty")


@pytest.mark.parametrize("case", list(HEAD_CASES))
def test_head_framing_rejected(server, case):
    data, status = HEAD_CASES[case]
    assert_rejected(server, data, status)
    assert_still_serving(server)


@pytest.mark.parametrize("case", list(BODY_CASES))
def test_chunked_framing_rejected(uploads, updir, case):
    body, status = BODY_CASES[case]
    assert_rejected(uploads, chunked_upload(updir, body + SMUGGLED), status)
    assert_no_files(updir)


@pytest.mark.parametrize("case", ["cl-te", "te-cl", "cl-differing", "te-chunked-identity",
                                  "te-xchunked", "te-empty-list", "te-obs-fold-value",
                                  "nul-in-value"])
def test_head_framing_rejected_on_upload(uploads, updir, case):
    """The same head-level refusals on an upload create no file at all."""
    data, status = HEAD_CASES[case]
    target = b"/files/%s/%s" % (updir.name.encode(), case.encode())
    upload = data.replace(b" /echo/x ", b" " + target + b" ", 1)
    assert target in upload, f"{case}: no /echo/x request line to retarget"
    assert_rejected(uploads, upload, status)
    assert_no_files(updir)


# -- valid variants: accepted, body boundary exact ---------------------------------------

ACCEPTED = {
    # Transfer-Encoding values that are a single final chunked.
    "te-capitalised": ([b"Transfer-Encoding: Chunked"], b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
    "te-uppercase": ([b"TRANSFER-ENCODING: CHUNKED"], b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
    "te-leading-space-value": ([b"Transfer-Encoding:    chunked"], b"3\r\nabc\r\n0\r\n\r\n", b"abc"),
    "te-tab-around-value": ([b"Transfer-Encoding:\tchunked\t "], b"3\r\nabc\r\n0\r\n\r\n", b"abc"),
    "te-empty-list-elements": ([b"Transfer-Encoding: , chunked"], b"3\r\nabc\r\n0\r\n\r\n", b"abc"),
    # Content-Length repeated with the same value.
    "cl-identical-headers": ([cl(5), cl(5)], b"hello", b"hello"),
    "cl-identical-list": ([b"Content-Length: 5, 5"], b"hello", b"hello"),
    "cl-leading-zeros": ([b"Content-Length: 005"], b"hello", b"hello"),
    # Chunk sizes and extensions that RFC 9112 allows.
    "size-uppercase-hex": ([TE], b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
    "size-leading-zeros": ([TE], b"00000000000000000005\r\nhello\r\n000\r\n\r\n", b"hello"),
    "ext-token": ([TE], b"5;name=value\r\nhello\r\n0;last\r\n\r\n", b"hello"),
    "ext-quoted": ([TE], b'5;a="q \\" ; x";b\r\nhello\r\n0\r\n\r\n', b"hello"),
    "ext-bws": ([TE], b"5 \t; a = b ;c\r\nhello\r\n0\r\n\r\n", b"hello"),
    "ext-many": ([TE], b"5" + b";e=1" * 50 + b"\r\nhello\r\n0\r\n\r\n", b"hello"),
    # Trailers are read and ignored, framing headers among them too.
    "trailers": ([TE], b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n", b"hello"),
    "trailer-framing-headers": ([TE], b"5\r\nhello\r\n0\r\nContent-Length: 100\r\n"
                                b"Transfer-Encoding: gzip\r\n\r\n", b"hello"),
    "many-chunks": ([TE], b"".join(b"1\r\n%c\r\n" % ch for ch in b"abcdefghij") + b"0\r\n\r\n",
                    b"abcdefghij"),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_valid_framing_accepted(uploads, updir, case):
    headers, body, content = ACCEPTED[case]
    with uploads.conn() as c:
        c.send(head(*headers, target=b"/files/%s/ok" % updir.name.encode()) + body + NEXT)
        r = c.read_response()
        assert r.status == 201, r
        assert r.get("Connection") == "keep-alive", r
        # The next request starts exactly where the body ends.
        r = c.read_response()
        assert (r.status, r.body) == (200, b"next"), r
    assert (updir / "ok").read_bytes() == content
    os.unlink(updir / "ok")
    assert_no_files(updir)


def test_body_on_get_is_read_and_skipped(server):
    """A body on a request that does not use it is still framed and dropped."""
    with server.conn() as c:
        c.send(head(cl(len(SMUGGLED)), method=b"GET", target=b"/echo/a") + SMUGGLED + NEXT)
        assert c.read_response().body == b"a"
        assert c.read_response().body == b"next"
        c.send(head(TE, method=b"GET", target=b"/echo/b") + b"%x\r\n" % len(SMUGGLED) + SMUGGLED
               + b"\r\n0\r\n\r\n" + NEXT)
        assert c.read_response().body == b"b"
        assert c.read_response().body == b"next"


def test_http10_chunked_processed_then_closed(uploads, updir):
    """RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing:
    the request may be processed, but the connection must close after it."""
    with uploads.conn() as c:
        c.send(head(TE, target=b"/files/%s/http10" % updir.name.encode(), version=b"HTTP/1.0")
               + b"3\r\nabc\r\n0\r\n\r\n" + SMUGGLED)
        r = c.read_response()
        assert r.status == 201, r
        assert r.get("Connection") == "close", r
        rest = c.read_eof(3.0)
        assert b"smuggled" not in rest and rest == b"", rest
    assert (updir / "http10").read_bytes() == b"abc"
    os.unlink(updir / "http10")
    assert_no_files(updir)


def test_rejection_after_good_requests_keeps_their_answers(server):
    """A pipelined batch answered up to the bad framing, then closed."""
    with server.conn() as c:
        c.send(NEXT + head(cl(5), TE) + ZERO + NEXT)
        assert c.read_response().body == b"next"
        r = c.read_response()
        assert r.status == 400 and r.get("Connection") == "close", r
        rest = c.read_eof(3.0)
        assert rest == b"", rest

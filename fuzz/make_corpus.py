#!/usr/bin/env python3
"""Write the seed corpus of every fuzz target into fuzz/corpus/<target>/.

    python3 fuzz/make_corpus.py

The seeds are small, readable inputs (valid requests, pipelined ones, chunked
bodies, uploads, edge cases) from which libFuzzer mutates. The output is a
pure function of this file: every run writes the same files, and removes
files it no longer writes, except those named regress-* (inputs that once
found a bug, added by hand; they are kept as regression tests) and those
named by a 40-digit hex SHA-1 (inputs libFuzzer found, merged in from long
runs with `fuzz_<target> -set_cover_merge=1 fuzz/corpus/<target>
build-fuzz/corpus/<target>`, so CI's short runs and the ctest replay start
from the coverage those runs reached).
"""

import re
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"


def crlf(*lines):
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def chunked(*pieces, trailer=b""):
    out = b""
    for p in pieces:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


GET_ROOT = crlf(b"GET / HTTP/1.1", b"Host: localhost")

# -- request heads (parse) and the requests of whole connections (conn) --------

REQUESTS = {
    "get-root": GET_ROOT,
    "get-echo": crlf(b"GET /echo/hello%20world HTTP/1.1", b"Host: x", b"User-Agent: curl/8.0"),
    "get-echo-gzip": crlf(b"GET /echo/abcabcabc HTTP/1.1", b"Host: x",
                          b"Accept-Encoding: br, gzip;q=0.8"),
    "get-user-agent": crlf(b"GET /user-agent HTTP/1.1", b"User-Agent:  \tfoo/1.2 (x)\t "),
    "head-file": crlf(b"HEAD /files/hello.txt HTTP/1.1", b"Host: x"),
    "http10-keep-alive": crlf(b"GET /echo/a HTTP/1.0", b"Connection: keep-alive"),
    "http10": crlf(b"GET / HTTP/1.0"),
    "absolute-form": crlf(b"GET http://example.com/echo/abs?q=1 HTTP/1.1", b"Host: example.com"),
    "options-star": crlf(b"OPTIONS * HTTP/1.1", b"Host: x"),
    "connection-close": crlf(b"GET / HTTP/1.1", b"Connection: keep-alive, close"),
    "empty-lines-first": b"\r\n\r\n" + GET_ROOT,
    "post-length": crlf(b"POST /files/up.txt HTTP/1.1", b"Host: x", b"Content-Length: 5") + b"hello",
    "post-chunked": crlf(b"POST /files/up.txt HTTP/1.1", b"Transfer-Encoding: chunked")
    + chunked(b"hello", b", world"),
    "post-expect": crlf(b"POST /files/up.txt HTTP/1.1", b"Expect: 100-continue",
                        b"Content-Length: 3") + b"abc",
    "many-headers": crlf(b"GET / HTTP/1.1", *[b"X-H%d: v%d" % (i, i) for i in range(64)]),
    "too-many-headers": crlf(b"GET / HTTP/1.1", *[b"X-%d: v" % i for i in range(65)]),
    "long-header": crlf(b"GET / HTTP/1.1", b"X-Long: " + b"a" * 8100),
    "obs-text": crlf(b"GET / HTTP/1.1", b"X-A: caf\xe9 \x80\xff"),
    "bad-obs-fold": crlf(b"GET / HTTP/1.1", b"X-A: b", b" folded"),
    "bad-bare-lf": b"GET / HTTP/1.1\nHost: x\n\n",
    "bad-bare-cr": b"GET / HTTP/1.1\rHost: x\r\n\r\n",
    "bad-nul": crlf(b"GET / HTTP/1.1", b"X-A: a\x00b"),
    "bad-space-before-colon": crlf(b"GET / HTTP/1.1", b"Host : x"),
    "bad-http2": crlf(b"GET / HTTP/2.0"),
    "bad-method": crlf(b"G(T / HTTP/1.1"),
    "bad-target-space": crlf(b"GET /a b HTTP/1.1"),
    "bad-version": crlf(b"GET / HTTP/1.1x"),
    "lowercase-method": crlf(b"get / HTTP/1.1"),
    "cl-te": crlf(b"POST /echo/x HTTP/1.1", b"Content-Length: 6", b"Transfer-Encoding: chunked")
    + b"0\r\n\r\nGET /echo/smuggled HTTP/1.1\r\n\r\n",
    "te-identity": crlf(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked, identity") + b"0\r\n\r\n",
}

PIPELINED = (crlf(b"GET /echo/one HTTP/1.1") + crlf(b"HEAD /echo/two HTTP/1.1")
             + crlf(b"GET /user-agent HTTP/1.1", b"User-Agent: ua")
             + crlf(b"GET /nope HTTP/1.1")
             + crlf(b"GET /files/hello.txt HTTP/1.1", b"Connection: close")
             + crlf(b"GET /echo/never HTTP/1.1"))


def parse_seeds():
    seeds = {}
    for i, (name, req) in enumerate(REQUESTS.items()):
        split = (i * 37) % 256  # byte 0: where the two-piece parse cuts
        seeds[name] = bytes([split]) + req
    seeds["pipelined"] = bytes([128]) + PIPELINED
    seeds["partial"] = bytes([200]) + b"GET /echo/partial HTTP/1.1\r\nHost: x"
    seeds["empty"] = b"\x00"
    return seeds


# -- chunked bodies ---------------------------------------------------------------

def chunked_seeds():
    return {
        "simple": chunked(b"hello"),
        "two-chunks": chunked(b"hello", b", world"),
        "empty-body": b"0\r\n\r\n",
        "extensions": b"5;ext=1\r\nhello\r\n6 ; a ; b=\"q \\\" s\"\r\n world\r\n0;last\r\n\r\n",
        "trailers": chunked(b"abc", trailer=b"X-Trailer: v\r\nContent-Length: 100\r\n"),
        "uppercase-hex": b"A\r\n0123456789\r\n0\r\n\r\n",
        "leading-zeros": b"0000000005\r\nhello\r\n000\r\n\r\n",
        "then-next-request": chunked(b"data") + b"GET / HTTP/1.1\r\n\r\n",
        "many-small": chunked(*[bytes([65 + i % 26]) for i in range(200)]),
        "one-big": chunked(bytes(range(256)) * 16),
        "bad-size": b"zz\r\nhello\r\n0\r\n\r\n",
        "bad-empty-size": b"\r\nhello\r\n0\r\n\r\n",
        "bad-no-crlf-after-data": b"5\r\nhelloXX0\r\n\r\n",
        "bad-overflow": b"1000000000000001\r\nx\r\n0\r\n\r\n",
        "max-size": b"1000000000000000\r\nxyz",
        "bad-ext": b"5;=v\r\nhello\r\n0\r\n\r\n",
        "bad-quoted-ext": b"5;a=\"open\r\nhello\r\n0\r\n\r\n",
        "bad-trailer-fold": b"0\r\nX-A: b\r\n c\r\n\r\n",
        "bad-bare-lf": b"5\nhello\n0\n\n",
        "bws": b"5 \t;\tname = value\r\nhello\r\n0\r\n\r\n",
        "bad-size-then-space": b"5 \r\nhello\r\n0\r\n\r\n",
        "partial": b"10\r\nonly part",
    }


# -- targets, percent-decoding, names --------------------------------------------

def uri_seeds():
    items = [
        b"/", b"/echo/hello%20world", b"/files/a%2Fb.txt", b"/files/sub/inner.txt",
        b"http://example.com/echo/x?q=1", b"HTTPS://h", b"http://h?x", b"http:///a", b"*",
        b"a/b", b"..", b"../etc/passwd", b"a/../b", b"%2e%2e/x", b"a/%2E%2e", b"%00", b"a%00b",
        b"%", b"%4", b"%zz", b"%4g", b"%41%42%43", b"/a//b", b"./a", b"a/.", b"a/", b"\xc3\xa9t\xc3\xa9",
        b"name with space", b"a?b=c/d", b"%2F", b"x" * 300,
    ]
    return {f"{i:02d}": item for i, item in enumerate(items)}


def gzip_seeds():
    items = [
        b"gzip", b"gzip;q=0", b"*;q=0.5", b"x-gzip", b"GZIP;Q=1.000", b"br, gzip;q=0.5",
        b"identity", b"gzip;q=0, *", b"*", b"gzip;q=1.5", b"gzip;foo=\"bar,baz\"", b"gzip\ngzip;q=0",
        b"deflate, gzip;q=0.001", b",,,", b"", b"gzip;q=0.0001", b"br\n*;q=0.1\nidentity",
        b"gzip;;q=1", b"gzip;q", b"gzip ; q=0 , gzip", b"compress, x-gzip;q=0.000",
        b"gzip;a=\"\\\"\";q=1",
    ]
    return {f"{i:02d}": item for i, item in enumerate(items)}


def cond_seeds():
    items = [
        b"Sun, 06 Nov 1994 08:49:37 GMT", b"Sunday, 06-Nov-94 08:49:37 GMT",
        b"Sun Nov  6 08:49:37 1994", b"Tue, 29 Feb 2000 23:59:59 GMT", b"Thu, 01 Jan 1970 00:00:00 GMT",
        b"Sun, 31 Nov 1994 08:49:37 GMT", b"*", b" * ", b"\"abc\"", b"W/\"abc\"",
        b"\"x\", W/\"abc\" , \"1234-6-e8d4a51005\"", b"\"a,b\"", b"\"unterminated", b",,\"abc\",,",
        b"\"1234-6-e8d4a51005\"", b"W/", b"", b"Thu, 01 Jan 1970 00:16:40 GMT",
        b"Friday, 04-Dec-69 00:00:00 GMT", b"\"a\tb\"",
        b"bytes=0-99", b"bytes=-100", b"bytes=500-", b"bytes=0-1, 5-6, -2", b"BYTES=1-2",
        b"bytes=0-, 0-", b"bytes=99999999999999999999-", b"items=0-1", b"bytes=5-1",
    ]
    return {f"{i:02d}": item for i, item in enumerate(items)}


# -- whole connections --------------------------------------------------------------

# fuzz_conn.c input: [flags][n][n control bytes][stream]. Flag bits:
MAX_BODY_1000, MAX_BODY_10 = 1, 3
EOF_HANGS, NO_LOG, PEER_V4, PEER_V6, FAULTS, DRAIN = 4, 8, 16, 32, 64, 128


def conn_input(stream, flags=0, ctl=b""):
    assert len(ctl) < 256
    return bytes([flags, len(ctl)]) + ctl + stream


def conn_seeds():
    big_upload = crlf(b"POST /files/big-up.bin HTTP/1.1", b"Content-Length: 20000") + bytes(
        (i * 13) & 0xFF for i in range(20000))
    seeds = {
        "get-root": conn_input(GET_ROOT),
        "pipelined": conn_input(PIPELINED, PEER_V4),
        "pipelined-bytewise": conn_input(PIPELINED, PEER_V6, b"\x01"),
        "pipelined-cuts": conn_input(PIPELINED, 0, b"\x07\x03\x30\x00\x11"),
        "echo-gzip-short-sends": conn_input(REQUESTS["get-echo-gzip"], 0, b"\x00\x02"),
        "user-agent": conn_input(REQUESTS["get-user-agent"]),
        "get-file": conn_input(crlf(b"GET /files/hello.txt HTTP/1.1")),
        "get-big-file": conn_input(crlf(b"GET /files/big.bin HTTP/1.1"), 0, b"\x00\x40"),
        "head-big-file": conn_input(crlf(b"HEAD /files/big.bin HTTP/1.1")),
        "get-empty-file": conn_input(crlf(b"GET /files/empty.bin HTTP/1.1")),
        "get-special": conn_input(crlf(b"GET /files/fifo HTTP/1.1") + crlf(b"GET /files/sub HTTP/1.1")
                                  + crlf(b"GET /files/escape HTTP/1.1")
                                  + crlf(b"GET /files/loop HTTP/1.1")
                                  + crlf(b"GET /files/inside HTTP/1.1")
                                  + crlf(b"GET /files/sub/inner.txt HTTP/1.1")),
        "get-refused-names": conn_input(crlf(b"GET /files/..%2Fx HTTP/1.1")
                                        + crlf(b"GET /files/a%00b HTTP/1.1")
                                        + crlf(b"GET /files/sub/ HTTP/1.1")
                                        + crlf(b"DELETE /files/hello.txt HTTP/1.1")),
        "upload-length": conn_input(REQUESTS["post-length"] + crlf(b"GET /files/up.txt HTTP/1.1")),
        "upload-chunked-expect": conn_input(
            crlf(b"POST /files/up.txt HTTP/1.1", b"Transfer-Encoding: chunked",
                 b"Expect: 100-continue")
            + b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n"
            + crlf(b"GET /files/up.txt HTTP/1.1"), 0, b"\x05"),
        "upload-over-existing": conn_input(
            crlf(b"POST /files/hello.txt HTTP/1.1", b"Content-Length: 4") + b"new!"),
        "upload-subdir": conn_input(crlf(b"POST /files/sub/new.txt HTTP/1.1", b"Content-Length: 2")
                                    + b"ok"),
        "upload-conflicts": conn_input(crlf(b"POST /files/sub HTTP/1.1", b"Content-Length: 1") + b"x"
                                       + crlf(b"POST /files/nodir/x HTTP/1.1", b"Content-Length: 1")
                                       + b"x"),
        "upload-big": conn_input(big_upload, 0, b"\x00\x7f\x90"),
        "upload-too-big": conn_input(REQUESTS["post-length"], MAX_BODY_10),
        "upload-chunked-too-big": conn_input(
            crlf(b"POST /files/c.bin HTTP/1.1", b"Transfer-Encoding: chunked")
            + b"400\r\n" + b"y" * 1024 + b"\r\n0\r\n\r\n", MAX_BODY_1000),
        "upload-cut": conn_input(crlf(b"POST /files/up.txt HTTP/1.1", b"Content-Length: 100")
                                 + b"short"),
        "upload-stalled": conn_input(crlf(b"POST /files/up.txt HTTP/1.1", b"Content-Length: 100")
                                     + b"short", EOF_HANGS),
        "head-stalled": conn_input(b"GET / HTTP/1.1\r\nHost: x", EOF_HANGS),
        "idle-stalled": conn_input(GET_ROOT, EOF_HANGS),
        "bad-then-more": conn_input(crlf(b"GET / HTTP/1.1", b"Content-Length: abc") + GET_ROOT),
        "smuggle-cl-te": conn_input(REQUESTS["cl-te"]),
        "te-unknown": conn_input(crlf(b"POST / HTTP/1.1", b"Transfer-Encoding: gzip")
                                 + b"xxxx" + GET_ROOT),
        "body-discarded": conn_input(crlf(b"POST /echo/x HTTP/1.1", b"Content-Length: 5") + b"hello"
                                     + crlf(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked")
                                     + chunked(b"abc") + GET_ROOT),
        "http10": conn_input(REQUESTS["http10-keep-alive"] + REQUESTS["http10"] + GET_ROOT),
        "no-log": conn_input(PIPELINED, NO_LOG),
        "faults-upload": conn_input(REQUESTS["post-chunked"], FAULTS, b"\x00\xf9\xf3\x00\xfc"),
        "faults-sends": conn_input(crlf(b"GET /files/big.bin HTTP/1.1") + GET_ROOT, FAULTS,
                                   b"\x00\x20\x00\xfd"),
        "faults-write-enospc": conn_input(big_upload[:3000], FAULTS, b"\x00" * 4 + b"\xf8"),
        "faults-timeout": conn_input(PIPELINED, FAULTS, b"\x10\xf9"),
        "drain": conn_input(PIPELINED, DRAIN, b"\x02\x40"),
        "drain-idle": conn_input(GET_ROOT, DRAIN | PEER_V4, b"\x01"),
        "garbage": conn_input(b"\x00\x01\xff\xfe\x80garbage\r\n\r\n"),
    }
    return seeds


def kept(name):
    """Inputs this script does not own: regressions and merged fuzzer finds."""
    return name.startswith("regress-") or re.fullmatch(r"[0-9a-f]{40}", name) is not None


def write(target, seeds):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.iterdir():
        if old.name not in seeds and not kept(old.name):
            old.unlink()
    for name, data in seeds.items():
        p = d / name
        if not p.exists() or p.read_bytes() != data:
            p.write_bytes(data)
    return len(seeds)


def main():
    counts = {
        "parse": write("parse", parse_seeds()),
        "chunked": write("chunked", chunked_seeds()),
        "uri": write("uri", uri_seeds()),
        "gzip_accept": write("gzip_accept", gzip_seeds()),
        "conn": write("conn", conn_seeds()),
        "cond": write("cond", cond_seeds()),
    }
    print(" ".join(f"{t}={n}" for t, n in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    main()

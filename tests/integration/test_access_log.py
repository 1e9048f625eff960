"""--access-log FILE|-: one Common Log Format line per request."""

import os
import re
import threading
import time

import pytest

from helpers import build_request, wait_until

CLF = re.compile(
    r'^127\.0\.0\.1 - - \[\d{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:'
    r'\d{2}:\d{2}:\d{2} [+-]\d{4}\] "(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-)$')

ZERO = ("0", "-")  # Apache CLF writes "-" for zero bytes; accept both


def logged_lines(read, n):
    return wait_until(lambda: (lambda ls: ls if len(ls) >= n else None)(read().splitlines()),
                      3.0, what=f"{n} access log lines")


def run_requests(server):
    with server.conn() as c:
        c.send(build_request("GET", "/echo/x")
               + build_request("GET", "/")
               + build_request("GET", "/echo/hello", {"Accept-Encoding": "gzip"})
               + build_request("HEAD", "/echo/abc")
               + build_request("GET", "/files/hello.txt"))
        sizes = [len(c.read_response().body) for _ in range(3)]
        c.read_response("HEAD")
        sizes.append(len(c.read_response().body))
        c.send(build_request("GET", "/nope"))
        c.read_response()
    return sizes


def run_clients(client, n, timeout):
    """client(c) for c in range(n), each in a thread; all must finish within
    timeout and none may raise (failures are reported from the test)."""
    errors = []

    def guarded(c):
        try:
            client(c)
        except Exception as e:  # reported below, from the test's thread
            errors.append(f"client {c}: {e!r}")

    threads = [threading.Thread(target=guarded, args=(c,)) for c in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), f"clients still waiting after {timeout} s"
    assert not errors, errors


def check_lines(lines, sizes):
    expected = [
        ("GET /echo/x HTTP/1.1", "200", ("1",)),
        ("GET / HTTP/1.1", "200", ZERO),
        ("GET /echo/hello HTTP/1.1", "200", (str(sizes[2]),)),
        ("HEAD /echo/abc HTTP/1.1", "200", ZERO),
        ("GET /files/hello.txt HTTP/1.1", "200", (str(sizes[3]),)),
        ("GET /nope HTTP/1.1", "404", ZERO),
    ]
    assert len(lines) == len(expected), f"expected {len(expected)} lines:\n" + "\n".join(lines)
    for line, (request, status, nbytes) in zip(lines, expected):
        m = CLF.match(line)
        assert m, f"not Common Log Format: {line!r}"
        assert m["request"] == request, line
        assert m["status"] == status, line
        assert m["bytes"] in nbytes, line


def test_access_log_file(make_server, files_dir, tmp_path):
    log = tmp_path / "access.log"
    s = make_server("--access-log", log, directory=files_dir)
    sizes = run_requests(s)
    lines = logged_lines(lambda: log.read_text() if log.exists() else "", 6)
    check_lines(lines, sizes)
    assert "GET" not in s.stderr(), "access log lines also went to stderr"


def test_access_log_stdout(make_server, files_dir):
    s = make_server("--access-log", "-", directory=files_dir)
    sizes = run_requests(s)
    lines = logged_lines(s.stdout, 6)
    check_lines(lines, sizes)


def test_exact_line_shape(make_server, tmp_path):
    log = tmp_path / "a.log"
    s = make_server("--access-log", log)
    s.get("/echo/x")
    line = logged_lines(lambda: log.read_text() if log.exists() else "", 1)[0]
    assert re.match(r'^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] '
                    r'"GET /echo/x HTTP/1.1" 200 1$', line), line


def test_lines_stay_whole_through_a_fifo_from_two_workers(make_server, tmp_path):
    """Long lines from several event loops into one pipe: the uring engine
    batches lines per worker, so each write must be cut at a line end and
    stay within PIPE_BUF; no line may be torn or lost."""
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    got = bytearray()

    def reader():
        # Opens once the server opens the FIFO for writing. A slow reader keeps
        # the pipe full, which is when writers' data could interleave.
        with open(fifo, "rb", buffering=0) as f:
            while chunk := f.read(4096):
                got.extend(chunk)
                time.sleep(0.0005)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    s = make_server("--access-log", fifo, "--workers", "2")
    pad = "p" * 1500  # lines of ~1.6 KB: a batch of three exceeds PIPE_BUF (4096)
    paths = [f"/echo/{c}-{i}-{pad}" for c in range(8) for i in range(100)]

    def client(c):
        mine = [p for p in paths if p.startswith(f"/echo/{c}-")]
        with s.conn() as conn:
            conn.send(b"".join(build_request("GET", p) for p in mine))
            for p in mine:
                assert conn.read_response().body == p[len("/echo/"):].encode()

    run_clients(client, 8, 30)
    s.stop()
    t.join(10)
    assert not t.is_alive(), "the log FIFO was not closed at exit"
    lines = got.decode().splitlines()
    seen = []
    for line in lines:
        m = CLF.match(line)
        assert m, f"torn or malformed line: {line[:120]!r}...{line[-60:]!r}"
        assert m["status"] == "200", line[:120]
        seen.append(m["request"])
    assert sorted(seen) == sorted(f"GET {p} HTTP/1.1" for p in paths)


@pytest.mark.engine("uring")
def test_a_stuck_log_never_stalls_requests_or_shutdown(make_server, tmp_path):
    """A log pipe nobody reads: the uring engine keeps answering (lines wait
    in memory up to 4 MiB per worker, then are dropped and counted) and still
    shuts down on time. (The threads engine writes with write(2): a stuck
    log blocks its workers, as it would nginx's.)"""
    fifo = tmp_path / "stuck.fifo"
    os.mkfifo(fifo)
    # Held open, never read: the pipe fills at 64 KiB.
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        s = make_server("--access-log", fifo, "--workers", "1")  # one 4 MiB cap
        path = "/echo/" + "s" * 1500
        per_conn, nconns = 400, 8  # 3,200 lines of ~1.6 KB: over 4 MiB

        def client(c):
            with s.conn(timeout=10) as conn:
                conn.send(build_request("GET", path) * per_conn)
                for _ in range(per_conn):
                    assert conn.read_response().status == 200

        run_clients(client, nconns, 60)
        wait_until(lambda: "dropping lines" in s.stderr(), 5.0, what="the dropping warning")
        rc, took = s.stop(timeout=10)
        assert rc == 0, s.stderr()[-2000:]
        assert took < 3.0, f"exit took {took:.2f}s: shutdown waited for the stuck log"
        assert re.search(r"access log: \d+ lines dropped", s.stderr()), s.stderr()[-2000:]
    finally:
        os.close(rfd)


def test_stdout_file_without_append_from_two_workers(make_server):
    """--access-log - with stdout a file opened without O_APPEND (as a
    shell's "> file" does; the harness opens it "wb"): with several workers no
    line may be lost or overwritten."""
    s = make_server("--access-log", "-", "--workers", "2")
    per_conn, nconns, pad = 300, 8, "q" * 300  # large batches from both workers at once

    def client(c):
        with s.conn() as conn:
            conn.send(b"".join(build_request("GET", f"/echo/{c}-{i}-{pad}")
                               for i in range(per_conn)))
            for i in range(per_conn):
                assert conn.read_response().body == f"{c}-{i}-{pad}".encode()

    run_clients(client, nconns, 30)
    want = sorted(f"GET /echo/{c}-{i}-{pad} HTTP/1.1"
                  for c in range(nconns) for i in range(per_conn))
    lines = logged_lines(s.stdout, len(want))
    got = []
    for line in lines:
        m = CLF.match(line)
        assert m, f"torn or malformed line: {line[:120]!r}"
        got.append(m["request"])
    assert sorted(got) == want


# -- escaping and rejected requests ------------------------------------------------------


def one_exchange(srv, raw):
    """Send raw bytes on a new connection and read until the server closes
    or answers; returns the status line."""
    with srv.conn() as c:
        c.send(raw)
        return c.read_response().status


@pytest.mark.parametrize("raw, status, logged", [
    # A quote cannot end the request field early and forge the fields after it.
    (b'GET /echo/a"%20200%201 HTTP/1.1\r\nHost: x\r\n\r\n', 200,
     r'GET /echo/a\x22%20200%201 HTTP/1.1'),
    (b"GET /echo/back\\slash HTTP/1.1\r\nHost: x\r\n\r\n", 200,
     r"GET /echo/back\x5Cslash HTTP/1.1"),
    (b"GET /echo/\x01\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400, r"GET /echo/\x01\xFF HTTP/1.1"),
    (b"GET /echo/%22 HTTP/1.1\r\nHost: x\r\n\r\n", 200, "GET /echo/%22 HTTP/1.1"),
    # Rejected heads log what was received of their request line.
    (b"GET /echo/x HTTP/1.1\r\nBad Header: y\r\n\r\n", 400, "GET /echo/x HTTP/1.1"),
    (b"GET /echo/x HTTP/2.0\r\nHost: x\r\n\r\n", 505, "GET /echo/x HTTP/2.0"),
    (b"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
     "POST /echo/x HTTP/1.1"),
    (b"GET /echo/x\tHTTP/1.1\r\n\r\n", 400, r"GET /echo/x\x09HTTP/1.1"),
], ids=["quote", "backslash", "control-and-8bit", "percent", "bad-header", "505", "501", "tab"])
def test_request_field_escaped_and_rejects_logged(make_server, tmp_path, raw, status, logged):
    log = tmp_path / "access.log"
    srv = make_server("--access-log", str(log))
    assert one_exchange(srv, raw) == status
    (line,) = logged_lines(log.read_text, 1)
    m = CLF.match(line)
    assert m, f"not one CLF line with exactly the expected fields: {line!r}"
    assert m.group("request") == logged and m.group("status") == str(status), line


def test_overlong_request_line_logged_truncated_and_escaped(make_server, tmp_path):
    log = tmp_path / "access.log"
    srv = make_server("--access-log", str(log))
    target = "/echo/" + '"' * 9000
    assert one_exchange(srv, f"GET {target} HTTP/1.1\r\n\r\n".encode()) == 414
    (line,) = logged_lines(log.read_text, 1)
    m = CLF.match(line)
    assert m, line[:200]
    req = m.group("request")
    assert req.startswith(r"GET /echo/\x22\x22") and 1000 < len(req) <= 2048, len(req)
    assert re.fullmatch(r"GET /echo/(\\x22)+", req), req[-20:]  # cut between escapes
    assert m.group("status") == "414"

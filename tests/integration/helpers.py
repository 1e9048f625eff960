"""Helpers for the ringhttpd integration suite: run the real binary, talk raw HTTP.

Server   starts ringhttpd on a free port, waits until it accepts, stops it and
         reports a non-zero exit or sanitizer output.
Conn     a raw TCP client that sends bytes and parses responses back to back
         (status line, headers, body framed by Content-Length or chunked).
"""

import email.utils
import errno
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "build" / "ringhttpd"

# Contents of the shared files directory (see conftest.files_root).
HELLO = b"Hello, ringhttpd!\n"
SECRET = b"top secret, outside the served directory\n"
RANDOM_1M = os.urandom(1 << 20)

requires_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
)

IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$"
)


def server_binary():
    return Path(os.environ.get("RINGHTTPD_BIN") or DEFAULT_BIN)


def sanitized_binary(binary=None):
    """True when the server binary is built with ASan: its allocator keeps
    freed memory in a quarantine and ignores malloc_trim, so RSS after a
    spike says nothing there."""
    try:
        return b"__asan_init" in Path(binary or server_binary()).read_bytes()
    except OSError:
        return False


def sanitizer_report(text):
    """The first line of sanitizer output in text, or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKERS):
            return line
    return None


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(cond, timeout, interval=0.01, what="condition"):
    """Poll cond() until it returns a truthy value; return it, or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class ServerStartError(RuntimeError):
    pass


class Server:
    """One ringhttpd process. stdout and stderr go to files (never a pipe that
    could fill up and block the server)."""

    def __init__(self, binary, engine, args=(), directory=None, bind="127.0.0.1",
                 port=None, pass_bind=True):
        self.binary = Path(binary)
        self.engine = engine
        self.args = [str(a) for a in args]
        self.directory = directory
        self.bind = bind
        self.pass_bind = pass_bind
        self.fixed_port = port  # None: pick a free one; 0: do not pass --port
        self.port = None
        self.proc = None
        self.tmp = Path(tempfile.mkdtemp(prefix="ringhttpd-it-"))
        self._n = 0
        self.stdout_path = self.stderr_path = None
        self.finished = False
        self.signalled = False  # the test stopped it itself

    # -- life cycle ---------------------------------------------------------

    def command(self, port):
        cmd = [str(self.binary)]
        if self.engine:
            cmd += ["--engine", self.engine]
        # RINGHTTPD_URING_WORKERS=N: every uring server runs N rings (unless the
        # test sets --workers itself), so the suite covers connection handoff.
        workers = os.environ.get("RINGHTTPD_URING_WORKERS")
        if workers and self.engine == "uring" and "--workers" not in self.args:
            cmd += ["--workers", workers]
        if port:
            cmd += ["--port", str(port)]
        if self.pass_bind and self.bind:
            cmd += ["--bind", self.bind]
        if self.directory is not None:
            cmd += ["--directory", str(self.directory)]
        return cmd + self.args

    def start(self, attempts=5, timeout=10.0):
        last = ""
        for _ in range(attempts):
            if self.fixed_port is None:
                port = free_port(self.bind if self.bind else "127.0.0.1")
            else:
                port = self.fixed_port or 4221
            self._n += 1
            self.stdout_path = self.tmp / f"stdout.{self._n}"
            self.stderr_path = self.tmp / f"stderr.{self._n}"
            with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(
                    self.command(port if self.fixed_port != 0 else None),
                    stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                )
            self.port = port
            try:
                self._wait_ready(timeout)
                return self
            except ServerStartError as e:
                self.signalled = True  # reported here; finish() need not repeat it
                last = str(e)
                err_text = self.stderr()
                # Someone took the port between free_port() and bind(): retry.
                if (self.proc.returncode == 1 and str(port) in err_text
                        and self.fixed_port is None):
                    continue
                raise
        raise ServerStartError(f"could not start after {attempts} attempts: {last}")

    def _wait_ready(self, timeout):
        host = self.connect_host()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerStartError(
                    f"server exited with {rc} during start-up: {self.command(self.port)}\n"
                    f"stderr:\n{self.stderr()}")
            try:
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.settimeout(1.0)
                    s.connect((host, self.port))
                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise ServerStartError(f"server not accepting on {self.port} after {timeout}s")
            time.sleep(0.01)

    def connect_host(self):
        if not self.bind or self.bind in ("0.0.0.0",):
            return "127.0.0.1"
        if self.bind == "::":
            return "::1"
        return self.bind

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.signalled = True
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Send sig and wait; return (exit code, seconds taken). Kills it
        after timeout and returns code None."""
        t0 = time.monotonic()
        self.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None, time.monotonic() - t0
        return rc, time.monotonic() - t0

    def finish(self, expect_running=True):
        """Stop the server (if still running) and clean up. Returns a list of
        problems: it exited on its own (unless the test signalled it), a
        non-zero exit, a hang on SIGTERM, sanitizer output."""
        expect_running = expect_running and not self.signalled
        if self.finished:
            return []
        self.finished = True
        problems = []
        if self.proc is not None:
            if self.proc.poll() is None:
                rc, took = self.stop(signal.SIGTERM, 5.0)
                if rc is None:
                    problems.append("server did not exit within 5 s of SIGTERM (killed)")
                elif rc != 0:
                    problems.append(f"server exited with status {rc} after SIGTERM")
            else:
                rc = self.proc.returncode
                if expect_running:
                    problems.append(f"server had already exited (status {rc})")
                elif rc != 0:
                    problems.append(f"server exited with status {rc}")
            report = sanitizer_report(self.stderr())
            if report:
                problems.append(f"sanitizer output on stderr: {report}")
            if problems:
                problems.append("stderr tail:\n" + self.stderr()[-3000:])
        shutil.rmtree(self.tmp, ignore_errors=True)
        return problems

    # -- output -------------------------------------------------------------

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    def stdout(self):
        try:
            return self.stdout_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    # -- clients --------------------------------------------------------------

    def conn(self, timeout=5.0, **kw):
        return Conn(self.port, host=self.connect_host(), timeout=timeout, **kw)

    def request(self, method, path, headers=(), body=None, version="HTTP/1.1", **kw):
        """One request on a new connection; returns the Response."""
        with self.conn() as c:
            c.send(build_request(method, path, headers, body, version, **kw))
            return c.read_response(method)

    def get(self, path, headers=()):
        return self.request("GET", path, headers)

    def url(self, path):
        host = self.connect_host()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{path}"


# Runs the server with RLIMIT_NOFILE soft = hard = argv[1] (it raises its soft
# limit to the hard one at start-up, so both must be set).
NOFILE_PRELUDE = ("import os, resource, sys; n = int(sys.argv[1]); "
                  "resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)); "
                  "os.execv(sys.argv[2], sys.argv[2:])")


class NofileServer(Server):
    """A Server whose process starts with a low RLIMIT_NOFILE."""

    def __init__(self, nofile, *args, **kw):
        super().__init__(*args, **kw)
        self.nofile = nofile

    def command(self, port):
        return [sys.executable, "-c", NOFILE_PRELUDE, str(self.nofile)] + super().command(port)


def cpu_seconds(pid):
    """utime + stime of all threads of pid, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()  # fields from 3 (state) on
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    """Resident set size of pid in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def raise_nofile(need):
    """Raise the soft RLIMIT_NOFILE to the hard one; skip if that is below need.
    Returns the previous (soft, hard) to restore."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return soft, hard


def idle_pipe_fds():
    """fds a uring server may keep for idle splice pipes: 16 pipes a worker."""
    return 2 * 16 * int(os.environ.get("RINGHTTPD_URING_WORKERS") or 1)


def open_idle(server, n, timeout=60.0, batch=500):
    """n connected sockets that send nothing (non-blocking). Connects in
    batches, so the listen backlog never overflows (a dropped SYN costs a 1 s
    retransmit)."""
    socks = []
    ep = select.epoll()
    addr = (server.connect_host(), server.port)
    deadline = time.monotonic() + timeout
    try:
        for first in range(0, n, batch):
            pending = {}
            for _ in range(first, min(first + batch, n)):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                socks.append(s)
                err = s.connect_ex(addr)
                assert err in (0, errno.EINPROGRESS), f"connect: {os.strerror(err)}"
                pending[s.fileno()] = s
                ep.register(s.fileno(), select.EPOLLOUT)
            while pending:
                assert time.monotonic() < deadline, f"connects stuck: {len(pending)} pending"
                for fd, _ in ep.poll(1.0):
                    s = pending.pop(fd)
                    ep.unregister(fd)
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    assert err == 0, f"connect failed: {os.strerror(err)}"
    except BaseException:
        for s in socks:
            s.close()
        raise
    finally:
        ep.close()
    return socks


def stalled_download(server, path, rcvbuf=4096):
    """A connection that asked for path (a big file) and does not read it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((server.connect_host(), server.port))
    s.sendall(build_request("GET", path))
    return s


def read_whole_response(s, timeout=30.0):
    """Read one response with a Content-Length body on socket s, to its end
    or until the server closes; returns (status, declared length, body). The
    body is short when the server cut the connection."""
    s.setblocking(True)
    s.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = s.recv(65536)
        if not data:
            raise AssertionError(f"closed before a response head: {buf!r}")
        buf += data
    head, _, body = buf.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    assert length is not None, head
    chunks, got = [body], len(body)
    while got < length:
        data = s.recv(1 << 20)
        if not data:
            break
        chunks.append(data)
        got += len(data)
    return int(head[9:12]), length, b"".join(chunks)[:length]


def served(server, path="/echo/ok", timeout=2.0):
    """A new connection on which GET path was answered 200 (for /echo/X with
    body X), left open; None if it was refused, closed or answered otherwise."""
    try:
        c = server.conn(timeout=timeout)
    except OSError:
        return None
    try:
        c.send(build_request("GET", path))
        r = c.read_response()
        if r.status == 200 and (not path.startswith("/echo/")
                                or r.body == path[len("/echo/"):].encode()):
            return c
    except (OSError, EOFError, AssertionError):
        pass
    c.close()
    return None


def build_request(method, path, headers=(), body=None, version="HTTP/1.1", host=True):
    """Request bytes. headers: a dict or list of (name, value). Adds Host
    unless given (or host=False) and Content-Length for a body unless a
    Content-Length or Transfer-Encoding header is given."""
    if isinstance(headers, dict):
        headers = list(headers.items())
    headers = list(headers)
    names = {n.lower() for n, _ in headers}
    if host and "host" not in names:
        headers.insert(0, ("Host", "localhost"))
    if isinstance(body, str):
        body = body.encode()
    if body is not None and not names & {"content-length", "transfer-encoding"}:
        headers.append(("Content-Length", str(len(body))))
    head = f"{method} {path} {version}\r\n"
    head += "".join(f"{n}: {v}\r\n" for n, v in headers)
    head += "\r\n"
    return head.encode("latin-1") + (body or b"")


def chunked(*pieces, trailer=b""):
    """A chunked body from the given pieces."""
    out = b""
    for p in pieces:
        if isinstance(p, str):
            p = p.encode()
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list = field(default_factory=list)  # [(name, value)] as received
    body: bytes = b""
    status_line: bytes = b""

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def get(self, name):
        """The single value of header name, or None; fails if it is repeated."""
        values = self.all(name)
        assert len(values) <= 1, f"header {name} repeated: {values}"
        return values[0] if values else None

    def header_set(self, skip=("date",)):
        return sorted((n.lower(), v) for n, v in self.headers if n.lower() not in skip)

    def __str__(self):
        hs = "".join(f"\n  {n}: {v}" for n, v in self.headers)
        return f"{self.status_line!r}{hs}\n  body[{len(self.body)}]={self.body[:80]!r}"


class Conn:
    """A raw HTTP/1.1 client connection. Responses are parsed back to back
    from one receive buffer, so pipelining and stray bytes are visible."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, rcvbuf=None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        try:
            self.sock.connect((host, port))
        except OSError:
            self.sock.close()
            raise
        self.buf = bytearray()
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def reset(self):
        """Close with an RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            raise EOFError(f"connection closed; buffered: {bytes(self.buf[:200])!r}")
        try:
            chunk = self.sock.recv(1 << 16)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            raise EOFError(f"connection closed; buffered: {bytes(self.buf[:200])!r}")
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                return self._take(i + 2)[:-2]
            if len(self.buf) > 65536:
                raise AssertionError("response line over 64 KiB")
            self._fill()

    def read_head(self):
        status_line = self._line()
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", status_line)
        assert m, f"bad status line {status_line!r} (buffer {bytes(self.buf[:100])!r})"
        headers = []
        while True:
            line = self._line()
            if not line:
                break
            name, sep, value = line.partition(b":")
            assert sep, f"bad response header line {line!r}"
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        return Response(m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1"),
                        headers, b"", status_line)

    def read_response(self, method="GET"):
        """Read one response (a 1xx interim response is returned as such)."""
        r = self.read_head()
        if method == "HEAD" or r.status < 200 or r.status in (204, 304):
            return r
        te = r.get("Transfer-Encoding")
        if te and te.lower() == "chunked":
            r.body = self._read_chunked()
        elif r.get("Content-Length") is not None:
            r.body = self._take(int(r.get("Content-Length")))
        else:
            r.body = self.read_eof()
        return r

    def _read_chunked(self):
        body = b""
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                while self._line():
                    pass
                return body
            body += self._take(size)
            assert self._take(2) == b"\r\n"

    def read_eof(self, timeout=3.0):
        """Read until the peer closes (FIN or RST); return the bytes after
        what was already parsed. Fails if it stays open for timeout."""
        deadline = time.monotonic() + timeout
        try:
            while not self.eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"connection still open after {timeout}s; got {bytes(self.buf[:200])!r}")
                self.sock.settimeout(left)
                try:
                    self._fill()
                except EOFError:
                    break
                except socket.timeout:
                    continue
        finally:
            self.sock.settimeout(self.timeout)
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def closed_within(self, timeout):
        """(closed?, bytes received meanwhile)."""
        try:
            data = self.read_eof(timeout)
            return True, data
        except AssertionError:
            out = bytes(self.buf)
            self.buf.clear()
            return False, out


def check_date(value):
    assert value is not None, "no Date header"
    assert IMF_FIXDATE.match(value), f"Date not IMF-fixdate: {value!r}"
    when = email.utils.parsedate_to_datetime(value).timestamp()
    assert abs(when - time.time()) < 60, f"Date far from now: {value!r}"


def check_common_headers(r):
    """Content-Length (or chunked; none on 204 and 304, RFC 9110 8.6), Date,
    Connection: keep-alive|close."""
    te = (r.get("Transfer-Encoding") or "").lower()
    cl = r.get("Content-Length")
    if r.status in (204, 304):
        assert cl is None and te == "", f"framing on a {r.status}:\n{r}"
    else:
        assert cl is not None or te == "chunked", f"no Content-Length in\n{r}"
    if cl is not None:
        assert re.fullmatch(r"\d+", cl), f"bad Content-Length {cl!r}"
    check_date(r.get("Date"))
    conn = r.get("Connection")
    assert conn is not None and conn.lower() in ("keep-alive", "close"), \
        f"Connection header {conn!r} in\n{r}"


def assert_error(r, status, connection=None, head=False):
    """r is the error response the contract promises: the status, a
    one-line text/plain body "<status> <reason>\n" framed by its
    Content-Length (none on a HEAD), and (when given) that Connection value."""
    assert r.status == status, r
    text = f"{status} {r.reason}\n".encode()  # the status line's reason phrase
    assert r.get("Content-Type") == "text/plain", r
    assert r.get("Content-Length") == str(len(text)), r
    assert r.body == (b"" if head else text), r
    if connection is not None:
        assert r.get("Connection") == connection, r


def assert_still_serving(server):
    """After bad input on one connection, a fresh one is served normally."""
    r = server.get("/echo/alive")
    assert (r.status, r.body) == (200, b"alive"), "server stopped serving after bad input"

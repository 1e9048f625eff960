"""bench/uring_floor.c, the opt-in uring-floor server of `make bench`.

It stands for "the uring engine's ring loop and nothing else" beside
ringhttpd in BENCHMARKS.md, so its reply must be ringhttpd's reply, byte for
byte apart from the Date value: a shorter or longer reply would cost the
kernel less or more per request and the comparison would be off. Runs once
(with the uring engine's cases), against the uring_floor built next to the
server binary.
"""

import re
import socket
import subprocess
from pathlib import Path

import pytest

from helpers import free_port, wait_until

REQUEST = b"GET /echo/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def masked(reply):
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: -\r\n", reply)


def read_exactly(s, n):
    buf = b""
    while len(buf) < n:
        data = s.recv(n - len(buf))
        if not data:
            break
        buf += data
    return buf


@pytest.fixture
def floor(server_bin):
    binary = Path(server_bin).parent / "uring_floor"
    if not binary.exists():
        pytest.skip(f"no {binary} (a build without io_uring)")
    port = free_port()
    p = subprocess.Popen([str(binary), "--port", str(port), "--quiet"],
                         stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            assert p.poll() is None, p.stderr.read().decode(errors="replace")
            return False

    wait_until(up, 10.0, interval=0.02, what="uring_floor to listen")
    yield port
    p.kill()
    p.wait(timeout=10)
    p.stderr.close()


@pytest.mark.engine("uring")
def test_floor_replies_as_ringhttpd_does(make_server, floor):
    srv = make_server()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(REQUEST)
        s.settimeout(2)
        ours = b""
        while not ours.endswith(b"\r\n\r\nhello"):
            data = s.recv(4096)
            assert data, ours
            ours += data

    with socket.create_connection(("127.0.0.1", floor), timeout=5) as s:
        # three pipelined requests in one segment: three replies
        s.sendall(REQUEST * 3)
        got = read_exactly(s, 3 * len(ours))
        assert masked(got) == masked(ours) * 3
        # Connection: close is honoured (bench.py's readiness check needs it)
        s.sendall(REQUEST[:-2] + b"Connection: close\r\n\r\n")
        assert masked(read_exactly(s, len(ours))) == masked(ours)
        assert s.recv(1) == b""

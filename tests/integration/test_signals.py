"""SIGTERM/SIGINT: graceful exit 0 within 2 s; SIGPIPE never kills."""

import signal
import socket

import pytest

from helpers import RANDOM_1M, wait_until

EXIT_BOUND_S = 3.0  # the contract's 2 s plus a margin for a loaded CI machine


@pytest.fixture
def big_dir(tmp_path):
    d = tmp_path / "big"
    d.mkdir()
    with open(d / "huge.bin", "wb") as f:
        f.truncate(256 << 20)  # sparse: costs no disk
    (d / "one-mib.bin").write_bytes(RANDOM_1M)
    return d


def stop_and_check(s, sig):
    rc, took = s.stop(sig, timeout=10)
    assert rc == 0, f"exit status {rc} after {sig.name}; stderr:\n{s.stderr()[-2000:]}"
    assert took < EXIT_BOUND_S, f"took {took:.2f}s to exit after {sig.name}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_exit_with_idle_keep_alive(make_server, sig):
    s = make_server()
    with s.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().get("Connection") == "keep-alive"
        stop_and_check(s, sig)
        closed, data = c.closed_within(1.0)
        assert closed and data == b""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_exit_with_stalled_download(make_server, big_dir, sig):
    s = make_server(directory=big_dir)
    c = s.conn(rcvbuf=4096)
    try:
        c.send(b"GET /files/huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        # The transfer has started (the client just never reads it all).
        wait_until(lambda: c.sock.recv(16, socket.MSG_PEEK), 3.0, what="download to start")
        stop_and_check(s, sig)
    finally:
        c.close()


def test_request_just_before_sigterm_is_answered(make_server, big_dir):
    """Bytes already delivered to the server's socket make the connection
    busy, not idle: shutdown must answer them."""
    for attempt in range(3):
        s = make_server(directory=big_dir)
        with s.conn(timeout=5) as c:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            c.read_response()  # the connection is established and idle
            c.send(b"GET /files/one-mib.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            s.send_signal(signal.SIGTERM)
            try:
                r = c.read_response()
            except EOFError as e:
                pytest.fail(f"attempt {attempt}: request sent before SIGTERM not answered: {e}")
            assert r.status == 200
            assert r.body == RANDOM_1M, "response cut short by shutdown"
            c.read_eof(3.0)  # then the server closes the connection
        rc = s.proc.wait(5)
        assert rc == 0


def test_sigpipe_does_not_kill(server):
    for i in range(6):
        c = server.conn(rcvbuf=4096)
        c.send(b"GET /files/random-1m.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: c.sock.recv(16, socket.MSG_PEEK), 3.0, what="download to start")
        c.sock.recv(1000)
        if i % 2:
            c.reset()  # RST: the server's next send fails with EPIPE/ECONNRESET
        else:
            c.close()
    # The server noticed (poll: its sends fail once the peer is gone) and lives on.
    for _ in range(3):
        r = server.get("/files/random-1m.bin")
        assert r.body == RANDOM_1M
    assert server.alive()

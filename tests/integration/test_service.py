"""Running ringhttpd as a service (issue 12): socket activation by the
sd_listen_fds(3) protocol, restarts that drop nothing (under socket
activation, and side by side with --reuse-port), and SIGUSR1 reopening the
access log for logrotate.

The load clients follow RFC 9112 9.3.1 as browsers do: a GET sent on a
reused keep-alive connection that closes before any byte of its response
arrived is retried on a new connection (a server that stops closes idle
keep-alive connections, and a request may cross that close). Anything else
is a failure: on a new connection, any close or reset before the response
(the server dropped a client it had accepted or queued); a refused
connection; a reset after the response began; a wrong body; no answer
within 5 s."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from helpers import Server, build_request, free_port, wait_until

LOCALHOST = "127.0.0.1"


# ---------------------------------------------------------------- load


class Load:
    """Threads sending GET /echo/<n> over keep-alive connections and over a
    new connection per request, until stop()."""

    def __init__(self, port, keepalive=4, fresh=4):
        self.port = port
        self.ok = self.retries = 0
        self.failures = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(True, i), daemon=True)
                        for i in range(keepalive)]
        self.threads += [threading.Thread(target=self.run, args=(False, i), daemon=True)
                         for i in range(fresh)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(15)
        return self

    def _connect(self):
        s = socket.create_connection((LOCALHOST, self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    @staticmethod
    def _exchange(sock, body):
        """Send one GET and read its answer. Returns 'ok', 'retry' (closed
        before any byte of the response) or a failure description."""
        try:
            sock.sendall(build_request("GET", f"/echo/{body}"))
        except OSError:
            return "retry"
        data = b""
        while True:
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                m = re.search(rb"\r\ncontent-length: *(\d+)", data[:end], re.I)
                if not m:
                    return f"no Content-Length: {data[:200]!r}"
                total = end + 4 + int(m.group(1))
                if len(data) >= total:
                    if not data.startswith(b"HTTP/1.1 200 ") or data[end + 4:total] != body.encode():
                        return f"wrong answer: {data[:200]!r}"
                    return "ok"
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                return "no answer within 5 s"
            except OSError as e:
                return "retry" if not data else f"{e} after {len(data)} bytes"
            if not chunk:
                return "retry" if not data else f"closed after {len(data)} bytes"
            data += chunk

    def run(self, keepalive, i):
        sock, n, used = None, 0, 0
        while not self.done.is_set():
            n += 1
            body = f"{'k' if keepalive else 'n'}{i}-{n}"
            for attempt in range(4):
                try:
                    if sock is None:
                        sock, used = self._connect(), 0
                except OSError as e:
                    result = f"connect: {e}"
                    break
                result = self._exchange(sock, body)
                used += 1
                if result != "ok" or not keepalive:
                    sock.close()
                    sock = None
                if result == "retry" and used == 1:
                    result = "closed before the response, on a new connection"
                if result != "retry":
                    break
                with self.lock:
                    self.retries += 1
            with self.lock:
                if result == "ok":
                    self.ok += 1
                else:
                    self.failures.append(f"{body}: {result}")
        if sock is not None:
            sock.close()


# ---------------------------------------------------------------- helpers


ACTIVATE = """
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.set_inheritable(3, True)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
os.execv(sys.argv[2], sys.argv[2:])
"""


def spawn_activated(binary, engine, listener, directory, *flags):
    """ringhttpd started as systemd starts it: the listening socket as fd 3,
    LISTEN_FDS=1 and LISTEN_PID its own pid (exec keeps the wrapper's)."""
    cmd = [str(binary), "--engine", engine, "--directory", str(directory), *flags]
    fd = listener.fileno()
    return subprocess.Popen([sys.executable, "-c", ACTIVATE, str(fd), *cmd], pass_fds=(fd,),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def stop_proc(p, timeout=5):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            pytest.fail("server did not exit within 5 s of SIGTERM")
    return p.returncode


def assert_clean(load, what):
    assert load.ok > 200, f"{what}: only {load.ok} requests answered"
    assert not load.failures, (f"{what}: {len(load.failures)} failed of "
                               f"{load.ok + len(load.failures)}: {load.failures[:5]}")
    print(f"{what}: {load.ok} requests answered, 0 failed, {load.retries} retried "
          f"(a reused keep-alive connection closed before any byte of the response)")


# ---------------------------------------------------------------- socket activation


def test_socket_activation_serves_the_inherited_socket(server_bin, engine, tmp_path):
    """With LISTEN_FDS=1 and LISTEN_PID, the server serves fd 3 instead of
    binding (--port is ignored, and says so), and its queue outlives it."""
    listener = socket.create_server((LOCALHOST, 0))
    port = listener.getsockname()[1]
    (tmp_path / "f.txt").write_bytes(b"activated\n")
    p = spawn_activated(server_bin, engine, listener, tmp_path, "--port", "1")
    try:
        with socket.create_connection((LOCALHOST, port), timeout=5) as c:
            c.sendall(build_request("GET", "/files/f.txt"))
            data = b""
            while not data.endswith(b"activated\n"):
                chunk = c.recv(4096)
                assert chunk, f"closed: {data!r}"
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 ")
    finally:
        rc = stop_proc(p)
        err = p.stderr.read().decode()
    assert rc == 0, err
    assert "(from systemd)" in err and "--port" in err, err
    # Tuned like a socket of its own, for the connections accepted from it:
    # no Nagle delay, and at most 128 KiB unsent queued per connection.
    TCP_NOTSENT_LOWAT = 25  # linux/tcp.h; not in Python's socket module
    assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    assert listener.getsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT) == 128 * 1024
    # The socket is systemd's (here, the test's): still listening, so a
    # client now waits in its queue for the next instance.
    with socket.create_connection((LOCALHOST, port), timeout=2):
        pass
    listener.close()


def test_socket_activation_refuses_two_sockets(server_bin, engine):
    env = dict(os.environ, LISTEN_FDS="2")
    p = subprocess.run(["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", str(server_bin),
                        "--engine", engine], env=env, capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "exactly one" in p.stderr, p.stderr


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None,
                    reason="systemd-socket-activate not installed (Debian's systemd package)")
def test_systemd_socket_activate(server_bin, engine, tmp_path):
    """Debian's own tool in systemd's place: it listens, and on the first
    connection starts the server with the socket."""
    port = free_port()
    p = subprocess.Popen(["systemd-socket-activate", "-l", f"{LOCALHOST}:{port}",
                          str(server_bin), "--engine", engine], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def answer():
            try:
                with socket.create_connection((LOCALHOST, port), timeout=5) as c:
                    c.sendall(build_request("GET", "/echo/sd"))
                    return c.recv(4096)
            except OSError:
                return None
        data = wait_until(answer, 10, 0.05, what="an answer through systemd-socket-activate")
        assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"sd"), data
    finally:
        stop_proc(p)
    err = p.stderr.read().decode()
    assert p.returncode == 0 and "(from systemd)" in err, err


def test_restart_under_socket_activation_drops_nothing(server_bin, engine, tmp_path):
    """The socket outlives the process: while one instance stops and the
    next starts, new clients wait in its queue. Keep-alive and
    new-connection clients run throughout two restarts."""
    listener = socket.create_server((LOCALHOST, 0), backlog=4096)
    port = listener.getsockname()[1]
    procs = [spawn_activated(server_bin, engine, listener, tmp_path)]
    load = None
    try:
        wait_until(lambda: Load._exchange(socket.create_connection((LOCALHOST, port)), "up") == "ok",
                   10, 0.05, what="the first instance")
        load = Load(port).start()
        for _ in range(2):
            time.sleep(0.6)
            assert stop_proc(procs[-1]) == 0, procs[-1].stderr.read().decode()
            procs.append(spawn_activated(server_bin, engine, listener, tmp_path))
        time.sleep(0.6)
        load.stop()
    finally:
        if load:
            load.stop()
        for p in procs:
            stop_proc(p)
        listener.close()
    assert_clean(load, f"socket activation, 2 restarts ({engine})")


# ---------------------------------------------------------------- --reuse-port


def test_reuse_port_replacement_drops_nothing(server_bin, engine, tmp_path):
    """A new instance with --reuse-port starts beside the old one; the old one
    is sent SIGTERM. The old one serves what is in its accept queue and
    leaves the port before draining, so no client is refused or reset."""
    port = free_port()
    servers = [Server(server_bin, engine, ["--reuse-port"], directory=tmp_path, port=port).start()]
    load = Load(port).start()
    try:
        for _ in range(2):
            time.sleep(0.6)
            servers.append(Server(server_bin, engine, ["--reuse-port"], directory=tmp_path,
                                  port=port).start())
            # start() saw the port answer, perhaps by the old instance: wait
            # for the new one's own word that it listens.
            wait_until(lambda: "listening on" in servers[-1].stderr(), 5,
                       what="the new instance to listen")
            rc, took = servers[-2].stop()
            assert rc == 0 and took < 2.5, (rc, took, servers[-2].stderr())
        time.sleep(0.6)
    finally:
        load.stop()
        for s in servers:
            s.finish(expect_running=False)
    assert_clean(load, f"--reuse-port, 2 replacements ({engine})")


def test_second_instance_without_reuse_port_is_refused(server_bin, engine, tmp_path):
    port = free_port()
    first = Server(server_bin, engine, ["--reuse-port"], port=port).start()
    try:
        p = subprocess.run([str(server_bin), "--engine", engine, "--bind", LOCALHOST,
                            "--port", str(port)], capture_output=True, text=True, timeout=10)
        assert p.returncode == 1 and "already in use" in p.stderr, p.stderr
    finally:
        first.finish()


# ---------------------------------------------------------------- SIGUSR1


def log_lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_sigusr1_reopens_the_access_log(make_server, engine, tmp_path):
    """logrotate's way: rename the log, send SIGUSR1; lines of requests
    answered before are in the old file, the ones after in the new."""
    log = tmp_path / "access.log"
    s = make_server("--access-log", str(log))
    for i in range(20):
        assert s.get(f"/echo/before{i}").status == 200
    wait_until(lambda: len(log_lines(log)) == 20, 5, what="20 lines")
    os.rename(log, tmp_path / "access.log.1")
    s.send_signal(signal.SIGUSR1)
    wait_until(log.exists, 5, what="the new log file")
    for i in range(30):
        assert s.get(f"/echo/after{i}").status == 200
    wait_until(lambda: len(log_lines(log)) == 30, 5, what="30 lines in the new file")
    old = log_lines(tmp_path / "access.log.1")
    assert len(old) == 20 and all("/echo/before" in ln for ln in old), old
    assert all("/echo/after" in ln for ln in log_lines(log))
    assert s.alive()


def test_sigusr1_under_load_loses_and_tears_no_line(make_server, engine, tmp_path):
    """Rotated three times while clients run: every request answered has
    exactly one whole line, in one of the files."""
    log = tmp_path / "access.log"
    s = make_server("--access-log", str(log))
    load = Load(s.port, keepalive=3, fresh=1).start()
    try:
        for k in range(1, 4):
            time.sleep(0.3)
            os.rename(log, tmp_path / f"access.log.{k}")
            s.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
    finally:
        load.stop()
    assert not load.failures, load.failures[:5]
    files = [log] + [tmp_path / f"access.log.{k}" for k in range(1, 4)]
    want = load.ok + load.retries  # a retried request may have been answered once already
    line_re = re.compile(r'^\S+ - - \[[^\]]+\] "GET /echo/[kn]\d+-\d+ HTTP/1\.1" 200 \d+$')

    def lines():
        return [ln for f in files for ln in log_lines(f)]
    wait_until(lambda: len(lines()) >= load.ok, 5, what="every line written")
    got = lines()
    bad = [ln for ln in got if not line_re.match(ln)]
    assert not bad, f"torn or malformed lines: {bad[:3]}"
    assert load.ok <= len(got) <= want, (len(got), load.ok, want)
    assert all(len(log_lines(f)) > 0 for f in files), [len(log_lines(f)) for f in files]

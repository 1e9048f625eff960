"""Fixtures for the ringhttpd integration suite.

Every test that uses a server runs once per engine in RINGHTTPD_ENGINES
(comma list, default "threads,uring"; RINGHTTPD_URING_WORKERS=N gives every
uring server N rings unless the test sets --workers). The shared server
(`server`) is started once per engine and session; tests needing special
flags start their own with
`make_server` (function scope) or `module_server` (module scope). Every
server is stopped with SIGTERM at the end and must then exit 0 with no
sanitizer output on stderr, or the test (or its teardown) fails.
"""

import os

import pytest

from helpers import (HELLO, RANDOM_1M, SECRET, Server, ServerStartError, sanitizer_report, served,
                     server_binary, wait_until)

ENGINES = [e.strip() for e in os.environ.get("RINGHTTPD_ENGINES", "threads,uring").split(",")
           if e.strip()]

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "engine(name): test concerns only that engine (skipped for the others)")
    config.addinivalue_line(
        "markers", "load: slow load case, run only with RINGHTTPD_LOAD=1 (make test-load)")


def pytest_collection_modifyitems(config, items):
    binary = server_binary()
    if not os.access(binary, os.X_OK):
        skip = pytest.mark.skip(reason=f"no server binary at {binary} (set RINGHTTPD_BIN)")
        for item in items:
            item.add_marker(skip)
    if os.environ.get("RINGHTTPD_LOAD") != "1":
        skip = pytest.mark.skip(reason="load case: make test-load (RINGHTTPD_LOAD=1)")
        for item in items:
            if item.get_closest_marker("load"):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def server_bin():
    return server_binary()


@pytest.fixture(scope="session", params=ENGINES)
def engine(request):
    return request.param


@pytest.fixture(autouse=True)
def _engine_marker(request):
    m = request.node.get_closest_marker("engine")
    if m is not None:
        eng = request.getfixturevalue("engine")
        if eng != m.args[0]:
            pytest.skip(f"only for the {m.args[0]} engine")


class ServerSet:
    """Servers started by one fixture; finish() stops and checks them all."""

    def __init__(self, binary, engine):
        self.binary, self.engine = binary, engine
        self.servers = []

    def __call__(self, *args, directory=None, engine=None, start=True, **kw):
        s = Server(self.binary, engine or self.engine, args, directory=directory, **kw)
        self.servers.append(s)
        if start:
            s.start()
        return s

    def finish(self):
        problems = []
        for s in self.servers:
            problems += [f"[{' '.join(s.command(s.port))}] {p}" for p in s.finish()]
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def make_server(server_bin, engine):
    """make_server(*flags, directory=None, ...) -> a started Server (this test only)."""
    servers = ServerSet(server_bin, engine)
    yield servers
    servers.finish()


@pytest.fixture(scope="module")
def module_server(server_bin, engine):
    """Like make_server, for servers shared by the tests of one module. At the
    end of the module each must still answer and exit cleanly."""
    servers = ServerSet(server_bin, engine)
    yield servers
    for s in servers.servers:
        if s.alive():
            # A server at its --max-connections cap sees the last test's
            # closes a moment later, and refuses until then: poll.
            c = wait_until(lambda: served(s, "/", timeout=1.0), 5.0, interval=0.05,
                           what="the server to answer after the module")
            c.close()
    servers.finish()


@pytest.fixture(scope="session")
def files_root(tmp_path_factory):
    """root/secret.txt (outside), root/outside/ (outside dir), root/files/ (served)."""
    root = tmp_path_factory.mktemp("root")
    (root / "secret.txt").write_bytes(SECRET)
    (root / "outside").mkdir()
    (root / "outside" / "inside-outside.txt").write_bytes(SECRET)
    d = root / "files"
    d.mkdir()
    (d / "hello.txt").write_bytes(HELLO)
    (d / "empty.bin").write_bytes(b"")
    (d / "random-1m.bin").write_bytes(RANDOM_1M)
    (d / "with space.txt").write_bytes(b"spaced\n")
    (d / "sub").mkdir()
    (d / "sub" / "inner.txt").write_bytes(b"inner\n")
    (d / "emptydir").mkdir()
    os.symlink(root / "secret.txt", d / "abs-link")            # absolute, points outside
    os.symlink("../secret.txt", d / "rel-link")                # relative, points outside
    os.symlink(root / "outside", d / "outdir-link")            # directory outside
    os.symlink("hello.txt", d / "inside-link")                 # stays inside
    return root


@pytest.fixture(scope="session")
def files_dir(files_root):
    return files_root / "files"


class SharedServer:
    """The per-engine session server, restarted if a test killed it."""

    def __init__(self, binary, engine, directory):
        self.binary, self.engine, self.directory = binary, engine, directory
        self.server = None
        self.dead = []

    def ensure(self):
        if self.server is None or not self.server.alive():
            if self.server is not None:
                self.dead.append(self.server)
            self.server = Server(self.binary, self.engine, [], directory=self.directory)
            self.server.start()
        return self.server


@pytest.fixture(scope="session")
def shared_server(server_bin, engine, files_dir):
    shared = SharedServer(server_bin, engine, files_dir)
    yield shared
    problems = []
    s = shared.server
    if s is not None and s.alive():
        try:
            r = s.get("/")
            if r.status != 200:
                problems.append(f"GET / at the end answered {r.status}")
        except OSError as e:
            problems.append(f"GET / at the end failed: {e!r}")
    for dead in shared.dead:
        dead.finish(expect_running=False)
    if s is not None:
        problems += s.finish()
    if problems:
        pytest.fail("shared server: " + "\n".join(problems), pytrace=False)


@pytest.fixture
def server(shared_server):
    """The shared server with --directory files_dir and default limits. After
    the test it must still be running with no sanitizer report (else the test
    fails and the server is restarted for the next one)."""
    try:
        s = shared_server.ensure()
    except ServerStartError as e:
        pytest.fail(str(e), pytrace=False)
    start = len(s.stderr())
    yield s
    new_err = s.stderr()[start:]
    report = sanitizer_report(new_err)
    if not s.alive():
        pytest.fail(f"server died during this test (status {s.proc.returncode}); stderr:\n"
                    f"{new_err[-3000:]}", pytrace=False)
    if report:
        pytest.fail(f"sanitizer output during this test: {report}", pytrace=False)


@pytest.fixture
def other_engine_flag(engine):
    """A flag that concerns only the engine not in use, per the contract."""
    flags = {"threads": ("--workers", "2"), "uring": ("--threads", "8")}
    if engine not in flags:
        pytest.skip(f"engine {engine!r}: which flags it ignores is not fixed")
    return flags[engine]


"""strace proof that the io_uring engine's steady state stays in the ring.

Runs bench/uring_syscalls.sh (strace -f -c attached to a uring server while
pipelined keep-alive load runs): no recv/send/read/write-family syscall may
appear, and pipelined requests must share io_uring_enter calls (< 1 per
request). A control run against the threads engine must show the recv/send
calls, which proves the measurement sees them. With --access-log the log
lines must be written through the ring as well. Skipped without strace or when
ptrace is denied.
"""

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "uring_syscalls.sh"
FORBIDDEN = {"recv", "recvfrom", "recvmsg", "recvmmsg", "send", "sendto", "sendmsg", "sendmmsg",
             "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
             "preadv2", "pwritev2", "sendfile", "splice", "accept", "accept4"}


def run_script(server_bin, **env):
    if shutil.which("strace") is None:
        pytest.skip("strace not installed (apt-get install strace)")
    if shutil.which("bash") is None:
        pytest.skip("bash not installed")
    full_env = dict(os.environ, **{k: str(v) for k, v in env.items()})
    # In its own process group, so a hung run can be ended with all it started.
    p = subprocess.Popen(["bash", str(SCRIPT), str(server_bin)], env=full_env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail(f"{SCRIPT.name} still running after 90 s (killed)", pytrace=False)
    if p.returncode == 77:
        pytest.skip(f"{SCRIPT.name} cannot measure here: {err.strip()[-300:]}")
    return p.returncode, out, err


def syscall_table(out):
    """{syscall: calls} from strace -c output."""
    table = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and re.fullmatch(r"[0-9.]+", f[0]) and f[-1] != "total":
            table[f[-1]] = int(f[3])
    return table


@pytest.mark.engine("uring")
@pytest.mark.parametrize("access_log", [0, 1], ids=["no-log", "access-log"])
def test_steady_state_makes_no_socket_syscalls(server_bin, engine, access_log):
    rc, out, err = run_script(server_bin, N=4000, CONNS=4, DEPTH=16, ENGINE="uring",
                              ACCESS_LOG=access_log)
    report = f"exit {rc}\nstdout:\n{out}\nstderr:\n{err[-2000:]}"
    assert rc == 0, report
    table = syscall_table(out)
    assert table.get("io_uring_enter", 0) > 0, f"strace saw no io_uring_enter:\n{report}"
    seen = {name: n for name, n in table.items() if name in FORBIDDEN}
    assert not seen, f"syscalls outside the ring in steady state: {seen}\n{report}"
    m = re.search(r"io_uring_enter calls per request: ([0-9.]+)", out)
    assert m, report
    assert float(m.group(1)) < 1.0, f"pipelined requests not coalesced:\n{report}"
    if access_log:
        assert re.search(r"^access log: \d+ lines$", out, re.M), report


@pytest.mark.engine("uring")
def test_measurement_sees_socket_syscalls_of_threads_engine(server_bin, engine):
    """Control: the same measurement on the threads engine must fail."""
    rc, out, err = run_script(server_bin, N=500, CONNS=2, DEPTH=16, ENGINE="threads")
    report = f"exit {rc}\nstdout:\n{out}\nstderr:\n{err[-2000:]}"
    assert rc == 1, report
    seen = set(syscall_table(out)) & FORBIDDEN
    assert seen, f"strace saw no recv/send on the threads engine:\n{report}"

#!/usr/bin/env bash
# uring_syscalls.sh - show which syscalls the io_uring engine makes in steady state.
#
#   bench/uring_syscalls.sh [BINARY]        (default: $RINGHTTPD_BIN, else build/ringhttpd)
#   env: N=20000 requests, CONNS=4 keep-alive connections, DEPTH=16 requests per write,
#        ENGINE=uring (ENGINE=threads is a control run: it must fail),
#        ACCESS_LOG=1 runs the server with --access-log to a file (its lines are checked)
#
# Starts `ringhttpd --engine uring` on a free 127.0.0.1 port, warms it up over
# CONNS keep-alive connections, then attaches `strace -f -c` to it while a
# Python client sends N pipelined requests (DEPTH per write, answers checked),
# detaches, prints strace's syscall table and
#     io_uring_enter calls per request: X.XXX
# Every socket and file byte should move through the ring, so no recv/send,
# read/write, pread/pwrite, sendfile, splice or accept-family syscall may
# appear ($FORBIDDEN), not even with ACCESS_LOG=1 (the log's writes go
# through the ring too). No signal is sent during the window.
#
# Exit: 0 clean; 1 a forbidden syscall appeared or the load failed; 2 usage;
# 77 cannot measure here (no strace, ptrace denied). Bounded: under 60 s.
set -euo pipefail

N=${N:-20000}
CONNS=${CONNS:-4}
DEPTH=${DEPTH:-16}
ENGINE=${ENGINE:-uring}
ACCESS_LOG=${ACCESS_LOG:-0}
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
here=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-${RINGHTTPD_BIN:-$here/../build/ringhttpd}}
FORBIDDEN="recv recvfrom recvmsg recvmmsg send sendto sendmsg sendmmsg read write readv writev
pread64 pwrite64 preadv pwritev preadv2 pwritev2 sendfile splice accept accept4"

die() {
    echo "uring_syscalls: $2" >&2
    exit "$1"
}

[ -x "$BIN" ] || die 2 "no server binary at $BIN (pass it as the argument or set RINGHTTPD_BIN)"
for v in N CONNS DEPTH; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die 2 "$v must be a positive integer"
done
if ! command -v strace >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends strace >&2 ||
            true
    fi
    command -v strace >/dev/null 2>&1 || die 77 "strace is not installed (apt-get install strace)"
fi

work=$(mktemp -d /tmp/uring_syscalls.XXXXXX)
server_pid="" strace_pid="" client_pid=""
cleanup() {
    # Only our own children, by pid.
    if [ -n "$client_pid" ]; then kill "$client_pid" 2>/dev/null || true; fi
    if [ -n "$strace_pid" ]; then
        kill -INT "$strace_pid" 2>/dev/null || true
        wait "$strace_pid" 2>/dev/null || true
    fi
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log_args=()
[ "$ACCESS_LOG" = 1 ] && log_args=(--access-log "$work/access.log")
"$BIN" --engine "$ENGINE" --bind 127.0.0.1 --port "$port" --quiet "${log_args[@]}" \
    </dev/null >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

# The client: connect (retrying while the server starts), warm up, write
# READY, wait for GO, run the load, write RESULT, then keep the connections
# open until END so no close happens inside the window. Own deadline: 40 s.
cat >"$work/client.py" <<'EOF'
import os, re, socket, sys, time
port, n, conns, depth, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
deadline = time.monotonic() + 40
CL = re.compile(rb"\r\ncontent-length: *(\d+)", re.I)

def wait_file(name):
    while not os.path.exists(os.path.join(work, name)):
        if time.monotonic() > deadline:
            sys.exit(f"client: timed out waiting for {name}")
        time.sleep(0.005)

socks = []
for _ in range(conns):
    while True:
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            break
        except OSError:
            if time.monotonic() > deadline - 30:
                sys.exit("client: server not accepting")
            time.sleep(0.02)
bufs = [bytearray() for _ in socks]

def read_answers(i, first, count):
    """Read count responses on socket i; bodies must be first, first+1, ..."""
    s, buf = socks[i], bufs[i]
    for k in range(first, first + count):
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                m = CL.search(buf, 0, end + 2)
                if m is None:
                    sys.exit(f"client: response without Content-Length: {bytes(buf[:200])!r}")
                total = end + 4 + int(m.group(1))
                if len(buf) >= total:
                    break
            data = s.recv(1 << 16)
            if not data:
                sys.exit("client: connection closed by the server")
            buf += data
        if not buf.startswith(b"HTTP/1.1 200") or bytes(buf[end + 4:total]) != b"%d" % k:
            sys.exit(f"client: request {k}: unexpected response {bytes(buf[:total])[:200]!r}")
        del buf[:total]

def run(total):
    """total requests, DEPTH per write, round-robin over the connections."""
    done = 0
    while done < total:
        batch = []
        for i in range(len(socks)):
            k = min(depth, total - done)
            if k <= 0:
                break
            socks[i].sendall(b"".join(b"GET /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (done + j)
                                      for j in range(k)))
            batch.append((i, done, k))
            done += k
        for i, first, k in batch:
            read_answers(i, first, k)
        if time.monotonic() > deadline:
            sys.exit(f"client: deadline passed after {done} requests")
    return done

run(max(64, 4 * depth * conns))  # warm-up: every connection and buffer in use
open(os.path.join(work, "READY"), "w").close()
wait_file("GO")
t0 = time.monotonic()
done = run(n)
took = time.monotonic() - t0
with open(os.path.join(work, "RESULT.tmp"), "w") as f:
    f.write(f"{done} {took:.3f}\n")
os.rename(os.path.join(work, "RESULT.tmp"), os.path.join(work, "RESULT"))
wait_file("END")
EOF

"$PYTHON" "$work/client.py" "$port" "$N" "$CONNS" "$DEPTH" "$work" &
client_pid=$!

wait_for() { # wait_for FILE SECONDS
    local i
    for ((i = 0; i < $2 * 100; i++)); do
        [ -e "$work/$1" ] && return 0
        kill -0 "$client_pid" 2>/dev/null || return 1
        sleep 0.01
    done
    return 1
}
if ! wait_for READY 15; then
    cat "$work/server.err" >&2
    die 1 "the client did not get through the warm-up (see above)"
fi

# Attach to every thread of the server and wait until all are traced.
strace -f -c -o "$work/strace.txt" -p "$server_pid" 2>"$work/strace.err" &
strace_pid=$!
attached=0
for _ in $(seq 500); do
    if ! kill -0 "$strace_pid" 2>/dev/null; then
        break
    fi
    attached=1
    for st in /proc/"$server_pid"/task/*/status; do
        tracer=$(awk '/^TracerPid:/ {print $2}' "$st" 2>/dev/null || echo 0)
        [ "${tracer:-0}" = "$strace_pid" ] || attached=0
    done
    [ "$attached" = 1 ] && break
    sleep 0.01
done
if [ "$attached" != 1 ]; then
    cat "$work/strace.err" >&2
    if grep -qiE 'operation not permitted|ptrace' "$work/strace.err"; then
        strace_pid=""
        die 77 "strace cannot attach to the server (ptrace denied)"
    fi
    die 1 "strace did not attach to all threads of the server within 5 s"
fi

touch "$work/GO"
if ! wait_for RESULT 40; then
    cat "$work/server.err" >&2
    die 1 "the load did not complete"
fi
# Detach first (strace prints its table on SIGINT), then let the client go.
kill -INT "$strace_pid"
wait "$strace_pid" || true
strace_pid=""
touch "$work/END"
wait "$client_pid" || die 1 "the client failed"
client_pid=""
kill -0 "$server_pid" 2>/dev/null || die 1 "the server died during the load"

read -r completed took <"$work/RESULT"
echo "ringhttpd --engine $ENGINE: $completed requests in ${took}s over $CONNS connections," \
    "$DEPTH per write, under strace -f -c"
cat "$work/strace.txt"

# strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall.
[ -s "$work/strace.txt" ] || die 1 "strace wrote no table"
table=$(awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {print $NF, $4}' "$work/strace.txt")
enter=$(awk '$1 == "io_uring_enter" {print $2}' <<<"$table")
enter=${enter:-0}
if [ "$ENGINE" = uring ] && [ "$enter" = 0 ]; then
    die 1 "no io_uring_enter counted: strace did not trace the event loop"
fi
awk -v e="$enter" -v n="$completed" 'BEGIN {printf "io_uring_enter calls per request: %.3f\n", e / n}'

if [ "$ACCESS_LOG" = 1 ]; then
    # Every request of the window (and of the warm-up) has its line by now or soon.
    want=$((completed + 1))
    for _ in $(seq 300); do
        lines=$(grep -c '"GET /echo/[0-9]* HTTP/1.1" 200 ' "$work/access.log" 2>/dev/null || true)
        [ "${lines:-0}" -ge "$want" ] && break
        sleep 0.01
    done
    echo "access log: ${lines:-0} lines"
    [ "${lines:-0}" -ge "$want" ] || die 1 "the access log has ${lines:-0} lines, expected >= $want"
fi

bad=""
for name in $FORBIDDEN; do
    count=$(awk -v s="$name" '$1 == s {print $2}' <<<"$table")
    [ -n "$count" ] && bad="$bad $name($count)"
done
if [ -n "$bad" ]; then
    echo "FAIL: socket/file I/O syscalls outside the ring in steady state:$bad"
    exit 1
fi
echo "OK: no recv/send/read/write-family syscalls in steady state"

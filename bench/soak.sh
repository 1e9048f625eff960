#!/usr/bin/env bash
# soak.sh - minutes of mixed load with connection churn against one server;
# the server's memory must stay flat and no request may fail. Not run in CI.
#
#   bench/soak.sh                       10 minutes against the uring engine
#   SOAK_SECONDS=30 SOAK_ENGINE=threads bench/soak.sh
#
#   SOAK_SECONDS=600     duration of the load
#   SOAK_ENGINE=uring    --engine of the server (uring, threads, auto)
#   SOAK_CLIENTS=16      concurrent client threads
#   SOAK_ARGS=""         extra server flags, e.g. "--workers 2"
#   SOAK_CSV=bench/results/soak-<engine>.csv   one row per 10 s sample
#   RINGHTTPD_BIN=build/ringhttpd
#
# Client mix, chosen at random per round by each thread: keep-alive
# connections with many GETs (pipelined in part), one request per new
# connection, uploads (Content-Length and chunked) read back and compared,
# 4 MiB downloads, gzip echo, and abandoned connections (half a request, a
# download cut with a reset). Every answered request is checked.
#
# Every 10 s the server's VmRSS and open descriptors go to the CSV. Exit 1 if
# any request failed, the server did not exit 0 on SIGTERM, or the last RSS
# exceeds the RSS after the first minute (after half the run when it is
# shorter) by more than 10 %.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${SOAK_SECONDS:-600}
engine=${SOAK_ENGINE:-uring}
clients=${SOAK_CLIENTS:-16}
bin=${RINGHTTPD_BIN:-build/ringhttpd}
csv=${SOAK_CSV:-bench/results/soak-$engine.csv}

if [ ! -x "$bin" ]; then
    echo "soak.sh: no server binary at $bin (run make, or set RINGHTTPD_BIN)" >&2
    exit 2
fi
mkdir -p "$(dirname "$csv")"
work=$(mktemp -d /tmp/ringhttpd-soak-XXXXXX)
server_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/files"
head -c 1024 /dev/urandom >"$work/files/small.bin"
head -c $((4 << 20)) /dev/urandom >"$work/files/medium.bin"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# shellcheck disable=SC2086 # SOAK_ARGS is a list of flags
"$bin" --engine "$engine" --bind 127.0.0.1 --port "$port" --directory "$work/files" \
    --max-request-size $((8 << 20)) --quiet ${SOAK_ARGS:-} 2>"$work/server.err" &
server_pid=$!

set +e
python3 - "$port" "$server_pid" "$seconds" "$clients" "$work/files" "$csv" <<'EOF'
import gzip
import os
import random
import socket
import sys
import threading
import time

port, pid, seconds, nclients, files, csv_path = (int(sys.argv[1]), int(sys.argv[2]),
                                                 int(sys.argv[3]), int(sys.argv[4]),
                                                 sys.argv[5], sys.argv[6])
SMALL = open(os.path.join(files, "small.bin"), "rb").read()
MEDIUM = open(os.path.join(files, "medium.bin"), "rb").read()
lock = threading.Lock()
stats = {"requests": 0, "failures": 0, "churn": 0}
errors = []
stop_at = 0.0


class Failure(Exception):
    pass


def count(n=1, key="requests"):
    with lock:
        stats[key] += n


def fail(msg):
    with lock:
        stats["failures"] += 1
        if len(errors) < 20:
            errors.append(f"{time.strftime('%H:%M:%S')} {msg}")


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(1 << 16)
        if not chunk:
            raise Failure(f"connection closed early (buffered {self.buf[:80]!r})")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def response(self, head=False):
        status_line = self._line()
        if not status_line.startswith(b"HTTP/1.1 "):
            raise Failure(f"bad status line {status_line[:80]!r}")
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
        status = int(status_line[9:12])
        n = 0 if head or status == 100 else int(headers.get(b"content-length", b"0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body


def req(method, path, headers=(), body=b""):
    h = [f"{method} {path} HTTP/1.1", "Host: soak"] + list(headers)
    if body and not any(x.lower().startswith("transfer-encoding") for x in headers):
        h.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def expect(cond, what):
    if not cond:
        raise Failure(what)


def keep_alive(rnd):
    c = Conn()
    try:
        for _ in range(rnd.randint(10, 100)):
            if rnd.random() < 0.3:  # a pipelined batch
                words = [f"w{rnd.randrange(10**6)}" for _ in range(rnd.randint(2, 8))]
                c.send(b"".join(req("GET", f"/echo/{w}") for w in words))
                for w in words:
                    st, _, body = c.response()
                    expect(st == 200 and body == w.encode(), f"pipelined echo {w}: {st} {body[:40]!r}")
                count(len(words))
            else:
                c.send(req("GET", "/files/small.bin"))
                st, _, body = c.response()
                expect(st == 200 and body == SMALL, f"small.bin: {st}, {len(body)} B")
                count()
    finally:
        c.close()


def one_shot(rnd):
    c = Conn()
    try:
        ua = f"soak/{rnd.randrange(1000)}"
        c.send(req("GET", "/user-agent", [f"User-Agent: {ua}", "Connection: close"]))
        st, h, body = c.response()
        expect(st == 200 and body == ua.encode(), f"user-agent: {st} {body!r}")
        expect(h.get(b"connection") == b"close", "Connection: close not echoed")
        count()
    finally:
        c.close()


def upload(rnd, worker):
    name = f"soak-{worker}-{rnd.randrange(4)}.bin"
    data = rnd.randbytes(rnd.randint(1, 256 << 10))
    c = Conn()
    try:
        if rnd.random() < 0.5:
            c.send(req("POST", f"/files/{name}", body=data))
        else:
            pieces = [data[i:i + 7000] for i in range(0, len(data), 7000)]
            body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
            c.send(req("POST", f"/files/{name}", ["Transfer-Encoding: chunked"], body))
        st, _, _ = c.response()
        expect(st == 201, f"upload {name}: {st}")
        c.send(req("GET", f"/files/{name}"))
        st, _, body = c.response()
        expect(st == 200 and body == data, f"read back {name}: {st}, {len(body)}/{len(data)} B")
        count(2)
    finally:
        c.close()


def download(rnd):
    c = Conn()
    try:
        c.send(req("GET", "/files/medium.bin"))
        st, _, body = c.response()
        expect(st == 200 and body == MEDIUM, f"medium.bin: {st}, {len(body)} B")
        count()
    finally:
        c.close()


def gzip_echo(rnd):
    c = Conn()
    try:
        text = "soak" * rnd.randint(1, 500)
        c.send(req("GET", f"/echo/{text}", ["Accept-Encoding: gzip"]))
        st, h, body = c.response()
        expect(st == 200 and h.get(b"content-encoding") == b"gzip", f"gzip echo: {st}")
        expect(gzip.decompress(body) == text.encode(), "gzip echo body")
        count()
    finally:
        c.close()


def abandon(rnd):
    """Churn that is no request: half a head, or a download cut by a reset."""
    c = Conn()
    try:
        if rnd.random() < 0.5:
            c.send(b"GET /echo/half HTTP/1.1\r\nHo")
        else:
            c.send(req("GET", "/files/medium.bin"))
            c.s.recv(rnd.randint(1, 1 << 16))
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    finally:
        c.close()
    count(key="churn")


MIX = [(keep_alive, 20), (one_shot, 30), (upload, 15), (download, 5), (gzip_echo, 15),
       (abandon, 15)]


def worker(n):
    rnd = random.Random(n)
    fns = [f for f, w in MIX for _ in range(w)]
    while time.monotonic() < stop_at:
        fn = rnd.choice(fns)
        try:
            fn(rnd, n) if fn is upload else fn(rnd)
        except Exception as e:  # any error of an answered request is a failure
            fail(f"{fn.__name__}: {e!r}")


def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    global stop_at
    t0 = time.monotonic()
    stop_at = t0 + seconds
    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(nclients)]
    for t in threads:
        t.start()
    samples = []

    def sample(out):
        with lock:
            row = (round(time.monotonic() - t0), rss_kib(), len(os.listdir(f"/proc/{pid}/fd")),
                   stats["requests"], stats["failures"], stats["churn"])
        samples.append(row)
        out.write(",".join(map(str, row)) + "\n")
        out.flush()
        return row

    with open(csv_path, "w") as out:
        out.write("t_s,rss_kib,fds,requests,failures,churn\n")
        while sample(out)[0] < seconds:
            time.sleep(min(10.0, max(0.0, seconds - (time.monotonic() - t0))))
        for t in threads:
            t.join(30)
        # The last row: the clients have finished their requests in flight.
        last = sample(out)
    ref_t = min(60, seconds // 2)
    ref = next(s for s in samples if s[0] >= ref_t)
    rss = [s[1] for s in samples]
    growth = (last[1] - ref[1]) / ref[1] * 100 if ref[1] else 0.0
    print(f"soak: {seconds}s, {nclients} clients, {last[3]} requests "
          f"({last[3] / max(1, last[0]):.0f}/s), {last[4]} failed, {last[5]} abandoned connections")
    print(f"soak: RSS first {rss[0]} KiB, at {ref[0]}s {ref[1]} KiB, last {last[1]} KiB, "
          f"max {max(rss)} KiB ({growth:+.1f}% since {ref[0]}s); fds first {samples[0][2]}, "
          f"last {last[2]}")
    print(f"soak: samples in {csv_path}")
    for e in errors:
        print(f"soak: FAILED {e}")
    ok = last[4] == 0 and growth <= 10.0
    if growth > 10.0:
        print(f"soak: RSS grew {growth:.1f}% after {ref[0]}s (limit 10%)")
    return 0 if ok else 1


sys.exit(main())
EOF
rc=$?
set -e

kill -TERM "$server_pid" 2>/dev/null || true
server_rc=0
wait "$server_pid" || server_rc=$?
server_pid=
if [ "$server_rc" -ne 0 ]; then
    echo "soak: the server exited with status $server_rc after SIGTERM" >&2
    tail -n 20 "$work/server.err" >&2
    rc=1
elif [ -s "$work/server.err" ]; then
    echo "soak: server stderr:" >&2
    tail -n 20 "$work/server.err" >&2
fi
[ "$rc" -eq 0 ] && echo "soak: PASS ($engine)" || echo "soak: FAIL ($engine)"
exit "$rc"

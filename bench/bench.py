#!/usr/bin/env python3
"""bench.py - ringhttpd side by side with its threads engine, nginx, lighttpd
and h2o, on one 2-core box where client and server share the machine.

Called by bench/run.sh (which installs packages and builds the Release
binary); usable alone:

  bench.py --bin build-bench/ringhttpd [--quick] [--out bench/results]
           [--servers uring-1w,nginx-1w] [--workloads small-c100,gzip]
           [--runs 3] [--duration 10] [--skip-memory] [--skip-syscalls]
  bench.py --bin ... --serve nginx-1w      # start one server and wait (debug)

Method (see BENCHMARKS.md): servers are pinned to CPU 0, the client (wrk, one
thread; or conns.py) to CPU 1. For each workload every server is started,
then the runs are interleaved (A B C A B C ...). Each run records wrk's
requests, bytes, errors and latency percentiles, the server's CPU time
(utime+stime of all its processes, from /proc/<pid>/stat, before and after),
the client's CPU time (rusage) and the machine's busy time (/proc/stat: wall
minus idle, which the kernel accounts precisely). Busy time that is neither
server nor client is "other" load: above 5% of one CPU the run is redone once,
and marked noisy if it is still above.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU = 0
CLIENT_CPU = 1
HOST = "127.0.0.1"
BASE_PORT = 18100
# Noise: CPU used during a run by user-space processes other than the server
# and the client (exact, from /proc/<pid>/stat, reaped children included),
# in CPUs. Above NOISE_LIMIT the run is redone once, then marked noisy.
# Busy time that no process accounts for (interrupts, softirq, kernel
# workers: RCU frees, vmstat, DAMON) is partly caused by the load itself
# (0.03-0.15 CPU here, more with many small packets), so it only counts as
# noise above KERNEL_LIMIT.
NOISE_LIMIT = 0.05
KERNEL_LIMIT = 0.30
THREADS_MAX = 4096  # ringhttpd's --threads limit

SMALL_BODY = "hello"
# Every file's modification time, so the 304 workload's If-Modified-Since is
# exact on every server: 2026-01-01 00:00:00 UTC.
FILES_MTIME = 1767225600
FILES_MTIME_HTTP = "Thu, 01 Jan 2026 00:00:00 GMT"
GZIP_TEXT = "ringhttpd-gzip-benchmark-" * 8  # 200 bytes of compressible text

# id, title, path, connections (full, quick), extra wrk args, Lua script
WORKLOADS = [
    dict(id="small-c100", title="Keep-alive GET, small body (/echo/hello), 100 connections",
         path="/echo/hello", conns=100),
    dict(id="small-c1000", title="Keep-alive GET, small body, 1,000 connections",
         path="/echo/hello", conns=1000),
    dict(id="pipe16-c100", title="Pipelined 16 deep, small body, 100 connections",
         path="/echo/hello", conns=100, lua="pipeline.lua", lua_args=["16"], latency=False,
         note="wrk's latency figures for pipelined batches are not meaningful (its "
              "percentiles come out as 0), so none are shown."),
    dict(id="gzip-c100", title="gzip: /echo/<200-byte text> with Accept-Encoding: gzip, 100 connections",
         path="/echo/" + GZIP_TEXT, conns=100, headers=["Accept-Encoding: gzip"]),
    dict(id="file4k-c100", title="4 KiB file (/files/4k.bin), 100 connections",
         path="/files/4k.bin", conns=100),
    dict(id="file1m-c16", title="1 MiB file (/files/1m.bin), 16 connections",
         path="/files/1m.bin", conns=16, mibs=True,
         note="MiB/s counts response bytes, headers included."),
    dict(id="revalidate-c100", title="304 revalidation of the 4 KiB file (If-Modified-Since), 100 connections",
         path="/files/4k.bin", conns=100, headers=[f"If-Modified-Since: {FILES_MTIME_HTTP}"],
         expect=304,
         note="Every peer answers 304 for an exact Last-Modified date (nginx's default "
              "if_modified_since exact included)."),
    dict(id="file64k-c16", title="64 KiB file (/files/64k.bin), 16 connections",
         path="/files/64k.bin", conns=16, mibs=True),
    dict(id="range64k-c16", title="Random 64 KiB ranges of a 64 MiB file, 16 connections",
         path="/files/64m.bin", conns=16, mibs=True, lua="range.lua",
         lua_args=[str(64 << 20), str(64 << 10)], expect=206,
         check_headers=["Range: bytes=65536-131071"],
         note="Compare with file64k-c16: a range should cost no more than a whole file "
              "of its size."),
    dict(id="newconn-c100", title="New connection per request (Connection: close), 100 concurrent",
         path="/echo/hello", conns=100, headers=["Connection: close"],
         note="wrk reconnects after every response; its connection setup tends to be "
              "the limit (see client CPU), so compare server CPU µs/req."),
    dict(id="c10k", title="10,000 concurrent keep-alive connections, small body",
         path="/echo/hello", conns=10000, quick_conns=2000),
]

# name -> kind and settings. "quick": part of the QUICK=1 set.
SERVERS = {
    "uring-1w": dict(kind="ringhttpd", engine="uring", workers=1, quick=True),
    "uring-2w": dict(kind="ringhttpd", engine="uring", workers=2),
    "threads": dict(kind="ringhttpd", engine="threads", quick=True),
    "nginx-1w": dict(kind="nginx", workers=1, quick=True),
    "nginx-2w": dict(kind="nginx", workers=2),
    "lighttpd": dict(kind="lighttpd"),
    "h2o": dict(kind="h2o"),
    # Opt-in (BENCH_SERVERS): bench/uring_floor.c, the uring engine's ring
    # loop answering every request with a fixed /echo/hello reply and
    # nothing else, the floor no server of that design can go below; it
    # serves only the workloads listed.
    "uring-floor": dict(kind="floor", optin=True,
                        serves=("small-c100", "small-c1000", "pipe16-c100", "c10k")),
}
BASELINE = "nginx-1w"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pin(cpu):
    return lambda: os.sched_setaffinity(0, {cpu})


# ---------------------------------------------------------------- /proc

def proc_tree(root):
    """root and all its descendants (nginx master + workers)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_ticks(pids):
    """utime+stime (clock ticks) summed over pids; each process's stat
    already includes all of its threads, exited ones too."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total


def rss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def thread_count(pids):
    n = 0
    for p in pids:
        try:
            n += len(os.listdir(f"/proc/{p}/task"))
        except OSError:
            pass
    return n


def sys_stat():
    """(monotonic time, idle+iowait ticks over all CPUs, steal ticks, ncpu).
    With NO_HZ the kernel accounts idle time exactly (not by tick sampling),
    so wall*ncpu - idle is a precise measure of busy time."""
    t = time.monotonic()
    with open("/proc/stat") as f:
        lines = f.read().splitlines()
    agg = [int(x) for x in lines[0].split()[1:]]
    ncpu = sum(1 for line in lines if re.match(r"cpu\d+ ", line))
    return t, agg[3] + agg[4], agg[7] if len(agg) > 7 else 0, ncpu


def user_procs_ticks(exclude):
    """pid -> utime+stime+cutime+cstime for every user-space process not in
    exclude (kernel threads skipped: PF_KTHREAD)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in exclude:
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fl = st[st.rindex(")") + 2:].split()
        if int(fl[6]) & 0x00200000:
            continue
        out[int(d)] = int(fl[11]) + int(fl[12]) + int(fl[13]) + int(fl[14])
    return out


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# ---------------------------------------------------------------- HTTP probe

def http_get(port, path, headers=(), timeout=3.0):
    """One GET on a fresh connection: (status, headers dict, body bytes)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        extra = "".join(f"{h}\r\n" for h in headers)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}Connection: close\r\n\r\n".encode())
        buf = b""
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if "chunked" in hdrs.get("transfer-encoding", ""):
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            n = int(size_line.split(b";")[0], 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return status, hdrs, body


# ---------------------------------------------------------------- servers

class Server:
    def __init__(self, name, ctx):
        self.name = name
        self.spec = SERVERS[name]
        self.kind = self.spec["kind"]
        self.ctx = ctx
        self.proc = None
        self.port = None
        self.dir = os.path.join(ctx.tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0 and self.kind in ("lighttpd", "h2o"):
            # they drop to nobody before opening their logs and pid file
            import pwd
            pw = pwd.getpwnam("nobody")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    # each kind: write its configuration, return argv
    def argv(self, conns):
        c = self.ctx
        nofile = c.nofile
        maxconn = max(20000, conns + 1000)
        if self.kind == "ringhttpd":
            a = [c.bin, "--port", str(self.port), "--bind", HOST, "--directory",
                 os.path.join(c.www, "files"), "--engine", self.spec["engine"], "--quiet",
                 "--idle-timeout", "300"]
            if self.spec["engine"] == "uring":
                a += ["--workers", str(self.spec["workers"])]
            else:
                # one connection per thread: the pool must cover the
                # connections, or the rest wait (see BENCHMARKS.md)
                a += ["--threads", str(min(THREADS_MAX, max(64, conns)))]
            return a
        if self.kind == "floor":
            return [c.floor_bin, "--port", str(self.port)]
        if self.kind == "nginx":
            conf = os.path.join(self.dir, "nginx.conf")
            d = self.dir
            with open(conf, "w") as f:
                f.write(f"""# generated by bench/bench.py
worker_processes {self.spec['workers']};
worker_rlimit_nofile {nofile};
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections {maxconn}; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    # As nginx users serving static files configure it (issue 11): open
    # descriptors and stat results kept, revalidated every second.
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 1s;
    open_file_cache_errors on;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    default_type application/octet-stream;
    gzip on;
    gzip_min_length 0;
    gzip_comp_level 1;
    gzip_types text/plain;
    gzip_vary on;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen {HOST}:{self.port} backlog=4096;
        location = / {{ return 200 ""; }}
        location = /echo/hello {{ default_type text/plain; return 200 "{SMALL_BODY}"; }}
        location = /echo/{GZIP_TEXT} {{ default_type text/plain; return 200 "{GZIP_TEXT}"; }}
        location /files/ {{ alias {c.www}/files/; }}
    }}
}}
""")
            return ["nginx", "-c", conf, "-p", d + "/", "-e", f"{d}/error.log",
                    "-g", "daemon off;"]
        if self.kind == "lighttpd":
            conf = os.path.join(self.dir, "lighttpd.conf")
            with open(conf, "w") as f:
                f.write(f"""# generated by bench/bench.py
server.document-root = "{c.www}"
server.bind = "{HOST}"
server.port = {self.port}
server.errorlog = "{self.dir}/error.log"
server.max-fds = {nofile}
server.max-connections = {min(maxconn, nofile // 2)}
server.listen-backlog = 4096
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = 300
server.max-read-idle = 300
server.tag = "lighttpd"
server.modules = ("mod_deflate")
mimetype.assign = ("" => "application/octet-stream")
$HTTP["url"] =^ "/echo/" {{
    mimetype.assign = ("" => "text/plain")
}}
deflate.mimetypes = ("text/plain")
deflate.allowed-encodings = ("gzip")
deflate.min-compress-size = 1
deflate.compression-level = 1
""")
                if os.geteuid() == 0:
                    f.write('server.username = "nobody"\nserver.groupname = "nogroup"\n')
            return ["lighttpd", "-D", "-f", conf]
        if self.kind == "h2o":
            conf = os.path.join(self.dir, "h2o.conf")
            with open(conf, "w") as f:
                f.write(f"""# generated by bench/bench.py
listen:
  host: {HOST}
  port: {self.port}
num-threads: 1
max-connections: {maxconn}
http1-request-timeout: 300
error-log: {self.dir}/error.log
pid-file: {self.dir}/h2o.pid
""")
                if os.geteuid() == 0:
                    f.write("user: nobody\n")
                f.write(f"""hosts:
  default:
    paths:
      /echo:
        file.dir: {c.www}/echo
        file.mime.setdefaulttype: text/plain
        compress:
          gzip: 1
        compress-minimum-size: 1
      /files:
        file.dir: {c.www}/files
""")
            return ["h2o", "-c", conf]
        raise ValueError(self.kind)

    def start(self, port, conns):
        self.port = port
        self.conns = conns
        argv = self.argv(conns)
        self.errlog = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.errlog,
                                     stderr=self.errlog, preexec_fn=pin(SERVER_CPU),
                                     start_new_session=True)
        # run.sh's exit trap kills every process group listed here
        with open(os.path.join(self.ctx.tmp, "pgids"), "a") as f:
            f.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + 10
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                st, _, body = http_get(port, "/echo/hello", timeout=1)
                if st == 200 and body == SMALL_BODY.encode():
                    return
                last = f"status {st} body {body[:40]!r}"
            except OSError as e:
                last = str(e)
            time.sleep(0.05)
        self.stop()
        tail = open(os.path.join(self.dir, "stderr.log"), "rb").read()[-2000:].decode(errors="replace")
        raise RuntimeError(f"{self.name} did not become ready on port {port}: {last}\n{tail}")

    def pids(self):
        return proc_tree(self.proc.pid)

    def stop(self):
        if not self.proc:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # a server's worker may outlive its master briefly
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        forget_pgid(self.ctx, self.proc.pid)
        self.proc = None
        self.errlog.close()


def forget_pgid(ctx, pgid):
    """Take a stopped process group off run.sh's kill list, so that its exit
    trap never signals a group id the system may since have reused."""
    path = os.path.join(ctx.tmp, "pgids")
    try:
        with open(path) as f:
            left = [line for line in f if line.strip() != str(pgid)]
        with open(path, "w") as f:
            f.writelines(left)
    except OSError:
        pass


def free_port(start):
    p = start
    while True:
        with socket.socket() as s:
            try:
                s.bind((HOST, p))
                return p
            except OSError:
                p += 1


def version_of(kind, binpath):
    try:
        if kind == "ringhttpd":
            out = subprocess.run([binpath, "--version"], capture_output=True, text=True).stdout
        elif kind == "nginx":
            out = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr
        elif kind == "lighttpd":
            out = subprocess.run(["lighttpd", "-v"], capture_output=True, text=True).stdout
        elif kind == "h2o":
            out = subprocess.run(["h2o", "--version"], capture_output=True, text=True).stdout
        elif kind == "wrk":
            out = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
        else:
            return "?"
        line = out.strip().splitlines()[0]
        line = re.sub(r"^nginx version: ", "", line)
        line = re.sub(r" \(ssl\).*| - a light.*", "", line)
        line = re.sub(r"^h2o version ", "h2o/", line)
        line = re.sub(r"^wrk (\S+) .*", r"wrk \1", line)
        return line
    except (OSError, IndexError):
        return "?"


# ---------------------------------------------------------------- one run

def wait_quiet(pids, limit=3.0):
    """Waits until the servers stop using CPU (connection teardown after a
    run is charged to the run that caused it)."""
    end = time.monotonic() + limit
    prev = cpu_ticks(pids)
    while time.monotonic() < end:
        time.sleep(0.1)
        cur = cpu_ticks(pids)
        if cur == prev:
            return
        prev = cur


def wrk_run(server, wl, conns, duration, ctx):
    pids = server.pids()
    url = f"http://{HOST}:{server.port}{wl['path']}"
    lua = os.path.join(HERE, "lua", wl.get("lua", "report.lua"))
    argv = ["wrk", "-t1", "-c", str(conns), "-d", f"{duration}s", "--timeout", "5s", "-s", lua]
    for h in wl.get("headers", []):
        argv += ["-H", h]
    argv.append(url)
    if wl.get("lua_args"):
        argv += ["--"] + wl["lua_args"]
    wait_quiet(pids)
    exclude = set(pids) | {os.getpid()}
    u0 = user_procs_ticks(exclude)
    t0, idle0, steal0, ncpu = sys_stat()
    s0 = cpu_ticks(pids)
    c0 = children_cpu_s()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=pin(CLIENT_CPU), text=True)
    try:
        out, err = p.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    except BaseException:
        p.kill()
        p.wait()
        raise
    client_s = children_cpu_s() - c0
    wait_quiet(pids)
    s1 = cpu_ticks(pids)
    t1, idle1, steal1, _ = sys_stat()
    u1 = user_procs_ticks(exclude)
    wall = t1 - t0
    server_s = (s1 - s0) / CLK_TCK
    busy_s = wall * ncpu - (idle1 - idle0) / CLK_TCK
    unexplained = busy_s - server_s - client_s
    other_s = sum(max(0, v - u0.get(p, 0)) for p, v in u1.items()) / CLK_TCK
    # a parent reaping a long-lived child gains the child's whole lifetime
    # in cutime: the busy time nobody else explains bounds the estimate
    other_s = max(0.0, min(other_s, unexplained))
    other = other_s / wall
    kernel = (unexplained - other_s) / wall
    m = re.search(r"^BENCHJSON (.*)$", out, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({p.returncode}): {err.strip()[-500:]} {out[-500:]}")
    r = json.loads(m.group(1))
    dur = r["duration_us"] / 1e6
    reqs = r["requests"]
    errors = sum(r["errors"].values())
    return dict(
        server=server.name, workload=wl["id"], conns=conns, duration_s=round(dur, 3),
        requests=reqs, rps=round(reqs / dur, 1), bytes=r["bytes"],
        mib_s=round(r["bytes"] / dur / 2**20, 1), bytes_per_resp=round(r["bytes"] / reqs, 1) if reqs else None,
        errors=r["errors"], errors_total=errors,
        p50_us=r["latency_us"]["p50"], p90_us=r["latency_us"]["p90"],
        p99_us=r["latency_us"]["p99"], p999_us=r["latency_us"]["p999"],
        max_us=r["latency_us"]["max"], mean_us=r["latency_us"]["mean"],
        server_cpu_s=round(server_s, 3), client_cpu_s=round(client_s, 3),
        server_cpu_frac=round(server_s / wall, 3), client_cpu_frac=round(client_s / wall, 3),
        cpu_us_per_req=round(server_s * 1e6 / reqs, 3) if reqs else None,
        other_cpu=round(other, 3), kernel_cpu=round(kernel, 3), steal_cpu=round((steal1 - steal0) / CLK_TCK / wall, 3),
        wall_s=round(wall, 3), processes=len(pids), threads=thread_count(pids),
    )


def noisy(r):
    return (r["other_cpu"] > NOISE_LIMIT or r["steal_cpu"] > NOISE_LIMIT
            or r["kernel_cpu"] > KERNEL_LIMIT)


# ---------------------------------------------------------------- phases

def throughput_phase(ctx, servers, workloads, runs, duration, warmup, raw):
    results = []
    for wl in workloads:
        conns = wl.get("quick_conns", wl["conns"]) if ctx.quick else wl["conns"]
        log(f"workload {wl['id']}: {wl['title']} (c={conns})")
        started = []
        try:
            port = BASE_PORT
            for name in servers:
                if wl["id"] not in SERVERS[name].get("serves", (wl["id"],)):
                    continue
                s = Server(name, ctx)
                port = free_port(port)
                s.start(port, conns)
                started.append(s)
                port += 1
                check_route(s, wl)
            if warmup > 0:
                for s in started:
                    wrk_run(s, wl, conns, warmup, ctx)
            for run in range(runs):
                # rotate the order each round so no server always runs first
                order = started[run % len(started):] + started[:run % len(started)]
                for s in order:
                    r = wrk_run(s, wl, conns, duration, ctx)
                    r["run"] = run
                    r["redone"] = False
                    if noisy(r) and not ctx.quick:
                        log(f"  {s.name} run {run}: other processes {r['other_cpu']:.2f} CPU,"
                            f" kernel {r['kernel_cpu']:.2f}, steal {r['steal_cpu']:.2f}: redoing")
                        r2 = wrk_run(s, wl, conns, duration, ctx)
                        r2["run"] = run
                        r2["redone"] = True
                        r2["first_attempt_other_cpu"] = r["other_cpu"]
                        r = r2
                    r["noisy"] = noisy(r)
                    raw.write(json.dumps(dict(r, phase="throughput")) + "\n")
                    raw.flush()
                    results.append(r)
                    log(f"  {s.name:9} run {run}: {r['rps']:>10.0f} req/s  "
                        f"{r['cpu_us_per_req'] or 0:7.2f} us/req  p99 {r['p99_us']} us  "
                        f"cpu {r['server_cpu_frac']:.2f}/{r['client_cpu_frac']:.2f}  "
                        f"other {r['other_cpu']:.2f} kern {r['kernel_cpu']:.2f}"
                        f"{'  NOISY' if r['noisy'] else ''}"
                        f"{'  errors ' + str(r['errors_total']) if r['errors_total'] else ''}")
        finally:
            for s in started:
                s.stop()
    return results


def check_route(server, wl):
    """The route answers its expected status (200 unless the workload says)
    with the expected body on this server."""
    headers = wl.get("headers", []) + wl.get("check_headers", [])
    hdrs = [h for h in headers if not h.lower().startswith("connection")]
    st, h, body = http_get(server.port, wl["path"], hdrs)
    want_status = wl.get("expect", 200)
    if want_status == 304:
        if st != 304 or body:
            raise RuntimeError(f"{server.name}: GET {wl['path']} gave {st}, not 304")
        return
    if want_status == 206:
        first, last = (int(x) for x in hdrs[-1].split("=")[1].split("-"))
        with open(os.path.join(server.ctx.www, wl["path"].lstrip("/")), "rb") as f:
            f.seek(first)
            want = f.read(last - first + 1)
        if st != 206 or body != want:
            raise RuntimeError(f"{server.name}: ranged GET {wl['path']} gave {st}, {len(body)} bytes")
        return
    if wl["path"].startswith("/echo/"):
        want = wl["path"][len("/echo/"):].encode()
        if "gzip" in " ".join(hdrs):
            import gzip
            if h.get("content-encoding") != "gzip":
                raise RuntimeError(f"{server.name}: {wl['path']} not gzip-encoded: {h}")
            body = gzip.decompress(body)
    else:
        with open(os.path.join(server.ctx.www, wl["path"].lstrip("/")), "rb") as f:
            want = f.read()
    if st != 200 or body != want:
        raise RuntimeError(f"{server.name}: GET {wl['path']} gave {st}, {len(body)} bytes")


UNREAD_DOWNLOADS = 300


def tcp_mem_kib():
    """The host's TCP socket memory (/proc/net/sockstat: pages), in KiB."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    raise RuntimeError("no TCP line in /proc/net/sockstat")


def socket_memory_phase(ctx, servers, raw, count=UNREAD_DOWNLOADS):
    """Kernel TCP memory (the host's tcp_mem, which every TCP socket shares)
    that count clients pin by asking for the 64 MiB file and never reading:
    the growth of /proc/net/sockstat's TCP memory, per download, once every
    send has queued what the server lets it."""
    out = []
    for name in servers:
        s = Server(name, ctx)
        port = free_port(BASE_PORT)
        s.start(port, count)
        socks = []
        try:
            time.sleep(0.3)
            before = tcp_mem_kib()
            for _ in range(count):
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                c.connect((HOST, port))
                c.sendall(b"GET /files/64m.bin HTTP/1.1\r\nHost: bench\r\n\r\n")
                socks.append(c)
            time.sleep(3.0)
            r = dict(server=name, downloads=count,
                     kib_per_download=round((tcp_mem_kib() - before) / count))
            raw.write(json.dumps(dict(r, phase="socket_memory")) + "\n")
            raw.flush()
            out.append(r)
            log(f"socket memory {name:9}: {r['kib_per_download']} KiB of TCP memory per unread "
                f"download ({count})")
        finally:
            for c in socks:
                c.close()
            s.stop()
    return out


def memory_phase(ctx, servers, count, raw):
    """RSS with the server idle, with count/2 and with count idle keep-alive
    connections. (after - before) / n includes one-time allocations made on
    first use; the slope between n/2 and n is the marginal cost."""
    out = []
    half = count // 2
    for name in servers:
        s = Server(name, ctx)
        port = free_port(BASE_PORT)
        s.start(port, count)
        p = None
        try:
            for _ in range(3):
                http_get(port, "/echo/hello")
            time.sleep(0.3)
            before = rss_kib(s.pids())
            p = subprocess.Popen([sys.executable, os.path.join(HERE, "conns.py"), "idle",
                                  "--port", str(port), "--count", str(half)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 preexec_fn=pin(CLIENT_CPU), text=True)

            def ready():
                w = p.stdout.readline().split()
                if w[:1] != ["READY"]:
                    raise RuntimeError(f"conns.py idle: {w}")
                time.sleep(1.0)
                return int(w[1]), int(w[2]), rss_kib(s.pids())

            ok_half, _, mid = ready()
            p.stdin.write(f"open {count - half}\n")
            p.stdin.flush()
            ok, failed, after = ready()
            threads = thread_count(s.pids())
            p.stdin.close()
            p.wait(timeout=30)
            slope = (after - mid) / (ok - ok_half) if ok > ok_half else None
            r = dict(server=name, connections=ok, failed=failed, rss_before_kib=before,
                     rss_half_kib=mid, connections_half=ok_half, rss_after_kib=after,
                     threads=threads, kib_per_conn=round((after - before) / ok, 2) if ok else None,
                     kib_per_conn_marginal=round(slope, 2) if slope is not None else None)
            raw.write(json.dumps(dict(r, phase="memory")) + "\n")
            raw.flush()
            out.append(r)
            log(f"memory {name:9}: {before} -> {mid} -> {after} KiB with 0/{ok_half}/{ok} idle "
                f"connections: {r['kib_per_conn']} KiB each, {r['kib_per_conn_marginal']} marginal"
                f"{', ' + str(failed) + ' failed' if failed else ''}")
        finally:
            if p and p.poll() is None:
                p.kill()
                p.wait()
            s.stop()
    return out


STRACE_CASES = [
    dict(id="keepalive", title="keep-alive GET /echo/hello, 50 connections", close=False, conns=50),
    dict(id="newconn", title="new connection per request, 20 concurrent", close=True, conns=20),
]


def syscall_phase(ctx, servers, count, raw):
    out = []
    for name in servers:
        for case in STRACE_CASES:
            n = count if not case["close"] else max(1000, count // 5)
            s = Server(name, ctx)
            port = free_port(BASE_PORT)
            s.start(port, case["conns"])
            tr = None
            try:
                http_get(port, "/echo/hello")
                pids = s.pids()
                sout = os.path.join(s.dir, f"strace-{case['id']}.txt")
                argv = ["strace", "-c", "-f", "-o", sout]
                for pid in pids:
                    argv += ["-p", str(pid)]
                tr = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      preexec_fn=pin(CLIENT_CPU), start_new_session=True)
                with open(os.path.join(ctx.tmp, "pgids"), "a") as f:
                    f.write(f"{tr.pid}\n")
                time.sleep(0.5)  # attach
                cl = subprocess.run([sys.executable, os.path.join(HERE, "conns.py"), "fixed",
                                     "--port", str(port), "--count", str(n),
                                     "--conns", str(case["conns"])] + (["--close"] if case["close"] else []),
                                    capture_output=True, text=True, preexec_fn=pin(CLIENT_CPU),
                                    timeout=120)
                time.sleep(0.3)  # let the server finish closing
                tr.send_signal(signal.SIGINT)
                tr.wait(timeout=10)
                res = json.loads(cl.stdout.strip().splitlines()[-1])
                calls = parse_strace(open(sout).read())
                total = sum(calls.values())
                ok = res["ok"]
                top = sorted(calls.items(), key=lambda kv: -kv[1])[:6]
                r = dict(server=name, case=case["id"], requests=ok, failed=res["failed"],
                         syscalls=total, per_request=round(total / ok, 2) if ok else None,
                         top={k: round(v / ok, 2) for k, v in top} if ok else {})
                raw.write(json.dumps(dict(r, phase="syscalls")) + "\n")
                raw.flush()
                out.append(r)
                log(f"syscalls {name:9} {case['id']:9}: {r['per_request']} per request "
                    f"({ok} requests) top {r['top']}")
            finally:
                if tr is not None:
                    if tr.poll() is None:
                        tr.kill()
                        tr.wait()
                    forget_pgid(ctx, tr.pid)
                s.stop()
    return out


def parse_strace(text):
    calls = {}
    for line in text.splitlines():
        t = line.split()
        if len(t) < 5 or not re.match(r"^\d+\.\d+$", t[0]) or t[-1] == "total":
            continue
        try:
            calls[t[-1]] = calls.get(t[-1], 0) + int(t[3])
        except ValueError:
            continue
    return calls


# ---------------------------------------------------------------- report

def machine_info(ctx):
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"
    model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    distro = sh(". /etc/os-release && echo \"$PRETTY_NAME\"")
    commit = sh(f"git -C {REPO} rev-parse --short HEAD")
    dirty = sh(f"git -C {REPO} status --porcelain -- src CMakeLists.txt")
    return dict(
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=model, cpus=os.cpu_count(), memory=mem, kernel=platform.release(), os=distro,
        virt=sh("systemd-detect-virt 2>/dev/null || true") or "none",
        commit=commit + (" (with uncommitted changes in src/)" if dirty else ""),
        versions={k: version_of(k, ctx.bin) for k in ("ringhttpd", "nginx", "lighttpd", "h2o", "wrk")},
    )


def med(xs):
    return statistics.median(xs) if xs else None


def fmt_num(x, digits=0):
    if x is None:
        return "–"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def fmt_lat(us):
    if us is None:
        return "–"
    if us < 1000:
        return f"{us:.0f} µs"
    if us < 1e6:
        return f"{us / 1000:.1f} ms"
    return f"{us / 1e6:.2f} s"


def summarize(results, servers, workloads):
    """Per workload and server: medians, ranges, ratios to the baseline
    computed run by run (run i of a server against run i of nginx-1w, which
    ran next to it)."""
    summ = {}
    for wl in workloads:
        base = {r["run"]: r for r in results if r["workload"] == wl["id"] and r["server"] == BASELINE}
        for name in servers:
            rs = [r for r in results if r["workload"] == wl["id"] and r["server"] == name]
            if not rs:
                continue
            rps = [r["rps"] for r in rs]
            cpu = [r["cpu_us_per_req"] for r in rs if r["cpu_us_per_req"] is not None]
            cpu_ratio = [r["cpu_us_per_req"] / base[r["run"]]["cpu_us_per_req"]
                         for r in rs if r["run"] in base and r["cpu_us_per_req"]
                         and base[r["run"]]["cpu_us_per_req"]]
            rps_ratio = [r["rps"] / base[r["run"]]["rps"] for r in rs
                         if r["run"] in base and base[r["run"]]["rps"]]
            summ[(wl["id"], name)] = dict(
                runs=len(rs), noisy=sum(r["noisy"] for r in rs), redone=sum(r["redone"] for r in rs),
                rps=med(rps), rps_min=min(rps), rps_max=max(rps),
                mib_s=med([r["mib_s"] for r in rs]),
                p50=med([r["p50_us"] for r in rs]), p99=med([r["p99_us"] for r in rs]),
                cpu=med(cpu), cpu_min=min(cpu) if cpu else None, cpu_max=max(cpu) if cpu else None,
                cpu_frac=med([r["server_cpu_frac"] for r in rs]),
                client_frac=med([r["client_cpu_frac"] for r in rs]),
                other_max=max(r["other_cpu"] for r in rs),
                cpu_ratio=med(cpu_ratio), rps_ratio=med(rps_ratio),
                bytes_per_resp=med([r["bytes_per_resp"] for r in rs if r["bytes_per_resp"]]),
                errors=sum(r["errors_total"] for r in rs),
                requests=sum(r["requests"] for r in rs),
            )
    return summ


def write_markdown(path, ctx, info, servers, workloads, summ, memory, sockmem, syscalls, runs,
                   duration, elapsed):
    L = []
    w = L.append
    mode = "QUICK" if ctx.quick else "full"
    w(f"# ringhttpd benchmark results ({mode} run)\n")
    w(f"Generated by `bench/run.sh` on {info['date']} in {elapsed / 60:.1f} min. "
      f"Raw data: `{os.path.basename(ctx.raw_path)}`; method and caveats: `BENCHMARKS.md`.\n")
    w(f"- Machine: {info['cpu']}, {info['cpus']} CPUs, {info['memory']}, {info['os']}, "
      f"kernel {info['kernel']}, virtualization: {info['virt']}")
    w(f"- ringhttpd {info['commit']} (`{info['versions']['ringhttpd']}`, CMake Release); "
      + ", ".join(f"{v}" for k, v in info["versions"].items() if k != "ringhttpd"))
    w(f"- Server pinned to CPU {SERVER_CPU}, client (wrk, 1 thread) to CPU {CLIENT_CPU}; "
      f"{runs} run{'s' if runs > 1 else ''} of {duration} s per server and workload, servers "
      "interleaved" + ("; medians, [min–max] over runs." if runs > 1 else "."))
    w("- **CPU µs/req** = server utime+stime (all its processes and threads) over the run ÷ "
      "requests served: the efficiency figure; lower is better. req/s is capped by the "
      "single client core (one wrk thread); a client CPU near 100% means the client was the "
      "limit, and req/s then says little about the server.")
    w(f"- ⚠ n noisy: n runs in which other processes used more than {NOISE_LIMIT:.0%} of a CPU "
      "(or unexplained kernel time exceeded "
      f"{KERNEL_LIMIT:.0%}) even after one redo" + (" (QUICK runs are not redone)" if ctx.quick else "")
      + ". Rerun on a quiet machine before quoting them.")
    w(f"- threads = ringhttpd `--engine threads --threads max(64, connections)` (at most "
      f"{THREADS_MAX}, its limit): one connection per thread, so the pool is sized to the load.")
    if "uring-floor" in servers:
        w("- uring-floor = `bench/uring_floor.c`: ringhttpd's ring set-up and receive/send loop "
          "answering every request with the same 153 bytes and doing nothing else; the floor "
          "of the uring engine's design, not a server (small-body workloads only).")
    w(f"- Ratios are to {BASELINE}, computed run by run, then the median. "
      "`×0.50` CPU means half of nginx's CPU per request.\n")
    for wl in workloads:
        rows = [(n, summ.get((wl["id"], n))) for n in servers if (wl["id"], n) in summ]
        if not rows:
            continue
        conns = rows[0][1] and next((r for r in ctx.results if r["workload"] == wl["id"]), {}).get("conns")
        w(f"## {wl['title']}" + (f" (ran with {conns} connections)" if conns != wl["conns"] else "") + "\n")
        mibs = wl.get("mibs")
        if wl.get("note"):
            w(wl["note"] + "\n")
        multi = " median [min–max]" if runs > 1 else ""
        hdr = f"| server | req/s{multi} |" + (" MiB/s |" if mibs else "") + \
              f" p50 | p99 | server CPU µs/req{multi} | CPU/req vs nginx-1w | req/s vs nginx-1w | server CPU | client CPU | B/resp | errors |"
        w(hdr)
        w("|" + "---|" * (hdr.count("|") - 1))
        for n, s in rows:
            flag = ""
            if s["noisy"]:
                flag = f" ⚠{s['noisy']} noisy"
            rng = (lambda lo, hi, d=0: f" [{fmt_num(lo, d)}–{fmt_num(hi, d)}]") if s["runs"] > 1 \
                else (lambda lo, hi, d=0: "")
            cells = [f"{n}{flag}", fmt_num(s["rps"]) + rng(s["rps_min"], s["rps_max"])]
            if mibs:
                cells.append(fmt_num(s["mib_s"]))
            if wl.get("latency", True):
                cells += [fmt_lat(s["p50"]), fmt_lat(s["p99"])]
            else:
                cells += ["n/a", "n/a"]
            cells += [fmt_num(s["cpu"], 2) + rng(s["cpu_min"], s["cpu_max"], 2),
                      f"×{fmt_num(s['cpu_ratio'], 2)}", f"×{fmt_num(s['rps_ratio'], 2)}",
                      f"{fmt_num((s['cpu_frac'] or 0) * 100)}%",
                      f"{fmt_num((s['client_frac'] or 0) * 100)}%",
                      fmt_num(s["bytes_per_resp"]), str(s["errors"])]
            w("| " + " | ".join(cells) + " |")
        w("")
    if memory:
        w("## Memory: RSS per idle keep-alive connection\n")
        w("Sum of VmRSS over the server's processes: idle (after a few requests), with "
          "n/2 and with n keep-alive connections open, each having served one request. "
          "(n − idle) ÷ n includes one-time allocations made on first use; the marginal "
          "figure, the slope between n/2 and n, is the cost of one more connection. "
          "Kernel socket memory is not in RSS. The threads engine is started with "
          f"`--threads` = n (at most {THREADS_MAX}), so its pool's stacks are already in "
          "\"idle\"; RSS ÷ n is its whole footprint per connection.\n")
        w("| server | idle connections | RSS idle | RSS with n/2 | RSS with n | KiB/conn (n − idle) ÷ n | KiB/conn marginal (n/2 → n) | RSS ÷ n | threads |")
        w("|---|---|---|---|---|---|---|---|---|")
        for m in memory:
            n = m["connections"]
            w(f"| {m['server']} | {n:,}{' (' + str(m['failed']) + ' failed)' if m['failed'] else ''} |"
              f" {m['rss_before_kib'] / 1024:.1f} MiB | {m['rss_half_kib'] / 1024:.1f} MiB |"
              f" {m['rss_after_kib'] / 1024:.1f} MiB | {fmt_num(m['kib_per_conn'], 2)} |"
              f" {fmt_num(m['kib_per_conn_marginal'], 2)} |"
              f" {fmt_num(m['rss_after_kib'] / n if n else None, 2)} | {m['threads']} |")
        w("")
    if sockmem:
        w("## Memory: kernel TCP memory per unread download\n")
        w(f"{sockmem[0]['downloads']} clients, each with a 4 KiB receive buffer, ask for "
          "`/files/64m.bin` and never read it. The figure is the growth of the host's TCP "
          "memory (`/proc/net/sockstat`) per download: send queues come out of `tcp_mem`, "
          "which every TCP socket on the host shares, and past its pressure mark the "
          "kernel stalls unrelated connections.\n")
        w("| server | unread downloads | KiB each |")
        w("|---|---|---|")
        for m in sockmem:
            w(f"| {m['server']} | {m['downloads']} | {m['kib_per_download']:,} |")
        w("")
    if syscalls:
        w("## Syscalls per request (strace -c -f)\n")
        w("Counted with `strace -c -f` attached to every process and thread of the server "
          "while `bench/conns.py fixed` sends a fixed number of requests, one in flight per "
          "connection. strace slows the server, which changes batching; io_uring work done "
          "inside `io_uring_enter` counts as one call.\n")
        w("| server | case | requests | syscalls/request | most frequent (per request) |")
        w("|---|---|---|---|---|")
        for s in syscalls:
            top = ", ".join(f"{k} {v}" for k, v in s["top"].items())
            w(f"| {s['server']} | {s['case']} | {s['requests']:,} | {fmt_num(s['per_request'], 2)} | {top} |")
        w("")
    charts = [f for f in ("cpu_per_req.png", "cpu_ratio.png", "rps.png", "memory.png")
              if os.path.exists(os.path.join(os.path.dirname(path), f))]
    if charts:
        w("## Charts\n")
        for c in charts:
            w(f"![{c}]({c})")
        w("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def plot(outdir, servers, workloads, summ, memory):
    if not shutil.which("gnuplot"):
        log("gnuplot missing: no charts")
        return
    gp = os.path.join(HERE, "plot.gp")
    wids = [wl["id"] for wl in workloads if any((wl["id"], n) in summ for n in servers)]
    names = [n for n in servers if any((w, n) in summ for w in wids)]

    def table(fname, key):
        path = os.path.join(outdir, fname)
        with open(path, "w") as f:
            f.write("workload " + " ".join(names) + "\n")
            for wid in wids:
                vals = []
                for n in names:
                    v = summ.get((wid, n), {}).get(key)
                    vals.append("NaN" if v is None else f"{v:.4g}")
                f.write(wid + " " + " ".join(vals) + "\n")
        return path

    jobs = [
        (table("cpu_per_req.dat", "cpu"), "cpu_per_req.png",
         "Server CPU time per request (lower is better)", "µs per request (log scale)", "log"),
        (table("rps.dat", "rps"), "rps.png",
         "Requests per second (one wrk thread on the other core)", "req/s (log scale)", "log"),
    ]
    if BASELINE in names:
        jobs.append((table("cpu_ratio.dat", "cpu_ratio"), "cpu_ratio.png",
                     f"Server CPU per request relative to {BASELINE} (lower is better)",
                     f"× {BASELINE}", "lin"))
    if memory:
        path = os.path.join(outdir, "memory.dat")
        with open(path, "w") as f:
            f.write("server per_connection marginal\n")
            for m in memory:
                a, b = m["kib_per_conn"], m["kib_per_conn_marginal"]
                f.write(f"{m['server']} {'NaN' if a is None else a} {'NaN' if b is None else b}\n")
        jobs.append((path, "memory.png", "RSS per idle keep-alive connection (lower is better)",
                     "KiB per connection", "lin"))
    for dat, png, title, ylabel, scale in jobs:
        r = subprocess.run(["gnuplot", "-c", gp, dat, os.path.join(outdir, png), title, ylabel, scale],
                           capture_output=True, text=True)
        if r.returncode != 0:
            log(f"gnuplot failed for {png}: {r.stderr.strip()[-300:]}")


# ---------------------------------------------------------------- main

class Ctx:
    pass


def prepare_files(www):
    os.makedirs(os.path.join(www, "files"))
    os.makedirs(os.path.join(www, "echo"))
    rnd = os.urandom(1 << 20)
    with open(os.path.join(www, "files", "4k.bin"), "wb") as f:
        f.write(rnd[:4096])
    with open(os.path.join(www, "files", "1m.bin"), "wb") as f:
        f.write(rnd)
    with open(os.path.join(www, "files", "64k.bin"), "wb") as f:
        f.write(rnd[:65536])
    with open(os.path.join(www, "files", "64m.bin"), "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    for name in os.listdir(os.path.join(www, "files")):
        os.utime(os.path.join(www, "files", name), (FILES_MTIME, FILES_MTIME))
    # the static peers (lighttpd, h2o) serve /echo/* from files
    for body in (SMALL_BODY, GZIP_TEXT):
        with open(os.path.join(www, "echo", body), "w") as f:
            f.write(body)
    for root, dirs, files in os.walk(www):
        os.chmod(root, 0o755)
        for fn in files:
            os.chmod(os.path.join(root, fn), 0o644)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="ringhttpd binary (Release build)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--floor-bin", help="uring_floor binary, for the opt-in uring-floor server")
    ap.add_argument("--tmp", help="scratch directory (default: a new one in $TMPDIR)")
    ap.add_argument("--servers", help="comma-separated subset of " + ",".join(SERVERS))
    ap.add_argument("--workloads", help="comma-separated subset of " + ",".join(w["id"] for w in WORKLOADS))
    ap.add_argument("--runs", type=int)
    ap.add_argument("--duration", type=int)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-syscalls", action="store_true")
    ap.add_argument("--serve", metavar="SERVER", help="debug: start one server and wait")
    a = ap.parse_args()

    # SIGTERM/SIGHUP unwind like Ctrl-C, so every started server is stopped
    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    if os.cpu_count() < 2:
        sys.exit("bench.py: needs 2 CPUs (server on CPU 0, client on CPU 1)")
    ctx = Ctx()
    ctx.quick = a.quick
    ctx.bin = os.path.abspath(a.bin)
    own_tmp = not a.tmp
    ctx.tmp = a.tmp or tempfile.mkdtemp(prefix="ringhttpd-bench.")
    os.makedirs(ctx.tmp, exist_ok=True)
    os.chmod(ctx.tmp, 0o755)  # nginx/lighttpd/h2o workers run as nobody
    ctx.www = os.path.join(ctx.tmp, "www")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ctx.nofile = max(soft, 1024)
    os.sched_setaffinity(0, {CLIENT_CPU})  # this driver stays off the server's CPU

    ctx.floor_bin = os.path.abspath(a.floor_bin) if a.floor_bin else None
    servers = [s for s in SERVERS if not SERVERS[s].get("optin")
               and (not a.quick or SERVERS[s].get("quick"))]
    if a.servers:
        servers = a.servers.split(",")
        for s in servers:
            if s not in SERVERS:
                sys.exit(f"unknown server {s}")
    if "uring-floor" in servers and not (ctx.floor_bin and os.access(ctx.floor_bin, os.X_OK)):
        log("no --floor-bin (a build without io_uring?): uring-floor skipped")
        servers.remove("uring-floor")
    missing = {SERVERS[s]["kind"] for s in servers if SERVERS[s]["kind"] not in ("ringhttpd", "floor")
               and not shutil.which(SERVERS[s]["kind"])}
    if missing:
        log(f"not installed, skipped: {', '.join(sorted(missing))}")
        servers = [s for s in servers if SERVERS[s]["kind"] not in missing]
    workloads = WORKLOADS
    if a.workloads:
        ids = a.workloads.split(",")
        workloads = [w for w in WORKLOADS if w["id"] in ids]
    runs = a.runs or (1 if a.quick else 3)
    duration = a.duration or (3 if a.quick else 10)
    warmup = 0 if a.quick else 1
    idle_conns = 2000 if a.quick else 10000
    strace_count = 2000 if a.quick else 20000

    t_start = time.monotonic()
    try:
        prepare_files(ctx.www)
        if a.serve:
            s = Server(a.serve, ctx)
            s.start(free_port(BASE_PORT), 100)
            print(f"{a.serve} on http://{HOST}:{s.port}/ (config in {s.dir}); Ctrl-C stops", flush=True)
            try:
                s.proc.wait()
            except KeyboardInterrupt:
                pass
            s.stop()
            return
        os.makedirs(a.out, exist_ok=True)
        ctx.raw_path = os.path.join(a.out, "latest.jsonl")
        est = len(servers) * len(workloads) * (runs * (duration + 0.6) + warmup + 0.5)
        log(f"{'QUICK' if a.quick else 'full'} run: servers {', '.join(servers)}; "
            f"{len(workloads)} workloads x {runs} run(s) x {duration} s; about {est / 60:.0f} min "
            "for the throughput part")
        info = machine_info(ctx)
        with open(ctx.raw_path, "w") as raw:
            raw.write(json.dumps(dict(phase="meta", quick=a.quick, servers=servers, runs=runs,
                                      duration=duration, **info)) + "\n")
            results = throughput_phase(ctx, servers, workloads, runs, duration, warmup, raw)
            ctx.results = results
            servers_only = [n for n in servers if SERVERS[n]["kind"] != "floor"]  # it keeps no state
            memory = [] if a.skip_memory else memory_phase(ctx, servers_only, idle_conns, raw)
            sockmem = [] if a.skip_memory else socket_memory_phase(ctx, servers_only, raw)
            sc_servers = [s for s in ("uring-1w", "threads", "nginx-1w") if s in servers]
            syscalls = [] if a.skip_syscalls or not shutil.which("strace") else \
                syscall_phase(ctx, sc_servers, strace_count, raw)
        summ = summarize(results, servers, workloads)
        plot(a.out, servers, workloads, summ, memory)
        md = os.path.join(a.out, "latest.md")
        write_markdown(md, ctx, info, servers, workloads, summ, memory, sockmem, syscalls, runs,
                       duration, time.monotonic() - t_start)
        log(f"done in {time.monotonic() - t_start:.0f} s: {md}")
    finally:
        if own_tmp:
            shutil.rmtree(ctx.tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as e:
        log(f"interrupted ({e or 'SIGINT'}); servers stopped")
        sys.exit(130)

#!/usr/bin/env python3
"""conns.py - connection-level load that wrk cannot produce.

  conns.py idle  --port P --count N [--path /echo/hello]
      Opens N keep-alive connections, sends one GET on each and reads the
      response (so every connection has served a request), then prints
      "READY <held> <failed>" and holds them all open, idle. A line
      "open K" on stdin opens K more (and prints READY again); EOF on stdin
      closes them all. Used to measure server memory per idle connection.

  conns.py fixed --port P --count N --conns C [--close] [--path /echo/hello]
      Sends exactly N GETs over C concurrent connections, one request in
      flight per connection (keep-alive, or a new connection per request with
      --close), prints one JSON line {"ok":..,"failed":..,"seconds":..}.
      Used under strace to count syscalls per request.

Only the standard library; one epoll loop; every wait is bounded.
"""

import argparse
import errno
import json
import selectors
import signal
import socket
import sys
import time

HOST = "127.0.0.1"


def request_bytes(path, close):
    conn = "close" if close else "keep-alive"
    return (f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n"
            f"User-Agent: ringhttpd-bench\r\nConnection: {conn}\r\n\r\n").encode()


def response_complete(buf):
    """True when buf holds one whole response (Content-Length or chunked)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = buf[:end].lower()
    body = len(buf) - end - 4
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip()
        if name == b"content-length":
            return body >= int(value.strip())
        if name == b"transfer-encoding" and b"chunked" in value:
            return buf.endswith(b"0\r\n\r\n")
    return True  # no body framing: a bodiless response


class Conn:
    __slots__ = ("sock", "state", "buf", "sent")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connecting"
        self.buf = b""
        self.sent = 0


def new_conn(sel, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    err = s.connect_ex((HOST, port))
    if err not in (0, errno.EINPROGRESS):
        s.close()
        return None
    c = Conn(s)
    sel.register(s, selectors.EVENT_WRITE, c)
    return c


def step(sel, c, ev, req):
    """Advances one connection; returns 'done', 'failed' or None."""
    try:
        if c.state == "connecting":
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return "failed"
            c.state = "sending"
        if c.state == "sending" and ev & selectors.EVENT_WRITE:
            c.sent += c.sock.send(req[c.sent:])
            if c.sent == len(req):
                c.state = "reading"
                sel.modify(c.sock, selectors.EVENT_READ, c)
            return None
        if c.state == "reading" and ev & selectors.EVENT_READ:
            data = c.sock.recv(65536)
            if not data:
                return "done" if response_complete(c.buf) else "failed"
            c.buf += data
            if response_complete(c.buf):
                return "done"
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return "failed"
    return None


def restart(sel, c):
    """Reuses a keep-alive connection for the next request."""
    c.state, c.buf, c.sent = "sending", b"", 0
    sel.modify(c.sock, selectors.EVENT_WRITE, c)


def drop(sel, c):
    try:
        sel.unregister(c.sock)
    except (KeyError, ValueError):
        pass
    c.sock.close()


def raise_nofile(n):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n + 100))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def open_idle(a, count, held):
    """Opens count more connections, one request each; appends the ones
    that got their response to held. Returns how many failed."""
    sel = selectors.DefaultSelector()
    req = request_bytes(a.path, False)
    done, failed, started, inflight = 0, 0, 0, 0
    deadline = time.monotonic() + a.timeout
    progress = time.monotonic()
    while done + failed < count and time.monotonic() < deadline:
        if time.monotonic() - progress > a.stall:
            break  # the server stopped answering (e.g. a full thread pool)
        # a bounded number of handshakes in flight keeps the listen backlog
        # from overflowing (an overflow costs a 1 s SYN retransmit)
        while started < count and inflight < a.window:
            c = new_conn(sel, a.port)
            started += 1
            if c is None:
                failed += 1
            else:
                inflight += 1
        for key, ev in sel.select(0.2):
            c = key.data
            r = step(sel, c, ev, req)
            if r == "done":
                sel.unregister(c.sock)
                held.append(c.sock)
                done += 1
                inflight -= 1
                progress = time.monotonic()
            elif r == "failed":
                drop(sel, c)
                failed += 1
                inflight -= 1
    for key in list(sel.get_map().values()):
        drop(sel, key.data)  # never answered: not idle connections
    sel.close()
    return count - done


def cmd_idle(a):
    """Opens --count connections, then obeys stdin: "open K" opens K more;
    each step prints "READY <held> <failed>". EOF closes everything."""
    raise_nofile(a.count * 2)
    held, failed = [], 0
    failed += open_idle(a, a.count, held)
    print(f"READY {len(held)} {failed}", flush=True)
    signal.alarm(int(a.hold))  # bounds the whole hold
    try:
        for line in sys.stdin:
            words = line.split()
            if len(words) == 2 and words[0] == "open":
                failed += open_idle(a, int(words[1]), held)
                print(f"READY {len(held)} {failed}", flush=True)
    except KeyboardInterrupt:
        pass
    for s in held:
        s.close()


def cmd_fixed(a):
    raise_nofile(a.conns)
    sel = selectors.DefaultSelector()
    req = request_bytes(a.path, a.close)
    ok = failed = started = 0
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    active = 0
    while ok + failed < a.count and time.monotonic() < deadline:
        while active < a.conns and started < a.count:
            c = new_conn(sel, a.port)
            started += 1
            if c is None:
                failed += 1
            else:
                active += 1
        for key, ev in sel.select(0.2):
            c = key.data
            r = step(sel, c, ev, req)
            if r is None:
                continue
            if r == "done":
                ok += 1
            else:
                failed += 1
            if r == "done" and not a.close and started < a.count:
                started += 1
                restart(sel, c)
            else:
                drop(sel, c)
                active -= 1
    for key in list(sel.get_map().values()):
        drop(sel, key.data)
    print(json.dumps({"ok": ok, "failed": failed + (a.count - ok - failed),
                      "seconds": round(time.monotonic() - t0, 3)}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("idle")
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--count", type=int, required=True)
    i.add_argument("--path", default="/echo/hello")
    i.add_argument("--window", type=int, default=256)
    i.add_argument("--timeout", type=float, default=60.0)
    i.add_argument("--hold", type=float, default=300.0)
    i.add_argument("--stall", type=float, default=5.0,
                   help="give up when no connection completes for this long")
    f = sub.add_parser("fixed")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--count", type=int, required=True)
    f.add_argument("--conns", type=int, default=50)
    f.add_argument("--close", action="store_true")
    f.add_argument("--path", default="/echo/hello")
    f.add_argument("--timeout", type=float, default=60.0)
    a = p.parse_args()
    {"idle": cmd_idle, "fixed": cmd_fixed}[a.cmd](a)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# run.sh - `make bench`: ringhttpd side by side with its threads engine,
# nginx, lighttpd and h2o on this machine. See BENCHMARKS.md.
#
#   bench/run.sh              full run: every server, 3 interleaved runs of 10 s
#   QUICK=1 bench/run.sh      one 3 s run per workload, 3 servers, < 2 minutes
#
# Environment (all optional):
#   QUICK=1                   the short run (results in bench/results/quick/)
#   BENCH_OUT=DIR             where results go (default bench/results, or
#                             bench/results/quick with QUICK=1)
#   BENCH_SERVERS=a,b         subset of uring-1w,uring-2w,threads,nginx-1w,nginx-2w,lighttpd,h2o,
#                             or uring-floor (opt-in: bench/uring_floor.c, small bodies only)
#   BENCH_WORKLOADS=a,b       subset of workloads (ids in bench/bench.py)
#   BENCH_RUNS=N BENCH_DURATION=S   override the run count and length
#   BENCH_SKIP_DEPS=1         do not install packages
#   PYTHON=/usr/bin/python3
#
# Installs what it needs (as root, from the Debian archive), builds a Release
# binary in build-bench/, runs bench/bench.py, and on any exit kills every
# server it started and removes its scratch directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
QUICK=${QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
build="$repo/build-bench"

log() { echo "[run.sh] $*" >&2; }

# ---- packages: the benchmark peers and tools, all from Debian
bench_packages=(wrk nginx-light lighttpd lighttpd-mod-deflate h2o gnuplot-nox strace)
if [ -z "${BENCH_SKIP_DEPS:-}" ]; then
    if [ -f "$repo/scripts/deps.sh" ]; then
        bash "$repo/scripts/deps.sh" bench
    fi
    missing=()
    for pkg in "${bench_packages[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        [ "$status" = installed ] || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            log "missing packages: ${missing[*]}; as root: apt-get install ${missing[*]}"
            exit 1
        fi
        log "installing ${missing[*]}"
        # Debian's nginx/lighttpd/h2o packages enable a system service on
        # port 80; the benchmark never uses it (its own instances run from a
        # scratch directory on 127.0.0.1:181xx) and an idle one costs no CPU.
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
fi
for tool in wrk taskset "$PYTHON"; do
    command -v "$tool" >/dev/null || { log "$tool not found"; exit 1; }
done

# ---- a Release build of the tree as it is
log "building Release binary in $build"
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target ringhttpd >/dev/null
# the opt-in uring-floor server (BENCH_SERVERS=...,uring-floor); not in a
# build without io_uring
cmake --build "$build" -j"$(nproc)" --target uring_floor >/dev/null 2>&1 || true

# ---- limits: 10,000 connections on each side, plus headroom (a container
# without CAP_SYS_RESOURCE cannot go past its hard limit)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 10100 ]; then
    log "open-file limit $(ulimit -n) is below the 10,100 the 10k workloads need"
fi

# ---- scratch directory and cleanup
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ringhttpd-bench.XXXXXX")
chmod 755 "$tmp"
bench_pid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
        # its clients (wrk, conns.py) first, then bench.py itself, which
        # stops the servers it started
        for child in $(pgrep -P "$bench_pid" 2>/dev/null || true); do
            kill -TERM "$child" 2>/dev/null || true
        done
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
    # every server runs in its own process group, recorded by bench.py
    if [ -f "$tmp/pgids" ]; then
        while read -r pg; do
            kill -KILL -- "-$pg" 2>/dev/null || true
        done <"$tmp/pgids"
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

args=(--bin "$build/ringhttpd" --tmp "$tmp")
[ -x "$build/uring_floor" ] && args+=(--floor-bin "$build/uring_floor")
if [ -n "$QUICK" ]; then
    args+=(--quick --out "${BENCH_OUT:-$here/results/quick}")
else
    args+=(--out "${BENCH_OUT:-$here/results}")
fi
[ -n "${BENCH_SERVERS:-}" ] && args+=(--servers "$BENCH_SERVERS")
[ -n "${BENCH_WORKLOADS:-}" ] && args+=(--workloads "$BENCH_WORKLOADS")
[ -n "${BENCH_RUNS:-}" ] && args+=(--runs "$BENCH_RUNS")
[ -n "${BENCH_DURATION:-}" ] && args+=(--duration "$BENCH_DURATION")

# in the background so the traps above run as soon as a signal arrives
"$PYTHON" "$here/bench.py" "${args[@]}" &
bench_pid=$!
wait "$bench_pid"

#!/usr/bin/env bash
# instr.sh - user-space instructions per request, per engine and workload,
# for one or more ringhttpd binaries: a figure that does not drift with the
# machine's load, for comparing two commits of a change that should cost
# nothing (a refactor). Kernel work is not counted; bench.py measures time.
#
#   bench/instr.sh OLD_BINARY NEW_BINARY ...
#
# Each server runs under valgrind --tool=callgrind; its counters are zeroed
# once it answers, wrk (bench/lua/count.lua) sends a fixed number of
# requests, and the counters are dumped. Prints "binary engine workload
# requests instructions/request". Needs valgrind and wrk; about 5 minutes
# per binary.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ringhttpd-instr.XXXXXX")
vg=
cleanup() {
    [ -n "$vg" ] && kill -9 "$vg" 2>/dev/null && wait "$vg" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
mkdir "$tmp/files"
head -c 4096 /dev/urandom >"$tmp/files/4k.bin"
head -c 1048576 /dev/urandom >"$tmp/files/1m.bin"
gz_text=$(printf 'ringhttpd-gzip-benchmark-%.0s' 1 2 3 4 5 6 7 8) # bench.py's GZIP_TEXT

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# measure BIN ENGINE NAME REQUESTS CONNS PATH DEPTH [HEADER]
measure() {
    local bin=$1 engine=$2 name=$3 n=$4 conns=$5 path=$6 depth=$7 header=${8:-}
    local port out got ir
    port=$(free_port)
    out="$tmp/callgrind.out"
    rm -f "$out"*
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --port "$port" \
        --engine "$engine" --directory "$tmp/files" >/dev/null 2>&1 &
    vg=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.2
    done
    callgrind_control -z "$vg" >/dev/null 2>&1
    local args=(-t1 -c"$conns" -d60s -s "$here/lua/count.lua")
    [ -n "$header" ] && args+=(-H "$header")
    report=$(wrk "${args[@]}" "http://127.0.0.1:$port$path" -- "$n" "$depth")
    got=$(awk '/requests in/ {print $1}' <<<"$report")
    callgrind_control -d "$vg" >/dev/null 2>&1
    sleep 0.5
    ir=$(grep -h '^summary' "$out".* | awk '{print $2}' | tail -n1)
    kill -9 "$vg" 2>/dev/null
    wait "$vg" 2>/dev/null || true
    vg=
    # Not a figure when the answers were errors: valgrind 3.19 has no
    # openat2, so the threads engine answers /files/ with 500 under it.
    if grep -q 'Non-2xx' <<<"$report"; then
        echo "$(basename "$bin") $engine $name $got error-responses"
    else
        echo "$(basename "$bin") $engine $name $got $((ir / got))"
    fi
}

echo "binary engine workload requests instructions/request"
for bin in "$@"; do
    for engine in uring threads; do
        measure "$bin" "$engine" small 5000 10 /echo/hello 1
        measure "$bin" "$engine" gzip 5000 10 "/echo/$gz_text" 1 "Accept-Encoding: gzip"
        measure "$bin" "$engine" file4k 5000 10 /files/4k.bin 1
        measure "$bin" "$engine" pipe16 32000 10 /echo/hello 16
        measure "$bin" "$engine" newconn 2000 10 /echo/hello 1 "Connection: close"
        measure "$bin" "$engine" file1m 200 4 /files/1m.bin 1
    done
done

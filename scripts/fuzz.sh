#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer targets (fuzz/) with clang and run each one.
#
#   scripts/fuzz.sh [TARGET...]         default: every target (parse chunked uri gzip_accept conn)
#
#   FUZZ_SECONDS=60      how long each target runs (libFuzzer -max_total_time)
#   FUZZ_BUILD_DIR=build-fuzz
#   FUZZ_ARGS="..."      extra libFuzzer flags, e.g. "-max_len=65536"
#   JOBS=2               build parallelism
#   FUZZ_SOURCE_DIR=.    the source tree to configure (default: this repository)
#
# Each target runs as one in-process libFuzzer run over a scratch corpus
# (build-fuzz/corpus/<target>/, kept between runs, so long runs accumulate)
# seeded from fuzz/corpus/<target>/, which is only read. The log of a run is
# build-fuzz/run/<target>/fuzz-0.log. Prints executions, coverage and new
# inputs per target. On a crash, leak or timeout the reproducer is in
# build-fuzz/artifacts/<target>/ (its name is printed) and the script exits 1
# after the remaining targets ran. Replay one with
#     build-fuzz/fuzz/fuzz_<target> build-fuzz/artifacts/<target>/crash-...
# and keep it as a regression test by copying it to
# fuzz/corpus/<target>/regress-<what>.
#
# Needs clang and its libFuzzer runtime; as root, missing Debian packages
# (clang, libclang-rt-dev) are installed.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
seconds=${FUZZ_SECONDS:-60}
build=$(realpath -m "${FUZZ_BUILD_DIR:-build-fuzz}")
source_dir=${FUZZ_SOURCE_DIR:-$repo}
jobs=${JOBS:-2}
all_targets=(parse chunked uri gzip_accept conn cond)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

case "$seconds" in
'' | *[!0-9]*)
    echo "fuzz.sh: FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2
    exit 2
    ;;
esac
for t in "${targets[@]}"; do
    if [ ! -d "fuzz/corpus/$t" ]; then
        echo "fuzz.sh: unknown target '$t' (expected one of: ${all_targets[*]})" >&2
        exit 2
    fi
done

# clang with a libFuzzer runtime: try it on a one-line target.
probe_libfuzzer() {
    local dir
    dir=$(mktemp -d)
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$dir/probe.c"
    clang -fsanitize=fuzzer "$dir/probe.c" -o "$dir/probe" >/dev/null 2>&1
    local rc=$?
    rm -rf "$dir"
    return $rc
}

if ! command -v clang >/dev/null 2>&1 || ! probe_libfuzzer; then
    packages=(clang libclang-rt-dev)
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "fuzz.sh: installing ${packages[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${packages[@]}" >/dev/null
    fi
    if ! command -v clang >/dev/null 2>&1 || ! probe_libfuzzer; then
        echo "fuzz.sh: clang with libFuzzer is needed (Debian: apt-get install ${packages[*]})" >&2
        exit 1
    fi
fi

CC=clang cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRINGHTTPD_FUZZ=ON >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]/#/fuzz_}" >/dev/null

failed=()
for t in "${targets[@]}"; do
    corpus="$build/corpus/$t"
    artifacts="$build/artifacts/$t"
    run="$build/run/$t"
    mkdir -p "$corpus" "$artifacts" "$run"
    rm -f "$run"/fuzz-*.log
    echo "== fuzz_$t: ${seconds}s"
    dict=()
    case "$t" in
    parse | chunked | conn) dict=(-dict="$repo/fuzz/http.dict") ;;
    esac
    rc=0
    log="$run/fuzz-0.log"
    # One in-process run, its output in $log; a crash, leak or timeout ends
    # it with a non-zero exit.
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    (cd "$run" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
        UBSAN_OPTIONS=print_stacktrace=1 \
        "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "${dict[@]}" ${FUZZ_ARGS:-} "$corpus" "$repo/fuzz/corpus/$t" >"$log" 2>&1) ||
        rc=$?
    if [ -f "$log" ]; then
        grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" | tail -n 2 || true
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$log" ||
            true
    fi
    # Only findings count: libFuzzer also writes slow-unit-* files for inputs
    # that merely took long.
    crash=$(grep -hoE "Test unit written to .*/(crash|leak|timeout|oom)-[0-9a-f]+" "$log" \
        2>/dev/null | sed 's/Test unit written to //' || true)
    if [ "$rc" -ne 0 ] || [ -n "$crash" ]; then
        echo "fuzz_$t FAILED (exit $rc)"
        grep -E "ERROR:|invariant failed|SUMMARY:|runtime error" "$log" 2>/dev/null | head -n 5 ||
            true
        [ -n "$crash" ] && echo "reproducer: $crash"
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: findings in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: no findings in ${targets[*]} (${seconds}s each)"

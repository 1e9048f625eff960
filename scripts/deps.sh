#!/usr/bin/env bash
# deps.sh - install the Debian packages ringhttpd needs, only those missing.
#
#   scripts/deps.sh          build and test: compiler, cmake, liburing, libdeflate, pytest, curl,
#                            strace, mandoc (the manual's lint), systemd (systemd-socket-activate,
#                            systemd-analyze verify of the units), nix-bin (flake.nix, offline),
#                            haproxy (the scale-out test), debhelper (the .deb)
#   scripts/deps.sh bench    also wrk, nginx-light, lighttpd, h2o, gnuplot, strace (benchmarks)
#   scripts/deps.sh format   also clang-format
#   scripts/deps.sh fuzz     also clang and libFuzzer (libclang-rt-14-dev)
#
# Silent when nothing is missing. As root it runs apt-get itself; otherwise it
# prints the command to run and exits 1.
set -euo pipefail

packages=(cmake pkg-config gcc make liburing-dev libdeflate-dev python3-pytest curl strace mandoc
    systemd nix-bin haproxy debhelper)
for group in "$@"; do
    case "$group" in
    bench) packages+=(wrk nginx-light lighttpd lighttpd-mod-deflate h2o gnuplot-nox strace) ;;
    format) packages+=(clang-format) ;;
    fuzz) packages+=(clang libclang-rt-14-dev) ;;
    *)
        echo "deps.sh: unknown group '$group' (expected bench, format or fuzz)" >&2
        exit 2
        ;;
    esac
done

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: not a Debian-like system; make sure these are installed: ${packages[*]}" >&2
    exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

install="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]}" >&2
    echo "deps.sh: install them as root with:" >&2
    echo "    apt-get update && $install" >&2
    exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

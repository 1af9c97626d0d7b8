#!/bin/sh
# Installs the Debian packages knit needs, or says exactly how to.
#   scripts/deps.sh build   what building and running a node needs
#   scripts/deps.sh test    that, plus what the tests need
# As root it runs apt-get; otherwise it prints the command and fails, so
# nothing is half-built on a machine that lacks a library.
set -eu

# libminiupnpc-dev + libnatpmp-dev: the daemon's port mapping (UPnP-IGD,
# NAT-PMP; PCP is knit's own).
build_pkgs="cmake ninja-build pkg-config gcc libc6-dev libsodium-dev libuv1-dev
 libmsgpack-dev libcbor-dev libcmocka-dev libminiupnpc-dev libnatpmp-dev"
# clang + compiler-rt: libFuzzer and the ASan+UBSan build; llvm: symbolised
# sanitizer reports; iproute2 + nftables: the natlab network namespaces;
# gnuplot-nox: knit-sim plot and its test; iptables + libnetfilter-queue-dev:
# the natlab delay line (the NFQUEUE iptables target feeds it packets, as
# there is no netem qdisc or nftables queue statement to rely on); python3:
# natlab tests read the daemons' JSON with it; miniupnpd-nftables: the
# gateway of the port-mapping lab test, the build for nftables (what Debian
# pairs with it). Only the daemon binary: unlike the "miniupnpd" package it
# has no debconf questions, no init script or systemd unit and no
# maintainer scripts, so installing it starts nothing on the host; the test
# runs it by hand inside a lab namespace. conntrack: the hole-punching lab
# test flushes a router's connection tracking table mid-transfer.
# python3-pip + openssl: MPyC for the knit mpyc lab test (tests/mpyc,
# tests/natlab/test_mpyc_lab.sh) and the certificates of its --ssl run.
test_pkgs="clang libclang-rt-14-dev llvm iproute2 nftables procps gnuplot-nox
 iptables libnetfilter-queue-dev python3 miniupnpd-nftables conntrack
 python3-pip openssl"
# MPyC is not packaged by Debian: it comes from PyPI, pinned.
mpyc_version=0.11

case "${1:-build}" in
build) want="$build_pkgs" ;;
test) want="$build_pkgs $test_pkgs" ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

# have_mpyc: the pinned MPyC is importable by python3.
have_mpyc() {
    python3 -c "import mpyc, sys; sys.exit(mpyc.__version__ != '$mpyc_version')" \
        >/dev/null 2>&1
}

# install_mpyc: for the test set, MPyC from PyPI into the system python3
# unless it is there already (quick then: one import). Debian 12 marks its
# python3 externally managed (PEP 668), hence --break-system-packages: one
# pure-Python package with no dependencies, at a pinned version.
install_mpyc() {
    [ "${1:-build}" = test ] || return 0
    have_mpyc && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: MPyC $mpyc_version is missing; install it with:" >&2
        echo "  sudo python3 -m pip install --break-system-packages mpyc==$mpyc_version" >&2
        exit 1
    fi
    echo "deps: installing mpyc==$mpyc_version with pip"
    python3 -m pip install -q --break-system-packages "mpyc==$mpyc_version"
    have_mpyc || { echo "deps: MPyC $mpyc_version still not importable by python3" >&2; exit 1; }
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian-like system; install the equivalents of:" >&2
    echo "  $want" >&2
    exit 1
fi

missing=""
for p in $want; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
if [ -z "$missing" ]; then
    install_mpyc "${1:-build}"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages:$missing" >&2
    echo "deps: install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
install_mpyc "${1:-build}"

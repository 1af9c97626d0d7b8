# natlab: hosts in Linux network namespaces, sourced by tests/natlab/test_*.sh.
#
# Every namespace and process a test makes is recorded and removed on exit,
# also when the test fails or is interrupted. Addresses come only from the
# documentation ranges the lab owns (203.0.113.0/24, 198.51.100.0/24) and
# 10.x inside the lab; no traffic leaves the namespaces the test created.
# A test that cannot build a lab (not root, no netns support) exits 77,
# which ctest counts as skipped, after saying why.

LAB_PREFIX="kn$$"
LAB_NAMESPACES=""
LAB_PIDS=""
LAB_TMP=$(mktemp -d /tmp/knit-natlab.XXXXXX)

lab_skip() {
    echo "SKIP: $*"
    exit 77
}

lab_fail() {
    echo "FAIL: $*"
    exit 1
}

lab_require_root() {
    [ "$(id -u)" -eq 0 ] || lab_skip "natlab needs root to create network namespaces"
    command -v ip >/dev/null || lab_skip "iproute2 (ip) is not installed"
    ip netns add "${LAB_PREFIX}probe" 2>/dev/null ||
        lab_skip "cannot create network namespaces here"
    ip netns del "${LAB_PREFIX}probe"
}

lab_teardown() {
    for pid in $LAB_PIDS; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $LAB_PIDS; do
        # Bounded: a daemon that ignores SIGTERM for 3 s is killed.
        for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    for ns in $LAB_NAMESPACES; do
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$LAB_TMP"
}
trap lab_teardown EXIT
trap 'exit 1' INT TERM

# lab_host NAME: a namespace with loopback up; prints nothing.
lab_host() {
    ip netns add "$LAB_PREFIX$1"
    LAB_NAMESPACES="$LAB_NAMESPACES $LAB_PREFIX$1"
    ip -n "$LAB_PREFIX$1" link set lo up
}

# lab_link A ADDR_A B ADDR_B: a veth pair between hosts A and B, with
# addresses in CIDR form (e.g. 203.0.113.1/24).
lab_link() {
    ip link add "$LAB_PREFIX$1x" netns "$LAB_PREFIX$1" type veth \
        peer name "$LAB_PREFIX$3x" netns "$LAB_PREFIX$3"
    ip -n "$LAB_PREFIX$1" addr add "$2" dev "$LAB_PREFIX$1x"
    ip -n "$LAB_PREFIX$3" addr add "$4" dev "$LAB_PREFIX$3x"
    ip -n "$LAB_PREFIX$1" link set "$LAB_PREFIX$1x" up
    ip -n "$LAB_PREFIX$3" link set "$LAB_PREFIX$3x" up
}

# lab_exec HOST CMD...: run a command in a host.
lab_exec() {
    host=$1
    shift
    ip netns exec "$LAB_PREFIX$host" "$@"
}

# lab_spawn HOST LOG CMD...: start a background process in a host, output to
# LOG; its pid is in $LAB_LAST_PID and is killed at teardown.
lab_spawn() {
    host=$1
    log=$2
    shift 2
    ip netns exec "$LAB_PREFIX$host" "$@" >"$log" 2>&1 &
    LAB_LAST_PID=$!
    LAB_PIDS="$LAB_PIDS $LAB_LAST_PID"
}

# lab_wait_for FILE PATTERN SECONDS: wait until FILE has a line matching
# PATTERN (grep -E), polling every 0.1 s; fails the test on timeout.
lab_wait_for() {
    tries=$(($3 * 10))
    while [ "$tries" -gt 0 ]; do
        grep -Eq "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    echo "--- $1:"
    cat "$1"
    lab_fail "timed out after $3 s waiting for /$2/ in $1"
}

# lab_stop PID SECONDS: SIGTERM a process and wait for it; its exit status
# goes to $LAB_STATUS (not printed: a $(...) subshell could not wait for it).
# Fails the test if it has not exited in time.
lab_stop() {
    kill -TERM "$1"
    tries=$(($2 * 10))
    while kill -0 "$1" 2>/dev/null; do
        [ "$tries" -gt 0 ] || lab_fail "process $1 ignored SIGTERM for $2 s"
        sleep 0.1
        tries=$((tries - 1))
    done
    LAB_STATUS=0
    wait "$1" || LAB_STATUS=$?
}

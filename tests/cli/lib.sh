# Shared by the CLI test scripts that run daemons on loopback. Sourced
# with the script's short name after $knit is set:
#     . "$(dirname "$0")/lib.sh" NAME
# It gives:
#   $tmp          a scratch directory, /tmp/knit-NAME.XXXXXX
#   pids          every process started (add yours); on exit, also on a
#                 failure, each gets SIGTERM, 5 s, then SIGKILL, and $tmp
#                 is removed. A daemon log in $tmp that holds a sanitizer
#                 report fails the test.
#   check NAME STATUS   counts a pass (STATUS 0) or a failure, in
#                 $passes and $failures; VERBOSE=1 prints every check
#   start_knit_daemon NAME ARGS...   `knit daemon --data-dir $tmp/NAME
#                 ARGS`, its output appended to $tmp/NAME.log; returns once
#                 the log says "running" one time more than before (so a
#                 restart waits for its own line), leaving its pid in
#                 $daemon_pid; exits the test after 10 s
#   stop_pid PID  SIGTERM, up to 5 s, then SIGKILL
#   run STATUS CMD...   runs CMD (for at most $run_timeout seconds when
#                 set), its output in $out and $err (and $tmp/out,
#                 $tmp/err); true when it exited with STATUS
#   one_line_stderr    true when the last run wrote one line to stderr
# Only loopback addresses are ever given to the daemons: the scripts pass
# --listen /ip4/127.0.0.1/...

tmp=$(mktemp -d "/tmp/knit-$1.XXXXXX")
pids=()
passes=0
failures=0
daemon_pid=
lib_shell=$BASHPID

stop_pid() {
    local waited=0
    kill -TERM "$1" 2>/dev/null
    while [ "$waited" -lt 50 ]; do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -KILL "$1" 2>/dev/null
}

cleanup() {
    # Only the test's own shell cleans up: a subshell that inherited the
    # trap (a background job, a command substitution) would remove $tmp
    # under it, and with it the logs checked below.
    [ "$BASHPID" = "$lib_shell" ] || return 0
    trap - EXIT
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do stop_pid "$p"; done
    # A sanitizer build's daemons report leaks and errors as they stop.
    if grep -l "ERROR: \(Address\|Leak\)Sanitizer\|runtime error:" \
            "$tmp"/*.log 2>/dev/null; then
        echo "FAIL: a daemon reported a sanitizer error:"
        cat "$tmp"/*.log
        rm -rf "$tmp"
        exit 1
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

check() {
    [ -n "${VERBOSE:-}" ] && echo "  [$2] $1"
    if [ "$2" -eq 0 ]; then
        passes=$((passes + 1))
    else
        failures=$((failures + 1))
        echo "FAIL: $1"
    fi
}

start_knit_daemon() {
    local name=$1 before now
    shift
    before=$(grep -c '^running' "$tmp/$name.log" 2>/dev/null)
    "$knit" daemon --data-dir "$tmp/$name" "$@" >>"$tmp/$name.log" 2>&1 &
    daemon_pid=$!
    pids+=("$daemon_pid")
    for _ in $(seq 100); do
        now=$(grep -c '^running' "$tmp/$name.log" 2>/dev/null)
        [ "${now:-0}" -gt "${before:-0}" ] && return 0
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "daemon $name did not start"
    cat "$tmp/$name.log"
    exit 1
}

run() {
    want=$1
    shift
    if [ -n "${run_timeout:-}" ]; then
        timeout "$run_timeout" "$@" >"$tmp/out" 2>"$tmp/err"
    else
        "$@" >"$tmp/out" 2>"$tmp/err"
    fi
    got=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
    [ "$got" -eq "$want" ]
}

one_line_stderr() { [ "$(wc -l <"$tmp/err")" -eq 1 ]; }

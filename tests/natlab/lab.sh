# natlab: hosts in Linux network namespaces, sourced by tests/natlab/test_*.sh.
#
# Every namespace and process a test makes is recorded and removed on exit,
# also when the test fails or is interrupted. Addresses come only from the
# documentation ranges the lab owns (203.0.113.0/24, 198.51.100.0/24) and
# 10.x inside the lab; no traffic leaves the namespaces the test created.
# A test that cannot build a lab (not root, no netns support) exits 77,
# which ctest counts as skipped, after saying why. docs/natlab.md has more.
#
# ctest runs each test as `bash test_X.sh KNIT DELAYLINE UDP_PROBE
# PORTMAP_PROBE`; sourcing this file keeps the first three in $LAB_KNIT,
# $LAB_DELAYLINE and $LAB_UDP_PROBE (the port-mapping test reads the fourth
# itself).
#
# Plain hosts:
#   lab_require_root                  skip unless root with netns support
#   lab_host NAME                     a namespace with loopback up
#   lab_link A ADDR_A B ADDR_B        a veth pair between two hosts
#   lab_exec HOST CMD...              run a command in a host
#   lab_spawn HOST LOG CMD...         background process, killed at teardown
#   lab_wait_for FILE PATTERN SECS    wait for a line in a log
#   lab_stop PID SECS                 SIGTERM a process and wait for it
#
# NAT topologies (call lab_require_nat first: it skips the test when the
# kernel or the tools cannot build them):
#   lab_internet                      namespace "inet" holding bridge br0: the
#                                     Internet. Both public /24s are on-link:
#                                     each public leg has its address in its
#                                     /24 and an on-link route to the other,
#                                     so hosts of 203.0.113.0/24 and
#                                     198.51.100.0/24 reach each other in one
#                                     hop, with no router in between. Nothing
#                                     else is routed (10.x is unreachable from
#                                     outside, as on the real Internet). The
#                                     two functions below call it if needed.
#   lab_public HOST IP                a host whose eth0 is on the Internet
#   lab_router ROUTER PUBLIC_IP LAN_PREFIX MODE
#                                     a NAT router: wan0 on the Internet at
#                                     PUBLIC_IP, bridge lan0 at LAN_PREFIX.1/24
#                                     (LAN_PREFIX like 10.1.1), ip_forward on.
#                                     MODE eim: nftables masquerade, which
#                                     keeps a socket's port for every
#                                     destination while no other LAN flow to
#                                     that destination holds it
#                                     (endpoint-independent mapping); MODE
#                                     edm: masquerade fully-random, a new
#                                     random port per destination
#                                     (endpoint-dependent mapping). Both
#                                     filter statefully: the forward chain
#                                     passes established/related flows and
#                                     new ones only from the LAN, which is
#                                     address-and-port-dependent filtering.
#                                     Hairpinning is not provided.
#   lab_nat_host HOST ROUTER N        a host at LAN_PREFIX.N (N in 2..254) on
#                                     eth0 behind ROUTER, default route via .1
#   lab_delay HOST DEV MS [JITTER]    hold every packet LEAVING HOST through
#                                     DEV for MS ms (+-JITTER ms, never
#                                     reordered): an iptables mangle
#                                     POSTROUTING rule sends it to NFQUEUE,
#                                     a delayline process releases it. On
#                                     every Internet leg (each public eth0 and
#                                     router wan0) that is MS ms one way on
#                                     every path across the Internet.
#   lab_loss HOST DEV PERCENT         drop PERCENT % of the packets leaving
#                                     HOST through DEV (nftables numgen)
#   lab_probe HOST ARGS...            run udp_probe (udp_probe.c) in a host
#
# Device names: a public host's leg is eth0; a router has wan0 and lan0; a
# NAT host has eth0. Teardown kills every process (delay lines and probes
# included) and deletes every namespace, which takes its links, routes and
# nftables/iptables rules with it.

LAB_PREFIX="kn$$"
LAB_NAMESPACES=""
LAB_PIDS=""
LAB_TMP=$(mktemp -d /tmp/knit-natlab.XXXXXX)
LAB_KNIT=${1:-}
LAB_DELAYLINE=${2:-}
LAB_UDP_PROBE=${3:-}
LAB_INET_UP=0      # lab_internet has run
LAB_INET_PORTS=0   # Internet bridge ports made so far: port1, port2, ...
LAB_QUEUES=0       # NFQUEUE numbers handed out so far
declare -gA LAB_LAN # router name -> its LAN prefix

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

# lab_require_nat: skips the test unless NAT labs can be built here: nft and
# iptables installed, the delayline and udp_probe tools given, and a probe
# namespace that takes a bridge, an nftables masquerade and an NFQUEUE rule.
lab_require_nat() {
    local ns why=""
    command -v nft >/dev/null || lab_skip "nftables (nft) is not installed"
    command -v iptables >/dev/null ||
        lab_skip "iptables is not installed (scripts/deps.sh test installs it)"
    [ -x "$LAB_DELAYLINE" ] ||
        lab_skip "no delay line tool (argument 2: '${LAB_DELAYLINE}')"
    [ -x "$LAB_UDP_PROBE" ] || lab_skip "no udp_probe tool given (argument 3)"
    ns="${LAB_PREFIX}natprobe"
    ip netns add "$ns" 2>/dev/null || lab_skip "cannot create network namespaces here"
    ip -n "$ns" link add br0 type bridge 2>/dev/null || why="no bridge support"
    [ -n "$why" ] ||
        echo 'table ip t { chain p { type nat hook postrouting priority srcnat; masquerade fully-random; }; }' |
        ip netns exec "$ns" nft -f - 2>/dev/null || why="nftables cannot masquerade here"
    [ -n "$why" ] ||
        ip netns exec "$ns" iptables -w -t mangle -A POSTROUTING -o lo \
            -j NFQUEUE --queue-num 1 2>/dev/null || why="iptables cannot use NFQUEUE here"
    ip netns del "$ns"
    [ -z "$why" ] || lab_skip "$why"
}

# lab_internet: the Internet namespace and its bridge, once per test.
lab_internet() {
    [ "$LAB_INET_UP" = 1 ] && return 0
    lab_host inet
    ip -n "${LAB_PREFIX}inet" link add br0 type bridge
    ip -n "${LAB_PREFIX}inet" link set br0 up
    LAB_INET_UP=1
}

# lab_attach HOST DEV IP (internal): a veth from HOST, named DEV there, to a
# new port of the Internet bridge; IP/24 on DEV and an on-link route to the
# other public /24. The link is made from inside HOST, so DEV need only be
# unique in HOST.
lab_attach() {
    local host=$1 dev=$2 ip=$3 other port
    case "$ip" in
    203.0.113.*) other=198.51.100.0/24 ;;
    198.51.100.*) other=203.0.113.0/24 ;;
    *) lab_fail "public address '$ip' is not in 203.0.113.0/24 or 198.51.100.0/24" ;;
    esac
    lab_internet
    LAB_INET_PORTS=$((LAB_INET_PORTS + 1))
    port=port$LAB_INET_PORTS
    ip -n "$LAB_PREFIX$host" link add "$dev" type veth peer name "$port" \
        netns "${LAB_PREFIX}inet"
    ip -n "${LAB_PREFIX}inet" link set "$port" master br0 up
    ip -n "$LAB_PREFIX$host" addr add "$ip/24" dev "$dev"
    ip -n "$LAB_PREFIX$host" link set "$dev" up
    ip -n "$LAB_PREFIX$host" route add "$other" dev "$dev"
}

# lab_public HOST IP: a public host, eth0 at IP on the Internet.
lab_public() {
    lab_host "$1"
    lab_attach "$1" eth0 "$2"
}

# lab_router ROUTER PUBLIC_IP LAN_PREFIX MODE: a NAT router (see the top).
lab_router() {
    local router=$1 public=$2 prefix=$3 mode=$4 random ns
    [ $# -eq 4 ] || lab_fail "lab_router takes 4 arguments (no hairpin mode)"
    case "$mode" in
    eim) random="" ;;
    edm) random="fully-random" ;;
    *) lab_fail "lab_router: mode must be eim or edm, not '$mode'" ;;
    esac
    echo "$prefix" | grep -Eq '^10\.[0-9]{1,3}\.[0-9]{1,3}$' ||
        lab_fail "lab_router: LAN prefix '$prefix' is not 10.x.y"
    lab_host "$router"
    lab_attach "$router" wan0 "$public"
    ns="$LAB_PREFIX$router"
    ip -n "$ns" link add lan0 type bridge
    ip -n "$ns" addr add "$prefix.1/24" dev lan0
    ip -n "$ns" link set lan0 up
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$ns" nft -f - <<NFT
table ip knitlab_nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan0" masquerade $random
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "lan0" oifname "wan0" accept
    }
}
NFT
    LAB_LAN[$router]=$prefix
}

# lab_home_router ROUTER: makes a lab_router behave as a home router in two
# ways the hole-punching tests need.
# - An input firewall: new flows from wan0 to the router itself are
#   dropped, as on every home router. Without it a peer's probe that reaches
#   the router before its host has sent to that peer becomes a confirmed
#   conntrack entry of a local flow; masquerade then maps the host's own
#   packet to that peer to another port (the entry holds the reply tuple),
#   so a punch is remapped and never arrives (test_punch_lab.sh's header
#   has the whole story). With the drop such an entry is never confirmed.
# - LAN to LAN: a home router's LAN is one switch. The lab router's LAN is
#   a bridge, and where br_netfilter is loaded (net.bridge.bridge-nf-call-
#   iptables=1) bridged frames pass the forward chain, whose policy drops
#   what is not lan0 -> wan0; they are accepted.
lab_home_router() {
    local router=$1
    [ -n "${LAB_LAN[$router]:-}" ] || lab_fail "lab_home_router: '$router' is not a lab_router"
    lab_exec "$router" nft add rule ip knitlab_nat forward iifname lan0 oifname lan0 accept
    lab_exec "$router" nft -f - <<'NFT'
table ip knitlab_fw {
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "wan0" ct state established,related accept
        iifname "wan0" drop
    }
}
NFT
}

# lab_nat_host HOST ROUTER N: a host at LAN_PREFIX.N behind ROUTER.
lab_nat_host() {
    local host=$1 router=$2 n=$3 prefix
    prefix=${LAB_LAN[$router]:-}
    [ -n "$prefix" ] || lab_fail "lab_nat_host: '$router' is not a lab_router"
    echo "$n" | grep -Eq '^[0-9]{1,3}$' && [ "$n" -ge 2 ] && [ "$n" -le 254 ] ||
        lab_fail "lab_nat_host: host number '$n' is not in 2..254"
    lab_host "$host"
    ip -n "$LAB_PREFIX$host" link add eth0 type veth peer name "h$n" \
        netns "$LAB_PREFIX$router"
    ip -n "$LAB_PREFIX$router" link set "h$n" master lan0 up
    ip -n "$LAB_PREFIX$host" addr add "$prefix.$n/24" dev eth0
    ip -n "$LAB_PREFIX$host" link set eth0 up
    ip -n "$LAB_PREFIX$host" route add default via "$prefix.1"
}

# lab_delay HOST DEV MS [JITTER]: delay the packets leaving HOST through DEV.
# The kernel has no netem and no nftables queue statement, hence iptables
# NFQUEUE and a user-space delay line (tests/natlab/delayline.c). The line
# binds its queue before the rule exists: a packet queued to a queue with no
# reader would be dropped.
lab_delay() {
    local host=$1 dev=$2 ms=$3 jitter=${4:-0} log
    LAB_QUEUES=$((LAB_QUEUES + 1))
    log="$LAB_TMP/delayline-$host-$dev.log"
    lab_spawn "$host" "$log" "$LAB_DELAYLINE" --queue "$LAB_QUEUES" \
        --delay-ms "$ms" --jitter-ms "$jitter"
    lab_wait_for "$log" "^delayline: queue $LAB_QUEUES delay" 5
    ip netns exec "$LAB_PREFIX$host" iptables -w -t mangle -A POSTROUTING \
        -o "$dev" -j NFQUEUE --queue-num "$LAB_QUEUES"
}

# lab_loss HOST DEV PERCENT: drop PERCENT % of the packets leaving HOST via
# DEV, each packet independently (numgen random).
lab_loss() {
    local host=$1 dev=$2 percent=$3
    echo "$percent" | grep -Eq '^[0-9]{1,3}$' && [ "$percent" -le 100 ] ||
        lab_fail "lab_loss: '$percent' is not a percentage"
    echo "$dev" | grep -Eq '^[a-z][a-z0-9]*$' || lab_fail "lab_loss: bad device '$dev'"
    ip netns exec "$LAB_PREFIX$host" nft -f - <<NFT
table ip knitlab_loss {
    chain out_$dev {
        type filter hook postrouting priority filter; policy accept;
        oifname "$dev" numgen random mod 100 < $percent drop
    }
}
NFT
}

# lab_probe HOST ARGS...: udp_probe (tests/natlab/udp_probe.c) in a host.
lab_probe() {
    local host=$1
    shift
    ip netns exec "$LAB_PREFIX$host" "$LAB_UDP_PROBE" "$@"
}

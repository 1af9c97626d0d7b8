#!/usr/bin/env bash
# The DHT options and commands of the knit command line, usage errors only
# (no daemon runs): --bootstrap, --bootstrap-file (errors name file:line),
# --dht-mode, --relay-allow, --min-observers, knit find / peers / dht table
# arguments, and ping and bench
# by a bare peer ID. Each bad use exits 2 with one line on stderr; a good
# use that needs a daemon gets as far as saying none is running (exit 1).
set -u
knit=$1
case $knit in /*) ;; *) knit=$PWD/$knit ;; esac   # the test changes directory
. "$(dirname "$0")/lib.sh" dht-args
# run EXPECTED_STATUS CMD...: runs, keeps stdout/stderr in $out/$err.
# A use that parsed when it should not would start a daemon: bounded.
run_timeout=10
# usage_error NAME PATTERN CMD...: exit 2, one line on stderr matching PATTERN.
usage_error() {
    name=$1 pattern=$2
    shift 2
    run 2 "$@"; check "$name: exits 2 ($err)" $?
    one_line_stderr; check "$name: one line on stderr" $?
    [[ $err == $pattern ]]; check "$name: says '$pattern' ($err)" $?
    [ -z "$out" ]; check "$name: nothing on stdout" $?
}

id=12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq
id2=12D3KooWAxzCBFVtEyKLnRm43gHxigCoe2d4UmkRTXhBNSv5bcCx
good=/ip4/127.0.0.1/udp/4001/p2p/$id
good6=/ip6/::1/udp/4002/p2p/$id2
nodir=$tmp/no-daemon

# --help texts mention the new things.
run 0 "$knit" --help
[[ $out == *"find"* && $out == *"peers"* && $out == *"dht"* ]]; check "top --help lists find, peers, dht" $?
run 0 "$knit" daemon --help
[[ $out == *"--bootstrap MULTIADDR"* && $out == *"--bootstrap-file FILE"* && $out == *"--dht-mode"* ]]
check "daemon --help documents the DHT options" $?
for cmd in find peers "dht table" dht; do
    run 0 "$knit" $cmd --help; check "knit $cmd --help exits 0" $?
    [[ $out == usage:* ]]; check "knit $cmd --help prints usage" $?
done
run 0 "$knit" ping --help; [[ $out == *"ID alone"* ]]; check "ping --help tells of bare IDs" $?
run 0 "$knit" bench --help; [[ $out == *"ID alone"* ]]; check "bench --help tells of bare IDs" $?

# --bootstrap: only /ipX/<ip>/udp/<port>/p2p/<id>.
usage_error "bootstrap without /p2p" "*invalid --bootstrap multiaddr '/ip4/127.0.0.1/udp/4001'*/p2p/<peer-id>*" \
    "$knit" daemon --data-dir "$nodir" --bootstrap /ip4/127.0.0.1/udp/4001
usage_error "bootstrap bare /p2p" "*invalid --bootstrap multiaddr*" \
    "$knit" daemon --data-dir "$nodir" --bootstrap "/p2p/$id"
usage_error "bootstrap circuit" "*invalid --bootstrap multiaddr*" \
    "$knit" daemon --data-dir "$nodir" --bootstrap "$good/p2p-circuit/p2p/$id2"
usage_error "bootstrap bad peer ID" "*invalid --bootstrap multiaddr*base58*" \
    "$knit" daemon --data-dir "$nodir" --bootstrap /ip4/127.0.0.1/udp/4001/p2p/12D3KooW0OIl
usage_error "bootstrap 0.0.0.0" "*invalid --bootstrap multiaddr*IP address*" \
    "$knit" daemon --data-dir "$nodir" --bootstrap "/ip4/0.0.0.0/udp/4001/p2p/$id"
usage_error "bootstrap port 0" "*invalid --bootstrap multiaddr*port*" \
    "$knit" daemon --data-dir "$nodir" --bootstrap "/ip4/127.0.0.1/udp/0/p2p/$id"
usage_error "bootstrap bad port" "*invalid --bootstrap multiaddr*port*" \
    "$knit" daemon --data-dir "$nodir" --bootstrap "/ip4/127.0.0.1/udp/65536/p2p/$id"
usage_error "bootstrap without argument" "*--bootstrap needs an argument*" \
    "$knit" daemon --bootstrap
# Errors in a later option still stop the daemon before it starts.
usage_error "good bootstrap, then a bad one" "*invalid --bootstrap multiaddr 'nonsense'*" \
    "$knit" daemon --data-dir "$nodir" --bootstrap "$good" --bootstrap "$good6" --bootstrap nonsense

# --bootstrap-file: errors name file:line.
cd "$tmp" || exit 1
printf '# lab\n\n  %s  \r\n/ip4/127.0.0.1/udp/4003\n%s\n' "$good" "$good6" >bootstrap.txt
usage_error "file with a bad line" "knit daemon: bootstrap.txt:4: invalid multiaddr '/ip4/127.0.0.1/udp/4003': *" \
    "$knit" daemon --data-dir "$nodir" --bootstrap-file bootstrap.txt
printf '%s\n%s # home\n' "$good" "$good6" >inline.txt
usage_error "file with an inline comment" "knit daemon: inline.txt:2: invalid multiaddr '$good6 # home': *" \
    "$knit" daemon --data-dir "$nodir" --bootstrap-file inline.txt
printf '%s\n# a\0b\n' "$good" >nul.txt
usage_error "file with a NUL byte" "knit daemon: nul.txt:2: *NUL*" \
    "$knit" daemon --data-dir "$nodir" --bootstrap-file nul.txt
{ printf '%s\n' "$good"; printf '#%.0s' $(seq 300); printf '\n'; } >long.txt
usage_error "file with a long line" "knit daemon: long.txt:2: line longer than 255 bytes" \
    "$knit" daemon --data-dir "$nodir" --bootstrap-file long.txt
usage_error "missing file" "knit daemon: cannot read bootstrap file $tmp/none.txt: No such file or directory" \
    "$knit" daemon --data-dir "$nodir" --bootstrap-file "$tmp/none.txt"
usage_error "a directory" "knit daemon: cannot read bootstrap file $tmp: *" \
    "$knit" daemon --data-dir "$nodir" --bootstrap-file "$tmp"
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' '\n' >huge.txt
usage_error "file over 1 MiB" "knit daemon: bootstrap file huge.txt is larger than 1 MiB" \
    "$knit" daemon --data-dir "$nodir" --bootstrap-file huge.txt
# 65 distinct peers: one too many (peer IDs of keys 0..64 from keygen).
for i in $(seq 65); do
    "$knit" keygen --output "$tmp/k$i.key" 2>/dev/null | sed "s|^|/ip4/192.0.2.1/udp/$((4000 + i))/p2p/|"
done >many.txt
usage_error "file with 65 peers" "knit daemon: many.txt:65: more than 64 bootstrap peers" \
    "$knit" daemon --data-dir "$nodir" --bootstrap-file many.txt
# ... but the same peers twice are 64 + duplicates, fine up to parsing.
head -n 64 many.txt >sixtyfour.txt
head -n 64 many.txt >>sixtyfour.txt
usage_error "64 peers, each twice, then a bad option" "*--dht-mode takes auto, server or client, not 'x'*" \
    "$knit" daemon --data-dir "$nodir" --bootstrap-file sixtyfour.txt --dht-mode x
usage_error "file + --bootstrap past 64" "*more than 64 bootstrap peers*" \
    "$knit" daemon --data-dir "$nodir" --bootstrap-file sixtyfour.txt --bootstrap "$good"
usage_error "bootstrap-file without argument" "*--bootstrap-file needs an argument*" \
    "$knit" daemon --bootstrap-file
cd - >/dev/null || exit 1

# --dht-mode.
usage_error "bad --dht-mode" "knit daemon: --dht-mode takes auto, server or client, not 'public'" \
    "$knit" daemon --data-dir "$nodir" --dht-mode public
usage_error "empty --dht-mode" "*--dht-mode takes auto, server or client*" \
    "$knit" daemon --data-dir "$nodir" --dht-mode ""

# knit find.
usage_error "find without argument" "knit find: missing the peer ID*" "$knit" find --data-dir "$nodir"
usage_error "find bad peer ID" "knit find: invalid peer ID '12D3KooWnope': *" "$knit" find 12D3KooWnope
usage_error "find bad /p2p" "knit find: invalid peer ID '/p2p/xyz0': *" "$knit" find /p2p/xyz0
usage_error "find a full multiaddr" "knit find: give the peer as its ID*" "$knit" find "$good"
usage_error "find two peers" "knit find: unexpected argument '$id2'*" "$knit" find "$id" "$id2"
usage_error "find bad option" "knit find: unknown option --bogus*" "$knit" find --bogus "$id"
usage_error "find --data-dir without argument" "*--data-dir needs an argument*" "$knit" find "$id" --data-dir
# A good ID gets as far as the daemon, which is not there.
for target in "$id" "/p2p/$id"; do
    run 1 "$knit" find --data-dir "$nodir" "$target"; check "find $target without daemon exits 1" $?
    [[ $err == "knit find: no daemon is running"* ]] && one_line_stderr; check "find without daemon says so ($err)" $?
done

# knit peers and knit dht table.
usage_error "peers with an argument" "knit peers: unexpected argument 'x'*" "$knit" peers x
usage_error "peers bad option" "knit peers: unknown option --bogus*" "$knit" peers --bogus
usage_error "dht without subcommand" "knit dht: missing the subcommand*" "$knit" dht
usage_error "dht unknown subcommand" "knit dht: unknown subcommand 'tabel'*" "$knit" dht tabel
usage_error "dht table with an argument" "knit dht table: unexpected argument 'x'*" "$knit" dht table x
usage_error "dht table bad option" "knit dht table: unknown option --bogus (try 'knit dht table --help')" "$knit" dht table --bogus
run 1 "$knit" peers --data-dir "$nodir" --json; check "peers without daemon exits 1" $?
[[ $err == "knit peers: no daemon is running"* ]]; check "peers without daemon says so ($err)" $?
run 1 "$knit" dht table --data-dir "$nodir"; check "dht table without daemon exits 1" $?
[[ $err == "knit dht table: no daemon is running"* ]]; check "dht table without daemon says so ($err)" $?

# knit ping and bench by peer ID.
usage_error "ping bad bare ID" "knit ping: invalid peer ID '12D3KooWnope': *" "$knit" ping 12D3KooWnope
usage_error "ping bad /p2p" "knit ping: invalid multiaddr '/p2p/12D3KooWnope': *" "$knit" ping /p2p/12D3KooWnope
usage_error "bench bad bare ID" "knit bench: invalid peer ID 'nope': *" "$knit" bench nope
usage_error "ping endpoint without /p2p" "knit ping: give the peer as <peer-id>, /p2p/<peer-id> or /ip4/*" \
    "$knit" ping /ip4/127.0.0.1/udp/4001
usage_error "ping circuit" "knit ping: give the peer as*" "$knit" ping "/p2p/$id2/p2p-circuit/p2p/$id"
usage_error "ping without peer" "knit ping: missing the peer*" "$knit" ping
for target in "$id" "/p2p/$id" "$good"; do
    run 1 "$knit" ping --data-dir "$nodir" -c 1 "$target"; check "ping $target without daemon exits 1" $?
    [[ $err == "knit ping: no daemon is running"* ]]; check "ping $target gets to the daemon ($err)" $?
done
run 1 "$knit" bench --data-dir "$nodir" "$id"; check "bench by ID without daemon exits 1" $?
[[ $err == "knit bench: no daemon is running"* ]]; check "bench by ID gets to the daemon ($err)" $?

# Traversal options of the daemon: --relay-allow, --min-observers.
run 0 "$knit" daemon --help
[[ $out == *"--relay-allow PEER-ID"* && $out == *"--min-observers N"* ]]
check "daemon --help documents --relay-allow and --min-observers" $?
usage_error "relay-allow bad ID" "knit daemon: invalid --relay-allow peer ID 'nope': *" \
    "$knit" daemon --data-dir "$nodir" --relay-allow nope
usage_error "relay-allow multiaddr" "knit daemon: invalid --relay-allow peer ID '/p2p/$id': *" \
    "$knit" daemon --data-dir "$nodir" --relay-allow "/p2p/$id"
for bad in 0 17 abc -1 2x ""; do
    usage_error "min-observers '$bad'" "knit daemon: --min-observers takes 1 to 16, not '$bad'" \
        "$knit" daemon --data-dir "$nodir" --min-observers "$bad"
done

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]

#!/usr/bin/env bash
# knit-sim, end to end: help and version, usage and scenario errors (one
# line naming the file and line, exit 2), a small run writing its metrics,
# the same run again giving byte-identical files, and `knit-sim plot`
# drawing PNGs with gnuplot. Everything is virtual: nothing is sent.
set -u
knit=$1
sim="$(dirname "$knit")/knit-sim"
. "$(dirname "$0")/lib.sh" sim-cli

[ -x "$sim" ] || { echo "FAIL: no knit-sim next to $knit"; exit 1; }

run 0 "$sim" --help; check "--help exits 0" $?
[[ $out == usage:\ knit-sim\ run* ]]; check "--help prints usage" $?
run 0 "$sim" --version; check "--version exits 0" $?
[[ $out =~ ^knit-sim\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; check "--version" $?
run 2 "$sim"; check "no command: exit 2" $?
one_line_stderr; check "no command: one line" $?
run 2 "$sim" fly; check "unknown command: exit 2" $?
run 2 "$sim" run; check "run without a scenario: exit 2" $?
run 2 "$sim" run x.scn --seed -1; check "negative seed: exit 2" $?
run 2 "$sim" run x.scn --nodes 0; check "zero nodes: exit 2" $?
run 2 "$sim" run "$tmp/missing.scn"; check "missing file: exit 2" $?
[[ $err == *missing.scn* ]]; check "missing file: named" $?

printf 'nodes 40\npublic 0.5\nbogus 3\n' >"$tmp/bad.scn"
run 2 "$sim" run "$tmp/bad.scn"; check "unknown key: exit 2" $?
one_line_stderr; check "unknown key: one line" $?
[[ $err == *bad.scn:3:* && $err == *bogus* ]]; check "unknown key: file, line and key" $?
printf 'nodes 40\npublic 1.5\n' >"$tmp/bad2.scn"
run 2 "$sim" run "$tmp/bad2.scn"; check "bad share: exit 2" $?
[[ $err == *bad2.scn:2:* ]]; check "bad share: line 2" $?

cat >"$tmp/small.scn" <<'SCN'
# a small mixed network, quick to run
nodes 40
public 0.5
bootstrap 2
join 10s
warmup 20s
duration 20s
nat home 1 mapping=eim filtering=apdf
lookups 5/s
connects 2/s
SCN
run 0 "$sim" run "$tmp/small.scn" --seed 3 --out "$tmp/r1"; check "small run exits 0" $?
[[ $out == lookups:* ]]; check "small run prints a summary" $?
for f in summary.json lookups.csv lookup_latency_cdf.csv lookup_hops.csv \
         connects.csv nat_matrix.csv nodes.csv relays.csv; do
    [ -s "$tmp/r1/$f" ]; check "run wrote $f" $?
done
run 0 "$sim" run "$tmp/small.scn" --seed 3 --out "$tmp/r2" --quiet; check "second run exits 0" $?
[ -z "$out" ]; check "--quiet prints nothing on stdout" $?
diff -r "$tmp/r1" "$tmp/r2" >/dev/null; check "same seed: identical files" $?
# the home NAT filters by address and port and nothing punches holes yet:
# attempts at its nodes go through relays, so some public node relayed
[ "$(wc -l <"$tmp/r1/relays.csv")" -gt 1 ]; check "some node relayed circuits" $?

run 0 "$sim" plot "$tmp/r1"; check "plot exits 0" $?
for f in lookup_latency_cdf.png lookup_hops.png nat_matrix.png traffic_cdf.png \
         relay_load.png; do
    [ "$(head -c 4 "$tmp/r1/$f" 2>/dev/null | od -An -tx1 | tr -d ' ')" = "89504e47" ]
    check "plot drew $f" $?
done
run 1 "$sim" plot "$tmp/nowhere"; check "plot of a missing folder: exit 1" $?

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]

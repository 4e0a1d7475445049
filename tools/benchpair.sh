#!/usr/bin/env bash
# Compares the hot-path benchmarks of two commits on a machine shared with
# other work: builds both test binaries, runs them in interleaved pairs
# (one core each, fixed iterations) and prints each benchmark's median
# before and after and the median of the per-pair ratios, which cancels
# most of the load that varies between pairs.
#   tools/benchpair.sh BEFORE AFTER [PAIRS]
set -euo pipefail
before=$1 after=$2 pairs=${3:-12}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/before" 2>/dev/null || true; git -C "$root" worktree remove --force "$work/after" 2>/dev/null || true; rm -rf "$work"' EXIT
for side in before after; do
  git -C "$root" worktree add -q --detach "$work/$side" "${!side}"
  (cd "$work/$side" && go test -c -o "$work/ingest-$side.test" ./collector/ingest && go test -c -o "$work/app-$side.test" ./collector)
done
run() { # side binary bench iterations (in the package's directory: testdata)
  local dir=collector; [ "$2" = ingest ] && dir=collector/ingest
  cd "$work/$1/$dir"
  GOMAXPROCS=1 "$work/$2-$1.test" -test.run '^$' -test.bench "$3" -test.benchtime "$4" -test.cpu 1 -test.benchmem | grep '^Benchmark' >>"$work/$1.txt"
}
for i in $(seq 1 "$pairs"); do
  order="before after"; [ $((i % 2)) -eq 0 ] && order="after before"
  for side in $order; do
    run "$side" ingest 'PipelineEvent$' 300000x
    run "$side" app 'AppEvent$' 200000x
  done
done
python3 - "$work/before.txt" "$work/after.txt" <<'PY'
import sys, statistics, collections
def load(p):
    d = collections.defaultdict(list)
    for line in open(p):
        f = line.split()
        m = {unit: value for value, unit in zip(f[2::2], f[3::2])}
        d[f[0]].append((float(m["ns/op"]), m.get("allocs/op", "?")))
    return d
b, a = load(sys.argv[1]), load(sys.argv[2])
print("| benchmark | allocs/op before | after | median before | after | median ratio after/before |")
print("|---|---:|---:|---:|---:|---:|")
for k in b:
    if k not in a: continue
    rb, ra = [x[0] for x in b[k]], [x[0] for x in a[k]]
    ratios = [y / x for x, y in zip(rb, ra)]
    print(f"| {k} | {b[k][0][1]} | {a[k][0][1]} | {statistics.median(rb)/1000:.2f} µs | {statistics.median(ra)/1000:.2f} µs | {statistics.median(ratios):.2f} |")
PY

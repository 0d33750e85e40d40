#!/usr/bin/env bash
# A/B comparison of two builds of a benchmark on a noisy machine: runs them alternately, N rounds,
# and prints per build the best and the median of one figure (events/s) the bench prints.
#
#   tools/bench-ab.sh 4 /tmp/sigma-before /tmp/sigma-after
#   LINE='^pre-parsed, 2 threads:' SIGMA_BENCH_PHASES=pre-parsed tools/bench-ab.sh 3 A B
#
# LINE picks the line (an extended regex; default: the one-thread cycled figure) whose first
# number is compared; the sigma bench's knobs (SIGMA_BENCH_*) pass through, and
# SIGMA_BENCH_PHASES defaults to `cycled` and SIGMA_BENCH_CORPUS_RUNS to 1. On a shared machine
# one run can be 15% slower than the next: compare bests over alternating runs, never one run each.
# A run that fails or prints no such line counts as no figure, and is left out.
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 ROUNDS BENCH_BINARY_A BENCH_BINARY_B" >&2
  exit 2
fi
rounds=$1
builds=("$2" "$3")
line=${LINE:-'^pre-parsed, 1 thread:'}
export SIGMA_BENCH_PHASES=${SIGMA_BENCH_PHASES:-cycled}
export SIGMA_BENCH_CORPUS_RUNS=${SIGMA_BENCH_CORPUS_RUNS:-1}
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for ((round = 1; round <= rounds; round++)); do
  for i in 0 1; do
    figure=$({ "${builds[$i]}" 2>&1 || true; } | grep -E "$line" | head -1 |
      grep -oE '[0-9]+ events/s' | head -1 | cut -d' ' -f1 || true)
    echo "round $round: ${builds[$i]} ${figure:-no figure}" >&2
    if [ -n "$figure" ]; then
      echo "$i $figure" >>"$results"
    fi
  done
done
for i in 0 1; do
  awk -v i="$i" '$1 == i { print $2 }' "$results" | sort -n |
    awk -v b="${builds[$i]}" '{ v[NR] = $1 }
      END {
        if (NR == 0) { printf "%s: no figure\n", b; exit }
        printf "%s: best %d, median %d events/s over %d runs\n", b, v[NR], v[int((NR + 1) / 2)], NR
      }'
done

#!/usr/bin/env bash
# Prints RESULT lines of gosched's anchor benchmarks (examples/compare.rs) for
# ../shared/anchors/aggregate.py, each benchmark in its own process, round by round.
#
# usage: benches/anchor-run.sh [rounds=5] [reps=3] [bench...]     (default: every bench)
#   NOBUILD=1          skip `cargo build --release --example compare`
#   GOBENCH=path       also run this Go anchor binary (GOMAXPROCS=1, label go-p1) each round
#   TOKIOBENCH=path    also run this tokio anchor binary (label tokio-ct) each round
#   WRAP="chrt -f 10"  prefix every benchmark process (on a shared machine a real-time
#                      priority keeps other processes from preempting the timed runs)
# Peers run interleaved with gosched (same round, same benchmark) so that machine noise
# falls on all of them alike. A crash or timeout prints a FAIL line instead of figures.
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}; REPS=${2:-3}; shift $(( $# > 2 ? 2 : $# ))
BIN="${CARGO_TARGET_DIR:-target}/release/examples/compare"
[ -n "${NOBUILD:-}" ] || cargo build --release -q --example compare || exit 1
BENCHES=${*:-$("$BIN" list)}
ERRF=$(mktemp); trap 'rm -f "$ERRF"' EXIT

# run_bench TIMEOUT SYSTEM BENCH CMD...  (the same contract as anchors/lib.sh)
run_bench() {
  local to=$1 sys=$2 bench=$3; shift 3
  local out rc why
  out=$(timeout -k 5 "$to" ${WRAP:-} "$@" 2>"$ERRF"); rc=$?
  printf '%s\n' "$out" | grep -E '^(RESULT|#)' || true
  if [ $rc -ne 0 ]; then
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then why="timeout>${to}s"; else
      why="rc=$rc $(grep -m1 -oE 'panicked at [^ ]*|fatal error: [^(]*' "$ERRF" | head -1)"; fi
    printf 'RESULT\t%s\t%s\tFAIL\t0\t%s\n' "$sys" "$bench" "$why"
  fi
}

echo "# host: $(uname -srm), $(nproc) cpus,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "# wrap: ${WRAP:-none}; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(rustc --version); gosched $(git rev-parse --short HEAD 2>/dev/null); rounds=$ROUNDS reps=$REPS; $(date -Is)"
for r in $(seq "$ROUNDS"); do
  echo "# round $r/$ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))"
  for b in $BENCHES; do
    run_bench 120 gosched "$b" "$BIN" "$b" "$REPS" gosched
    [ -z "${GOBENCH:-}" ] || GOMAXPROCS=1 run_bench 120 go-p1 "$b" "$GOBENCH" "$b" "$REPS" go-p1
    [ -z "${TOKIOBENCH:-}" ] || run_bench 120 tokio-ct "$b" "$TOKIOBENCH" "$b" "$REPS" tokio-ct
  done
done

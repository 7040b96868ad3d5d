#!/usr/bin/env bash
# Instructions per operation of the compare benchmarks on wasmtime, and where
# they go by wasm function: callgrind counts the x86 instructions wasmtime's
# compiled code executes, and wasmtime's perf map names the wasm function each
# belongs to. Repeatable on a busy machine, unlike timings (docs/wasm.md,
# "Where the time goes").
#
#   benches/wasm-instructions.sh MODULE.wasm BENCH [TOP]
#
# MODULE.wasm: compare after the Asyncify step, e.g.
#   cargo build --release --target wasm32-wasip1 --example compare
#   cargo gosched asyncify target/wasm32-wasip1/release/examples/compare.wasm /tmp/compare.wasm
#   benches/wasm-instructions.sh /tmp/compare.wasm B7
# That output has no name section: functions are listed as
# wasm[0]::function[N]. For names, run the step's wasm-opt command
# (`cargo gosched asyncify --print-command IN OUT`) with -g added.
# BENCH runs once warm-up + once timed (compare's `BENCH 1`); the count is
# divided by both runs' operations. TOP: how many functions to list (15).
# Needs valgrind and wasmtime (WASMTIME: the wasmtime executable itself, not a
# wrapper script). Takes about a minute per benchmark.
set -euo pipefail
module="$1" bench="$2" top="${3:-15}"
here="$(cd "$(dirname "$0")" && pwd)"
case "$bench" in
B1 | B1b) ops=$((2 * 100000)) ;;
B2 | B7 | B4 | B4b) ops=$((2 * 1000000)) ;;
B5) ops=$((2 * 2000000)) ;;
B3) ops=$((2 * 10000000)) ;;
*) echo "wasm-instructions: $bench: one of B1 B1b B2 B3 B4 B4b B5 B7" >&2 && exit 2 ;;
esac
wasmtime="${WASMTIME:-$(command -v wasmtime)}"
if head -c2 "$wasmtime" | grep -q '#!'; then
    # pip's wasmtime-cli installs a Python wrapper; valgrind needs the binary.
    wasmtime="$(python3 -c 'import os, wasmtime_cli; print(os.path.dirname(wasmtime_cli.__file__))')/wasmtime"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Compiled under valgrind, so that the code uses only CPU features it emulates.
valgrind --tool=none -q "$wasmtime" compile "$module" -o "$work/m.cwasm"
valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$work/cg" \
    "$wasmtime" run --allow-precompiled --profile=perfmap "$work/m.cwasm" "$bench" 1 \
    2>"$work/log" | grep RESULT || true
pid="$(grep -om1 '^==[0-9]*==' "$work/log" | tr -d =)"
python3 "$here/wasm-instructions.py" "$work/cg" "/tmp/perf-$pid.map" "$ops" "$top"
rm -f "/tmp/perf-$pid.map"

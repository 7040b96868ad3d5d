"""Attributes a callgrind profile (--dump-instr=yes) of wasmtime to wasm functions
through wasmtime's perf map. Used by benches/wasm-instructions.sh.

usage: wasm-instructions.py CALLGRIND_OUT PERF_MAP OPS TOP
"""
import bisect
import collections
import sys


def number(s):
    return int(s, 16) if s.startswith("0x") else int(s)


def main():
    profile, perf_map, ops, top = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ranges = []
    with open(perf_map) as f:
        for line in f:
            start, size, name = line.rstrip("\n").split(" ", 2)
            ranges.append((int(start, 16), int(size, 16), name))
    ranges.sort()
    starts = [r[0] for r in ranges]
    cost = collections.Counter()
    total = 0
    addr = 0
    after_calls = False
    with open(profile) as f:
        for line in f:
            if line[0] not in "0123456789+-*":
                # A `calls=` line is followed by the call's inclusive cost.
                after_calls = line.startswith("calls=")
                continue
            fields = line.split()
            position = fields[0]
            if position[0] == "+":
                addr += number(position[1:])
            elif position[0] == "-":
                addr -= number(position[1:])
            elif position != "*":
                addr = number(position)
            if after_calls:
                after_calls = False
                continue
            n = int(fields[2]) if len(fields) > 2 else 0
            total += n
            i = bisect.bisect_right(starts, addr) - 1
            inside = i >= 0 and addr < ranges[i][0] + ranges[i][1]
            cost[ranges[i][2] if inside else "(wasmtime itself)"] += n
    print(f"instructions per op: {total / ops:.0f}  (total {total:,}, ops {ops:,})")
    for name, n in cost.most_common(top):
        print(f"{n / ops:10.1f}  {100 * n / total:5.1f} %  {name[:150]}")


main()

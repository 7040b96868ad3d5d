#!/usr/bin/env python3
"""Markdown table of gosched beside its peers from RESULT lines (benches/anchor-run.sh).

usage: benches/anchor-table.py raw1.tsv [raw2.tsv ...] > table.md
Cell = median (min–max) over all samples of all files (rounds x in-process reps).
Columns: gosched, go-p1, tokio-ct (whichever appear), the ratio gosched / go-p1, and
gosched's target from issues 2 and 3. (../shared/anchors/aggregate.py knows only
the anchors' own systems.)
"""
import statistics
import sys
from collections import defaultdict

ROWS = [  # (label, bench, metric, target for gosched or None)
    ("B1 spawn+join 100k live, ns/goroutine", "B1", "ns_per_task", 150),
    ("B1 first run in process, ns/goroutine", "B1", "cold_ns_per_task", None),
    ("B1 RSS per goroutine, bytes", "B1", "rss_per_task", None),
    ("B1b 10 × 10k, ns/goroutine", "B1b", "ns_per_task", None),
    ("B1s 100k live, each yields once (all hold a stack), ns/goroutine", "B1s", "ns_per_task", None),
    ("B1s RSS per goroutine, bytes", "B1s", "rss_per_task", None),
    ("B2 ping-pong, ns/round trip", "B2", "ns_per_roundtrip", 50),
    ("B3 cap-1024 channel, ns/item", "B3", "ns_per_item", 10),
    ("B4 select over 4 chans (cap 0/1), ns/select", "B4", "ns_per_select", 60),
    ("B4b select over 4 chans (cap 1024), ns/select", "B4b", "ns_per_select", None),
    ("B5 yield, ns/yield", "B5", "ns_per_yield", 10),
    ("B6 10k × sleep 10 ms, wall ms (warm)", "B6", "wall_ms", 15),
    ("B6 wall ms, first run in process", "B6", "cold_wall_ms", None),
    ("B6 RSS per goroutine, bytes", "B6", "rss_per_task", 8192),
    ("B7 ring 1000 × 1000 laps, ns/hop", "B7", "ns_per_hop", 30),
]
SYSTEMS = ["gosched", "go-p1", "tokio-ct"]

vals = defaultdict(list)
fails = defaultdict(list)
for path in sys.argv[1:]:
    for line in open(path):
        if not line.startswith("RESULT\t"):
            continue
        _, s, b, m, v, unit = line.rstrip("\n").split("\t", 5)
        if m == "FAIL":
            fails[(s, b)].append(unit)
        else:
            vals[(s, b, m)].append(float(v))


def fmt(x):
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell(s, b, m):
    v = vals.get((s, b, m), [])
    f = fails.get((s, b), [])
    if not v:
        return f"FAIL ({f[0].strip()})" if f else "–"
    out = fmt(statistics.median(v))
    if len(v) > 1:
        out += f" ({fmt(min(v))}–{fmt(max(v))})"
    if f:
        out += f" [{len(f)} runs FAIL]"
    return out


cols = [s for s in SYSTEMS if any(k[0] == s for k in vals)]
print("| benchmark | " + " | ".join(cols) + " | gosched / go-p1 | target | met |")
print("|---|" + "---|" * (len(cols) + 3))
for label, b, m, target in ROWS:
    if not any((s, b, m) in vals or (s, b) in fails for s in cols):
        continue
    ours = vals.get(("gosched", b, m))
    go = vals.get(("go-p1", b, m))
    ratio = f"{statistics.median(ours) / statistics.median(go):.2f}×" if ours and go else "–"
    if target is None or not ours:
        tgt, met = "–", "–"
    else:
        tgt = f"≤ {fmt(target)}"
        met = "yes" if statistics.median(ours) <= target else "**no**"
    print(f"| {label} | " + " | ".join(cell(s, b, m) for s in cols) + f" | {ratio} | {tgt} | {met} |")

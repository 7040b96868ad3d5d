#!/usr/bin/env python3
"""Medians of `bench` output (stdin or files): per system, the server's run time, user and
system time per request, p99, and the median over rounds of run time / the best anchor's in
the same round (the anchors: go-p1, tokio-ct, may-w1)."""
import re, statistics, sys, fileinput

ANCHORS = ("go-p1", "tokio-ct", "may-w1")
rounds, cur, loads = [], None, []
for line in fileinput.input():
    if line.startswith("# round"):
        cur = {}
        rounds.append(cur)
        loads.append(float(line.split(":")[1].split()[0]))
    elif cur is not None and "\t" in line and "ns/req" in line:
        f = line.rstrip("\n").split("\t")
        vals = {k: float(v) for k, v in re.findall(r"(\w[\w/]*) (-?[\d.]+)", "\t".join(f[1:]))}
        cur[f[0]] = vals
systems = list(dict.fromkeys(s for r in rounds for s in r))
print(f"{len(rounds)} rounds, load average (1 min) {min(loads):.1f}-{max(loads):.1f}")
print(f"{'system':30} {'run ns/req':>10} {'user':>6} {'sys':>6} {'req/s':>8} {'p99 us':>7} {'/best anchor':>12} {'(min-max)':>11}")
for s in systems:
    rows = [r[s] for r in rounds if s in r]
    med = lambda k: statistics.median(x[k] for x in rows if k in x)
    ratios = [r[s]["runtime"] / min(r[a]["runtime"] for a in ANCHORS if a in r)
              for r in rounds if s in r and "runtime" in r[s] and any(a in r for a in ANCHORS)]
    print(f"{s:30} {med('runtime'):10.0f} {med('user'):6.0f} {med('sys'):6.0f} {med('req/s'):8.0f} {med('p99'):7.0f} {statistics.median(ratios):12.2f} {min(ratios):5.2f}-{max(ratios):.2f}")

#!/usr/bin/env bash
# N2 of ../shared/anchors/net/run.sh alone (100 connections, 64-byte request/response,
# SECS s; server on CPU 0, the anchors' Go client on CPU 1), with the server's CPU time
# per request split into user and system time (/proc/PID/stat, in clock ticks), the exact run
# time (/proc/PID/task/*/schedstat, ns), and per request: TCP
# segments sent on the host (nstat), the server's minor page faults and context switches.
# Run `../shared/anchors/net/run.sh anchors` once first: it builds the client.
#   benches/net-cpu-split.sh SECS SYSTEM SERVER-CMD...   (the server takes its address last)
set -u
SECS=$1; SYS=$2; shift 2
T=/tmp/anchors-net; ADDR=127.0.0.1:${NET_PORT:-7412}
log=$(mktemp)
setsid taskset -c 0 "$@" "$ADDR" >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.1; done
read u0 s0 f0 < <(awk '{print $14, $15, $10}' /proc/$pid/stat)
cs() { awk '/ctxt_switches/{n+=$2} END{print n}' /proc/$pid/task/*/status; }
rt() { awk '{n+=$1} END{printf "%d", n}' /proc/$pid/task/*/schedstat; }  # run time, ns (exact)
c0=$(cs); r0=$(rt)
nstat -n >/dev/null 2>&1
out=$(timeout 60 taskset -c 1 "$T/client" "$ADDR" rr 100 "$SECS" 64 "$SYS")
read u1 s1 f1 < <(awk '{print $14, $15, $10}' /proc/$pid/stat)
c1=$(cs); r1=$(rt)
segs=$(nstat -z TcpOutSegs 2>/dev/null | awk '/TcpOutSegs/{print $2}')
rps=$(awk -F'\t' '$3=="N2" && $4=="reqs_per_s"{print $5}' <<<"$out")
p99=$(awk -F'\t' '$3=="N2" && $4=="p99_us"{print $5}' <<<"$out")
hz=$(getconf CLK_TCK)
awk -v sys="$SYS" -v u=$((u1-u0)) -v s=$((s1-s0)) -v hz=$hz -v rps="$rps" -v secs="$SECS" -v segs="$segs" -v p99="$p99" -v f=$((f1-f0)) -v c=$((c1-c0)) -v rt=$((r1-r0)) 'BEGIN{
  n=rps*secs; printf "%s\treq/s %.0f\tp99 %.0f us\tuser %.0f ns/req\tsys %.0f ns/req\ttotal %.0f ns/req\truntime %.0f ns/req\tsegs/req %.2f\tminflt/req %.4f\tctxsw/req %.4f\n", sys, rps, p99, u/hz*1e9/n, s/hz*1e9/n, (u+s)/hz*1e9/n, rt/n, segs/n, f/n, c/n }'
kill -- -$pid 2>/dev/null; sleep 0.3; kill -9 -- -$pid 2>/dev/null; wait $pid 2>/dev/null; rm -f $log

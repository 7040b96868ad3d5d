//! The anchor micro-benchmarks (B1..B7 of `shared/anchors`) on gosched, printing
//! the same `RESULT` lines as the Go, may and tokio programs there, so that
//! `aggregate.py` can put gosched beside them. docs/benchmarks.md has the results.
//!
//! usage: `cargo run --release --example compare -- <bench|all|list> [reps=3] [system-label=gosched]`
//! (`list` prints the benchmark names, one a line).
//!
//! Each benchmark body runs in the main goroutine of its own `gosched::run`, one
//! run per repetition (tokio's program calls `block_on` per repetition the same
//! way); the per-thread stack pool outlives the runs, so warm repetitions reuse
//! stacks. One untimed warm-up precedes the timed repetitions, except for the
//! RSS benchmarks (B1, B1b, B6), whose first, cold run is measured for memory
//! and reported on its own.
//!
//! B1/B1b keep up to 100k goroutines alive: guarded stacks need two kernel
//! mappings each and stop near 32k (vm.max_map_count), so they run on slab
//! (unguarded) stacks of [`B1_STACK`] bytes. All others use the default runtime
//! (guarded 256 KiB stacks). B1s is gosched's own addition: B1 where every
//! goroutine yields once, so that all 100k hold a stack at the same time.

use std::time::Duration;

use gosched::Runtime;

// Sizes: identical to shared/anchors/common/src/lib.rs.
pub(crate) const N_SPAWN: usize = 100_000; // B1
pub(crate) const N_PINGPONG: usize = 1_000_000; // B2 round trips
pub(crate) const N_BUF_ITEMS: u64 = 10_000_000; // B3 items
pub(crate) const BUF_CAP: usize = 1024; // B3/B4b capacity
pub(crate) const N_SELECT_PRODUCERS: usize = 4; // B4
pub(crate) const N_SELECT_ITEMS: usize = 1_000_000; // B4 total selects
pub(crate) const N_YIELD: usize = 1_000_000; // B5 yields per goroutine (2 goroutines)
pub(crate) const N_SLEEPERS: usize = 10_000; // B6
pub(crate) const SLEEP_MS: u64 = 10; // B6
pub(crate) const RING_SIZE: usize = 1000; // B7
pub(crate) const RING_LAPS: usize = 1000; // B7

/// Stack size of the B1/B1b goroutines (slab stacks, no guard page).
pub(crate) const B1_STACK: usize = 64 * 1024;

// ---- harness: the helpers of shared/anchors/common, copied (no dependency) ----

fn emit(system: &str, bench: &str, metric: &str, value: f64, unit: &str) {
    println!("RESULT\t{system}\t{bench}\t{metric}\t{value:.3}\t{unit}");
}

/// A `kB` field (VmRSS, VmHWM, ...) of /proc/self/status, in bytes; 0 if absent.
fn proc_status_bytes(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim_start_matches(':')
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

fn rss_now() -> u64 {
    proc_status_bytes("VmRSS")
}

fn rss_peak() -> u64 {
    proc_status_bytes("VmHWM")
}

/// Resets the peak-RSS high-water mark (Linux >= 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn ns_per(d: Duration, n: usize) -> f64 {
    d.as_nanos() as f64 / n as f64
}

struct Args {
    bench: String,
    reps: usize,
    system: String,
}

/// argv: `<bench> [reps] [system-label]`
fn args() -> Args {
    let a: Vec<String> = std::env::args().collect();
    Args {
        bench: a.get(1).cloned().unwrap_or_else(|| "all".into()),
        reps: a.get(2).and_then(|s| s.parse().ok()).unwrap_or(3),
        system: a.get(3).cloned().unwrap_or_else(|| "gosched".into()),
    }
}

/// One untimed warm-up, then `reps` timed runs, each reported as ns per op.
fn timed(a: &Args, bench: &str, metric: &str, ops: usize, mut f: impl FnMut() -> Duration) {
    let _ = f();
    for _ in 0..a.reps {
        emit(&a.system, bench, metric, ns_per(f(), ops), "ns");
    }
}

/// Runs `f` once cold and reports the RSS it added: `(elapsed, peak MiB, bytes per task)`.
fn cold_with_rss(a: &Args, bench: &str, tasks: usize, f: impl FnOnce() -> Duration) -> Duration {
    let base = rss_now();
    reset_peak();
    let d = f();
    let peak = rss_peak();
    if peak > 0 {
        emit(
            &a.system,
            bench,
            "peak_rss_mb",
            peak as f64 / f64::from(1 << 20),
            "MiB",
        );
        let added = peak.saturating_sub(base) as f64;
        emit(&a.system, bench, "rss_per_task", added / tasks as f64, "B");
    }
    d
}

/// A runtime on unguarded slab stacks of [`B1_STACK`] bytes.
pub(crate) fn slab_runtime() -> Runtime {
    // SAFETY: the B1 goroutines run an empty closure or one yield, plus
    // gosched's join bookkeeping: well under 8 KiB of their 64 KiB stacks.
    unsafe { Runtime::new().stack_size(B1_STACK).unguarded_stacks() }
}

// ---- benchmark bodies: each runs inside the main goroutine ----
// They time themselves on the platform clock (gosched::now), so that
// examples/compare_js.rs runs the same bodies in a JS host, where
// std::time::Instant does not work.

/// B1: spawn N goroutines with an empty body, then join every handle in order.
/// B1b: the same N spawns in `batches` batches.
/// B1s (gosched only, `body` = yield): every goroutine yields once, so all N
/// hold a stack at the same time (a goroutine gets its stack when it first
/// runs, so in B1 they run one after another on one pooled stack).
pub(crate) fn b1(batches: usize, body: fn()) -> Duration {
    let per = N_SPAWN / batches;
    let t = gosched::now();
    for _ in 0..batches {
        let hs: Vec<_> = (0..per).map(|_| gosched::go(body)).collect();
        for h in hs {
            h.join().unwrap();
        }
    }
    gosched::now() - t
}

/// B2: main sends `i` on an unbuffered channel, an echo goroutine sends it
/// back on another; round trips.
pub(crate) fn b2() -> Duration {
    let (ping_tx, ping_rx) = gosched::chan::<usize>(0);
    let (pong_tx, pong_rx) = gosched::chan::<usize>(0);
    let echo = gosched::go(move || {
        for v in &ping_rx {
            pong_tx.send(v).unwrap();
        }
    });
    let t = gosched::now();
    for i in 0..N_PINGPONG {
        ping_tx.send(i).unwrap();
        pong_rx.recv().unwrap();
    }
    let d = gosched::now() - t;
    drop(ping_tx);
    echo.join().unwrap();
    d
}

/// B3: one producer sends N u64 into a capacity-1024 channel; main sums them.
pub(crate) fn b3() -> Duration {
    let (tx, rx) = gosched::chan::<u64>(BUF_CAP);
    let t = gosched::now();
    let producer = gosched::go(move || {
        for i in 0..N_BUF_ITEMS {
            tx.send(i).unwrap();
        }
    });
    let sum: u64 = rx.iter().sum();
    let d = gosched::now() - t;
    producer.join().unwrap();
    assert_eq!(sum, N_BUF_ITEMS * (N_BUF_ITEMS - 1) / 2);
    d
}

/// B4 (cap 0) / B4b (cap 1024): 4 producers each feed their own channel;
/// main selects over the 4 until it has all items. Main keeps a sender of
/// each channel so that none closes while it selects (Go's producers do not
/// close either).
pub(crate) fn b4(cap: usize) -> Duration {
    let per = N_SELECT_ITEMS / N_SELECT_PRODUCERS;
    let (senders, rxs): (Vec<_>, Vec<_>) = (0..N_SELECT_PRODUCERS)
        .map(|_| gosched::chan::<u64>(cap))
        .unzip();
    let t = gosched::now();
    let producers: Vec<_> = senders
        .iter()
        .map(|tx| {
            let tx = tx.clone();
            gosched::go(move || {
                for j in 0..per as u64 {
                    tx.send(j).unwrap();
                }
            })
        })
        .collect();
    let [r0, r1, r2, r3] = <[_; 4]>::try_from(rxs).ok().unwrap();
    let mut sum = 0u64;
    for _ in 0..N_SELECT_ITEMS {
        sum += gosched::select! {
            recv(r0) -> v => v.unwrap(),
            recv(r1) -> v => v.unwrap(),
            recv(r2) -> v => v.unwrap(),
            recv(r3) -> v => v.unwrap(),
        };
    }
    let d = gosched::now() - t;
    producers.into_iter().for_each(|p| p.join().unwrap());
    drop(senders);
    let per = per as u64;
    assert_eq!(sum, N_SELECT_PRODUCERS as u64 * per * (per - 1) / 2);
    d
}

/// B7: main -> g0 -> g1 -> ... -> g999 -> main over 1001 unbuffered channels,
/// each goroutine forwarding `v + 1`; laps.
pub(crate) fn b7() -> Duration {
    let (first, mut rx) = gosched::chan::<usize>(0);
    let ring: Vec<_> = (0..RING_SIZE)
        .map(|_| {
            let (tx, next) = gosched::chan::<usize>(0);
            let prev = std::mem::replace(&mut rx, next);
            gosched::go(move || {
                for v in &prev {
                    tx.send(v + 1).unwrap();
                }
            })
        })
        .collect();
    let t = gosched::now();
    for _ in 0..RING_LAPS {
        first.send(0).unwrap();
        assert_eq!(rx.recv().unwrap(), RING_SIZE);
    }
    let d = gosched::now() - t;
    drop(first);
    ring.into_iter().for_each(|g| g.join().unwrap());
    d
}

/// B5: two goroutines each yield N times.
pub(crate) fn b5() -> Duration {
    let t = gosched::now();
    let hs: Vec<_> = (0..2)
        .map(|_| {
            gosched::go(|| {
                for _ in 0..N_YIELD {
                    gosched::yield_now();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    gosched::now() - t
}

/// B6: 10k goroutines each sleep 10 ms; main joins them all.
pub(crate) fn b6() -> Duration {
    let t = gosched::now();
    let hs: Vec<_> = (0..N_SLEEPERS)
        .map(|_| gosched::go(|| gosched::sleep(Duration::from_millis(SLEEP_MS))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    gosched::now() - t
}

/// B1, B1b, B1s: RSS of the cold run, then warm repetitions (no extra warm-up).
fn run_b1(a: &Args, name: &str, batches: usize, body: fn()) {
    let run = move || slab_runtime().run(move || b1(batches, body));
    let cold = cold_with_rss(a, name, N_SPAWN, run);
    emit(
        &a.system,
        name,
        "cold_ns_per_task",
        ns_per(cold, N_SPAWN),
        "ns",
    );
    for _ in 0..a.reps {
        emit(&a.system, name, "ns_per_task", ns_per(run(), N_SPAWN), "ns");
    }
}

/// B6: RSS and wall time of the cold run, then warm repetitions.
fn run_b6(a: &Args) {
    let cold = cold_with_rss(a, "B6", N_SLEEPERS, || gosched::run(b6));
    emit(
        &a.system,
        "B6",
        "cold_wall_ms",
        cold.as_secs_f64() * 1e3,
        "ms",
    );
    for _ in 0..a.reps {
        emit(
            &a.system,
            "B6",
            "wall_ms",
            gosched::run(b6).as_secs_f64() * 1e3,
            "ms",
        );
    }
}

/// A benchmark: its name and what prints its RESULT lines.
type Bench = (&'static str, fn(&Args));

/// Every benchmark, in the anchors' order.
const BENCHES: &[Bench] = &[
    ("B1", |a| run_b1(a, "B1", 1, || ())),
    ("B1b", |a| run_b1(a, "B1b", 10, || ())),
    ("B1s", |a| run_b1(a, "B1s", 1, gosched::yield_now)),
    ("B2", |a| {
        timed(a, "B2", "ns_per_roundtrip", N_PINGPONG, || gosched::run(b2))
    }),
    ("B3", |a| {
        timed(a, "B3", "ns_per_item", N_BUF_ITEMS as usize, || {
            gosched::run(b3)
        })
    }),
    ("B4", |a| {
        timed(a, "B4", "ns_per_select", N_SELECT_ITEMS, || {
            gosched::run(|| b4(0))
        })
    }),
    ("B4b", |a| {
        let ops = N_SELECT_ITEMS;
        timed(a, "B4b", "ns_per_select", ops, || {
            gosched::run(|| b4(BUF_CAP))
        })
    }),
    ("B5", |a| {
        timed(a, "B5", "ns_per_yield", 2 * N_YIELD, || gosched::run(b5))
    }),
    ("B6", run_b6),
    ("B7", |a| {
        let hops = RING_LAPS * (RING_SIZE + 1);
        timed(a, "B7", "ns_per_hop", hops, || gosched::run(b7))
    }),
];

fn main() {
    let a = args();
    if a.bench == "list" {
        BENCHES.iter().for_each(|(name, _)| println!("{name}"));
        return;
    }
    let mut ran = false;
    for (name, bench) in BENCHES {
        if a.bench == "all" || a.bench == *name {
            bench(&a);
            ran = true;
        }
    }
    if !ran {
        let names: Vec<&str> = BENCHES.iter().map(|(name, _)| *name).collect();
        eprintln!(
            "compare: unknown benchmark {:?}; known: {} (or all, list)",
            a.bench,
            names.join(" ")
        );
        std::process::exit(2);
    }
}

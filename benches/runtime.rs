//! Criterion micro-benchmarks of the scheduler: spawn+join, yield, sleep wake-up.
//! The anchor comparison with Go and tokio is examples/compare.rs instead.
//!
//! Each sample is one `gosched::run` whose main goroutine times its own loop
//! (`iter_custom`), so starting the scheduler is not measured.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Runs `body(iters)` as the main goroutine of a fresh scheduler; `body` times itself.
fn in_goroutine(iters: u64, body: fn(u64) -> Duration) -> Duration {
    gosched::run(move || body(iters))
}

fn spawn(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn");
    g.throughput(Throughput::Elements(1));
    // One goroutine at a time: spawn, then join (the stack comes back hot).
    g.bench_function("spawn_join", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let t = Instant::now();
                for i in 0..n {
                    black_box(gosched::go(move || black_box(i)).join().unwrap());
                }
                t.elapsed()
            })
        })
    });
    // 1000 goroutines alive at once, then joined in order; time per goroutine.
    g.throughput(Throughput::Elements(1000));
    g.bench_function("spawn_1000_then_join", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let t = Instant::now();
                for _ in 0..n {
                    let hs: Vec<_> = (0..1000).map(|_| gosched::go(|| ())).collect();
                    hs.into_iter().for_each(|h| h.join().unwrap());
                }
                t.elapsed()
            })
        })
    });
    g.finish();
}

fn yield_now(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield");
    g.throughput(Throughput::Elements(1));
    // The only runnable goroutine yields: queue round trip plus two switches.
    g.bench_function("alone", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let t = Instant::now();
                for _ in 0..n {
                    gosched::yield_now();
                }
                t.elapsed()
            })
        })
    });
    // Two goroutines take turns (B5's shape); time per yield.
    g.bench_function("two_goroutines", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let per = n.div_ceil(2);
                let t = Instant::now();
                let other = gosched::go(move || (0..per).for_each(|_| gosched::yield_now()));
                (0..per).for_each(|_| gosched::yield_now());
                other.join().unwrap();
                t.elapsed()
            })
        })
    });
    g.finish();
}

fn sleep(c: &mut Criterion) {
    let mut g = c.benchmark_group("sleep");
    // Wall time of one 100 µs sleep: the timer, the idle wait and the wake-up.
    g.bench_function("one_100us", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let t = Instant::now();
                for _ in 0..n {
                    gosched::sleep(Duration::from_micros(100));
                }
                t.elapsed()
            })
        })
    });
    // 1000 goroutines sleep 1 ms at once: wall time per batch (ideal 1 ms).
    g.bench_function("1000_goroutines_1ms", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let t = Instant::now();
                for _ in 0..n {
                    let hs: Vec<_> = (0..1000)
                        .map(|_| gosched::go(|| gosched::sleep(Duration::from_millis(1))))
                        .collect();
                    hs.into_iter().for_each(|h| h.join().unwrap());
                }
                t.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = spawn, yield_now, sleep
}
criterion_main!(benches);

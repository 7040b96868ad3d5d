//! Criterion micro-benchmarks of channels and select!. The anchor comparison
//! with Go and tokio (B2, B3, B4, B7) is examples/compare.rs instead.
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

fn transfer(c: &mut Criterion) {
    let mut g = c.benchmark_group("chan");
    g.throughput(Throughput::Elements(1));
    // Unbuffered round trip: main -> echo goroutine -> main (two handoffs, two parks).
    g.bench_function("unbuffered_round_trip", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let (ping, ping_rx) = gosched::chan::<u64>(0);
                let (pong_tx, pong) = gosched::chan::<u64>(0);
                gosched::go(move || {
                    for v in &ping_rx {
                        pong_tx.send(v).unwrap();
                    }
                });
                let t = Instant::now();
                for i in 0..n {
                    ping.send(i).unwrap();
                    black_box(pong.recv().unwrap());
                }
                t.elapsed()
            })
        })
    });
    // Buffered send then receive on one goroutine: no switch, only the buffer.
    g.bench_function("buffered_send_recv_same_goroutine", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let (tx, rx) = gosched::chan::<u64>(16);
                let t = Instant::now();
                for i in 0..n {
                    tx.send(i).unwrap();
                    black_box(rx.recv().unwrap());
                }
                t.elapsed()
            })
        })
    });
    // Producer goroutine into a capacity-1024 channel, main drains (B3's shape).
    g.bench_function("buffered_1024_stream", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let (tx, rx) = gosched::chan::<u64>(1024);
                let t = Instant::now();
                gosched::go(move || (0..n).for_each(|i| tx.send(i).unwrap()));
                black_box(rx.iter().sum::<u64>());
                t.elapsed()
            })
        })
    });
    g.finish();
}

fn select(c: &mut Criterion) {
    let mut g = c.benchmark_group("select");
    g.throughput(Throughput::Elements(1));
    // Two buffered channels, one always ready: the non-blocking path of select!.
    g.bench_function("two_arms_one_ready", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let (tx, ready) = gosched::chan::<u64>(1);
                let (_keep, idle) = gosched::chan::<u64>(1);
                let t = Instant::now();
                for i in 0..n {
                    tx.send(i).unwrap();
                    gosched::select! {
                        recv(ready) -> v => { black_box(v.unwrap()); }
                        recv(idle) -> v => { black_box(v.unwrap()); }
                    }
                }
                t.elapsed()
            })
        })
    });
    // Nothing ready: select! with a default arm.
    g.bench_function("two_arms_default", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let (_tx0, r0) = gosched::chan::<u64>(0);
                let (_tx1, r1) = gosched::chan::<u64>(0);
                let t = Instant::now();
                for _ in 0..n {
                    gosched::select! {
                        recv(r0) -> v => { black_box(v.unwrap()); }
                        recv(r1) -> v => { black_box(v.unwrap()); }
                        default => { black_box(()); }
                    }
                }
                t.elapsed()
            })
        })
    });
    // Blocking select over 4 unbuffered channels fed by 4 goroutines (B4's shape).
    g.bench_function("four_arms_blocking", |b| {
        b.iter_custom(|iters| {
            in_goroutine(iters, |n| {
                let (txs, rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| gosched::chan::<u64>(0)).unzip();
                for tx in &txs {
                    let tx = tx.clone();
                    gosched::go(move || while tx.send(1).is_ok() {});
                }
                let [r0, r1, r2, r3] = <[_; 4]>::try_from(rxs).ok().unwrap();
                let t = Instant::now();
                for _ in 0..n {
                    let v = gosched::select! {
                        recv(r0) -> v => v,
                        recv(r1) -> v => v,
                        recv(r2) -> v => v,
                        recv(r3) -> v => v,
                    };
                    black_box(v.unwrap());
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
    targets = transfer, select
}
criterion_main!(benches);

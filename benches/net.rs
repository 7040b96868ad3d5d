//! Criterion benchmark of the netpoller path: a goroutine parks on a socket,
//! the OS reports readiness in `before_idle`'s `epoll_wait`, the platform
//! hands the waiter to the runtime, which unparks exactly that goroutine.
//! The echo-server comparison with Go, tokio and may is
//! `../shared/anchors/net/run.sh` with examples/echo_server.rs instead
//! (docs/benchmarks.md).
//!
//! Each sample is one `gosched::run` whose main goroutine times its own loop
//! (`iter_custom`), so starting the scheduler and connecting are not measured.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gosched::net::{TcpListener, TcpStream};

/// A connected loopback pair with Nagle off.
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

/// The echo side: `iters` bytes back as they come.
fn echo(mut server: impl Read + Write, iters: u64) {
    let mut byte = [0u8];
    for _ in 0..iters {
        server.read_exact(&mut byte).unwrap();
        server.write_all(&byte).unwrap();
    }
}

/// The timed side: `iters` one-byte round trips.
fn ping(mut client: impl Read + Write, iters: u64) -> Duration {
    let mut byte = [0u8];
    let start = Instant::now();
    for i in 0..iters {
        client.write_all(&[i as u8]).unwrap();
        client.read_exact(&mut byte).unwrap();
    }
    start.elapsed()
}

fn poller(c: &mut Criterion) {
    let mut g = c.benchmark_group("netpoller");
    g.throughput(Throughput::Elements(1));
    // One byte there and back between two goroutines of one scheduler: each
    // iteration parks both on readability once and wakes each through one
    // `epoll_wait` (plus the four read/write system calls and the failed
    // reads that park).
    g.bench_function("ping_pong_one_byte", |b| {
        b.iter_custom(|iters| {
            gosched::run(move || {
                let (client, server) = pair();
                let echo = gosched::go(move || echo(server, iters));
                let elapsed = ping(client, iters);
                echo.join().unwrap();
                elapsed
            })
        })
    });
    // The same exchange between two OS threads blocking in std::net: what
    // the kernel's wake-up costs without a scheduler, for scale.
    g.bench_function("std_threads_ping_pong_one_byte", |b| {
        b.iter_custom(|iters| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            client.set_nodelay(true).unwrap();
            server.set_nodelay(true).unwrap();
            let echo = std::thread::spawn(move || echo(server, iters));
            let elapsed = ping(client, iters);
            echo.join().unwrap();
            elapsed
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = poller
}
criterion_main!(benches);

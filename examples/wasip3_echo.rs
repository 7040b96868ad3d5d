//! A TCP echo server, one goroutine per connection, written with
//! `gosched::net` exactly as with `std::net`: the same source runs natively
//! and as a WASIp3 component (on `wasi:sockets@0.3.0`) served by wasmtime.
//!
//! ```text
//! cargo gosched run --target wasm32-wasip2 --features wasip3 --example wasip3_echo -- [ADDR] [--connections N]
//! cargo run --example wasip3_echo -- [ADDR] [--connections N]     (natively)
//! ```
//!
//! ADDR defaults to 127.0.0.1:7878 (port 0: any free port; the line
//! `listening on ADDR` tells which). With `--connections N` the server stops
//! accepting after N connections, waits for them to finish and exits; without
//! it, it serves until killed. tools/wasip3-checks drives it with 100
//! concurrent native clients (tests/wasip3_echo.rs).

use std::io::{Read, Write};

use gosched::net::{Shutdown, SocketAddr, TcpListener, TcpStream};

fn main() {
    let mut addr: SocketAddr = "127.0.0.1:7878".parse().unwrap();
    let mut limit = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--connections" => limit = args.next().and_then(|n| n.parse::<u64>().ok()),
            other => addr = other.parse().expect("ADDR must look like 127.0.0.1:7878"),
        }
    }
    let (served, bytes) = gosched::run(move || serve(addr, limit));
    println!("served {served} connections, echoed {bytes} bytes");
}

/// Accepts connections (up to `limit`), echoes each on its own goroutine, and
/// returns the number of connections and bytes once all have closed.
fn serve(addr: SocketAddr, limit: Option<u64>) -> (u64, u64) {
    let listener = TcpListener::bind(addr).expect("bind");
    println!(
        "listening on {}",
        listener.local_addr().expect("local address")
    );

    let (done_tx, done_rx) = gosched::chan::<u64>(16);
    let mut accepted = 0;
    while limit.is_none_or(|n| accepted < n) {
        // Parks this goroutine only; the connections keep echoing.
        let (conn, _) = listener.accept().expect("accept");
        accepted += 1;
        let done = done_tx.clone();
        gosched::go(move || {
            let _ = done.send(echo(conn));
        });
    }
    // Stop listening, then wait for the connections still open.
    drop(listener);
    drop(done_tx);
    (accepted, done_rx.iter().sum())
}

/// Sends back everything the peer sends until it closes its side; returns the
/// number of bytes echoed.
fn echo(mut conn: TcpStream) -> u64 {
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break, // the peer closed its side (or failed)
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    break; // the peer stopped reading
                }
                total += n as u64;
            }
        }
    }
    let _ = conn.shutdown(Shutdown::Write);
    total
}

//! A TCP echo server on `wasi:sockets@0.3.0`, one goroutine per connection,
//! in a WASIp3 component served by wasmtime.
//!
//! ```text
//! cargo run --target wasm32-wasip2 --features wasip3 --example wasip3_echo -- [ADDR] [--connections N]
//! ```
//!
//! ADDR defaults to 127.0.0.1:7878 (port 0: any free port; the line
//! `listening on ADDR` tells which). With `--connections N` the server stops
//! accepting after N connections, waits for them to finish and exits; without
//! it, it serves until killed. tools/wasip3-checks drives it with 100
//! concurrent native clients (tests/wasip3_echo.rs).

use std::future::IntoFuture as _;
use std::net::SocketAddrV4;

use gosched::wasip3::bindings::sockets::types::{
    IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, TcpSocket,
};
use gosched::wasip3::bindings::wit_bindgen::StreamResult;
use gosched::wasip3::bindings::wit_stream;

fn main() {
    let mut addr: SocketAddrV4 = "127.0.0.1:7878".parse().unwrap();
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
fn serve(addr: SocketAddrV4, limit: Option<u64>) -> (u64, u64) {
    let listener = TcpSocket::create(IpAddressFamily::Ipv4).expect("create socket");
    listener.bind(to_wasi(addr)).expect("bind");
    let mut incoming = listener.listen().expect("listen");
    let IpSocketAddress::Ipv4(local) = listener.get_local_address().expect("local address") else {
        unreachable!("an IPv4 listener");
    };
    let (a, b, c, d) = local.address;
    println!("listening on {a}.{b}.{c}.{d}:{}", local.port);

    let (done_tx, done_rx) = gosched::chan::<u64>(16);
    let mut accepted = 0;
    while limit.is_none_or(|n| accepted < n) {
        // Parks this goroutine only; the connections keep echoing.
        let Some(conn) = gosched::block_on(incoming.next()) else {
            break;
        };
        accepted += 1;
        let done = done_tx.clone();
        gosched::go(move || {
            let _ = done.send(echo(conn));
        });
    }
    // Stop listening, then wait for the connections still open.
    drop(incoming);
    drop(listener);
    drop(done_tx);
    (accepted, done_rx.iter().sum())
}

/// Sends back everything the peer sends until it closes its side; returns the
/// number of bytes echoed.
fn echo(conn: TcpSocket) -> u64 {
    let (mut from_peer, received) = conn.receive();
    let (mut to_peer, outgoing) = wit_stream::new::<u8>();
    let sent = conn.send(outgoing);
    let mut total = 0;
    loop {
        let (result, data) = gosched::block_on(from_peer.read(Vec::with_capacity(16 * 1024)));
        if !data.is_empty() {
            total += data.len() as u64;
            if !gosched::block_on(to_peer.write_all(data)).is_empty() {
                break; // the peer stopped reading
            }
        }
        if matches!(result, StreamResult::Dropped | StreamResult::Cancelled) {
            break; // the peer closed its side (or the connection failed)
        }
    }
    // Closing our stream ends the send; wait until it has all gone out.
    drop(to_peer);
    let _ = gosched::block_on(sent.into_future());
    drop(from_peer);
    let _ = gosched::block_on(received.into_future());
    total
}

fn to_wasi(addr: SocketAddrV4) -> IpSocketAddress {
    let [a, b, c, d] = addr.ip().octets();
    IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: addr.port(),
        address: (a, b, c, d),
    })
}

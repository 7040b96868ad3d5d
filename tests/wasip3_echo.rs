//! The WASIp3 echo server (examples/wasip3_echo.rs) under wasmtime, driven by
//! native clients over loopback: 100 connections open at once, each echoes
//! its own bytes, then the server exits by itself.
//!
//! It needs the component and wasmtime, so it is `#[ignore]`d here;
//! tools/wasip3-checks builds the example and runs it with
//! `GOSCHED_WASIP3_ECHO=<module> cargo test --test wasip3_echo -- --ignored`.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 100;

/// Kills the server if the test fails before it exits.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What connection `i` sends: a few KiB that no other connection sends.
fn message(i: usize) -> Vec<u8> {
    (0..(i + 1) * 97)
        .flat_map(|n| format!("{i}:{n};").into_bytes())
        .collect()
}

#[test]
#[ignore = "needs the wasip3_echo component and wasmtime: run by tools/wasip3-checks"]
fn hundred_concurrent_connections_echo_then_the_server_exits() {
    let module = std::env::var("GOSCHED_WASIP3_ECHO")
        .expect("GOSCHED_WASIP3_ECHO: path of the wasip3_echo example's module");
    let mut server = Server(
        Command::new("cargo-gosched")
            .args(["gosched", "runner", "--target", "wasm32-wasip2"])
            .args([&module, "127.0.0.1:0", "--connections"])
            .arg(CONNECTIONS.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start cargo-gosched (cargo install --path cargo-gosched)"),
    );

    // The server's stdout, line by line, with a timeout on each line.
    let (lines_tx, lines) = mpsc::channel();
    let stdout = server.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = lines_tx.send(line.unwrap());
        }
    });
    let first = lines
        .recv_timeout(Duration::from_secs(60))
        .expect("no 'listening on' line");
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();

    // All connections are open before any client sends a byte.
    let barrier = Arc::new(Barrier::new(CONNECTIONS));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let (addr, barrier) = (addr.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut conn = TcpStream::connect(&addr).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                barrier.wait();
                let sent = message(i);
                conn.write_all(&sent).unwrap();
                conn.shutdown(Shutdown::Write).unwrap();
                let mut echoed = Vec::new();
                conn.read_to_end(&mut echoed).unwrap();
                assert!(echoed == sent, "connection {i}: echo differs");
                sent.len()
            })
        })
        .collect();
    let bytes: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();

    // The server stops by itself once the last connection closed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "server exit: {status}");
    let last = lines.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        last,
        format!("served {CONNECTIONS} connections, echoed {bytes} bytes")
    );
}

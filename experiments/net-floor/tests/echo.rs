//! Each floor server echoes every byte: 50 clients x 200 round trips of 64 bytes at once, a
//! client that closes early, then a 4 MiB message in one write (more than one receive and,
//! for multishot, more than one provided buffer), on 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(bin: &str, mode: Option<&str>, port: u16) -> Server {
    let mut cmd = Command::new(bin);
    cmd.args(mode)
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped());
    let mut child = Server(cmd.spawn().expect("start the server"));
    let mut line = [0u8; 12];
    child
        .0
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut line)
        .expect("the server's first line");
    assert_eq!(&line, b"listening on", "{bin} {mode:?}");
    child
}

fn check(bin: &str, mode: Option<&str>, port: u16) {
    let _server = start(bin, mode, port);
    let addr = format!("127.0.0.1:{port}");
    let clients: Vec<_> = (0..50u8)
        .map(|c| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut back = [0u8; 64];
                for i in 0..200u32 {
                    let msg = [c.wrapping_add(i as u8); 64];
                    s.write_all(&msg).unwrap();
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(msg, back, "client {c}, round trip {i}");
                }
            })
        })
        .collect();
    drop(TcpStream::connect(&addr).unwrap()); // closes at once: the server closes its side
    for c in clients {
        c.join().unwrap();
    }
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let big: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
    let writer = {
        let mut s = s.try_clone().unwrap();
        let big = big.clone();
        std::thread::spawn(move || s.write_all(&big).unwrap())
    };
    let mut back = vec![0u8; big.len()];
    s.read_exact(&mut back).unwrap();
    writer.join().unwrap();
    assert!(back == big, "{bin} {mode:?}: the 4 MiB echo differs");
}

#[test]
fn epoll() {
    check(env!("CARGO_BIN_EXE_epoll-echo"), None, 7601);
}

#[test]
fn uring_oneshot() {
    check(env!("CARGO_BIN_EXE_uring-echo"), Some("oneshot"), 7602);
}

#[test]
fn uring_multishot() {
    check(env!("CARGO_BIN_EXE_uring-echo"), Some("multishot"), 7603);
}

#[test]
fn uring_multishot_batch_plain() {
    check(
        env!("CARGO_BIN_EXE_uring-echo"),
        Some("multishot+batch+plain"),
        7604,
    );
}

#[test]
fn uring_oneshot_pollfirst() {
    check(
        env!("CARGO_BIN_EXE_uring-echo"),
        Some("oneshot+pollfirst"),
        7605,
    );
}

#[test]
fn uring_multishot_fixed() {
    check(env!("CARGO_BIN_EXE_uring-echo"), Some("multishot+fixed"), 7606);
}

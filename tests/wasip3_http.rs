//! The WASIp3 HTTP service example (examples/wasip3_http.rs) under
//! `wasmtime serve`, driven by a real HTTP client (ureq) over loopback.
//!
//! It needs the component and wasmtime, so it is `#[ignore]`d here;
//! tools/wasip3-checks builds the example and runs it with
//! `GOSCHED_WASIP3_HTTP=<module> cargo test --test wasip3_http -- --ignored`.
//! Each test starts its own server on a free port.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::Agent;

/// `wasmtime serve` running the example; killed when dropped.
struct Server {
    child: Child,
    base: String,
    /// Everything the server printed on stderr so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the example on 127.0.0.1 (a free port) and waits until it
    /// listens. One instance takes every request (up to 64 at once, for ever),
    /// so that its counter and its scheduler are shared by all of them.
    fn start() -> Server {
        let module = std::env::var("GOSCHED_WASIP3_HTTP")
            .expect("GOSCHED_WASIP3_HTTP: path of the wasip3_http example's module");
        let mut child = Command::new("cargo-gosched")
            .args(["gosched", "runner", "--target", "wasm32-wasip2"])
            .args([&module, "--addr", "127.0.0.1:0"])
            .args(["--max-instance-concurrent-reuse-count", "64"])
            .args(["--max-instance-reuse-count", "1000000"])
            .args(["--idle-instance-timeout", "600s"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cargo-gosched (cargo install --path cargo-gosched)");
        // wasmtime prints "Serving HTTP on http://127.0.0.1:PORT/" on stderr.
        let (lines_tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let line = line.unwrap();
                eprintln!("server: {line}");
                keep.lock().unwrap().push(line.clone());
                let _ = lines_tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let base = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(left).expect("no 'Serving HTTP on' line");
            if let Some(url) = line.strip_prefix("Serving HTTP on ") {
                break url.trim_end_matches('/').to_owned();
            }
        };
        Server { child, base, log }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn addr(&self) -> &str {
        self.base.strip_prefix("http://").unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that reports 4xx/5xx as responses, with a bound on every request.
fn client() -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn get(agent: &Agent, url: &str) -> (u16, String) {
    let mut response = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

#[test]
#[ignore = "needs the wasip3_http component and wasmtime: run by tools/wasip3-checks"]
fn routes_answer_and_an_error_becomes_a_500_with_its_message() {
    let server = Server::start();
    let agent = client();
    assert_eq!(get(&agent, &server.url("/")), (200, "hello".to_owned()));
    assert_eq!(
        get(&agent, &server.url("/sleep?ms=5")),
        (200, "slept 5".to_owned())
    );
    assert_eq!(get(&agent, &server.url("/count")), (200, "1".to_owned()));
    let (status, body) = get(&agent, &server.url("/sleep?ms=soon"));
    assert_eq!(
        (status, body.as_str()),
        (500, "invalid digit found in string\n")
    );
    assert_eq!(get(&agent, &server.url("/nowhere")).0, 404);
}

#[test]
#[ignore = "needs the wasip3_http component and wasmtime: run by tools/wasip3-checks"]
fn sixty_four_sleeps_run_concurrently_inside_one_instance() {
    const REQUESTS: u32 = 64;
    const SLEEP_MS: u32 = 200;
    let server = Server::start();
    let agent = client();
    get(&agent, &server.url("/")); // the instance exists before the clock starts
    let start = Instant::now();
    let clients: Vec<_> = (0..REQUESTS)
        .map(|_| {
            let (agent, url) = (agent.clone(), server.url(&format!("/sleep?ms={SLEEP_MS}")));
            std::thread::spawn(move || get(&agent, &url))
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), (200, format!("slept {SLEEP_MS}")));
    }
    let elapsed = start.elapsed();
    // One after another they would take 12.8 s; together, about 200 ms plus
    // the overhead of 64 connections. A quarter of serial is a coarse bound.
    let serial = Duration::from_millis(u64::from(REQUESTS * SLEEP_MS));
    assert!(
        elapsed < serial / 4,
        "64 concurrent 200 ms sleeps took {elapsed:?} (serial: {serial:?})"
    );
}

#[test]
#[ignore = "needs the wasip3_http component and wasmtime: run by tools/wasip3-checks"]
fn a_thousand_counts_are_a_thousand_distinct_values() {
    // One client after another: `wasmtime serve` hands concurrent requests to
    // further instances when one is busy, and each instance has its own
    // counter goroutine; one client keeps them all on one instance.
    const REQUESTS: u64 = 1000;
    let server = Server::start();
    let agent = client();
    let url = server.url("/count");
    let mut values: Vec<u64> = (0..REQUESTS)
        .map(|_| {
            let (status, body) = get(&agent, &url);
            assert_eq!(status, 200);
            body.parse().unwrap()
        })
        .collect();
    values.sort_unstable();
    values.dedup();
    assert_eq!(values.len() as u64, REQUESTS, "values repeat: {values:?}");
    assert_eq!(values, (1..=REQUESTS).collect::<Vec<_>>());
}

#[test]
#[ignore = "needs the wasip3_http component and wasmtime: run by tools/wasip3-checks"]
fn echo_streams_ten_megabytes_back() {
    let server = Server::start();
    let sent: Vec<u8> = (0..10_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let (status, echoed) = post_full_duplex(server.addr(), "/echo", &sent);
    assert_eq!(status, 200);
    assert_eq!(echoed.len(), sent.len());
    assert!(echoed == sent, "the echoed bytes differ");
}

/// POSTs `body` and reads the response while the body is still being sent,
/// as an echo needs: the server sends back what it has read so far, and a
/// client that reads nothing until it has sent everything (ureq, like most
/// blocking clients) deadlocks with it once the bytes in flight exceed the
/// sockets' buffers (both sides' send queues full, each waiting for the
/// other to read; about 1 run in 20 at 10 MB here). Returns the status and
/// the (chunked) response body.
fn post_full_duplex(addr: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = conn.try_clone().unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let body = body.to_vec();
    let sender = std::thread::spawn(move || {
        writer.write_all(head.as_bytes())?;
        writer.write_all(&body)
    });
    let mut reader = BufReader::new(conn);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let n = reader.read_until(b'\n', &mut head).unwrap();
        assert!(n > 0, "the connection closed in the response head");
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    assert!(response.parse(&head).unwrap().is_complete());
    let chunked = response.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding") && h.value.eq_ignore_ascii_case(b"chunked")
    });
    assert!(chunked, "a streamed body is chunked: {response:?}");
    let mut echoed = Vec::new();
    chunked_transfer::Decoder::new(reader)
        .read_to_end(&mut echoed)
        .unwrap();
    sender.join().unwrap().expect("send the request body");
    (response.code.unwrap(), echoed)
}

#[test]
#[ignore = "needs the wasip3_http component and wasmtime: run by tools/wasip3-checks"]
fn a_client_that_hangs_up_mid_body_does_not_break_the_instance() {
    let server = Server::start();
    let agent = client();
    assert_eq!(get(&agent, &server.url("/count")).1, "1");
    for _ in 0..3 {
        // Announces 10 MB, sends 1 MB, and goes away.
        let mut conn = TcpStream::connect(server.addr()).unwrap();
        write!(
            conn,
            "POST /echo HTTP/1.1\r\nHost: {}\r\nContent-Length: 10000000\r\n\r\n",
            server.addr()
        )
        .unwrap();
        conn.write_all(&vec![b'x'; 1_000_000]).unwrap();
        drop(conn);
    }
    std::thread::sleep(Duration::from_millis(200));
    // Every route still answers. (`wasmtime serve` may hand these to a second
    // instance while the first winds the hung-up requests down; then both
    // serve on, so the counter is not a test of which one answers.)
    for _ in 0..20 {
        assert_eq!(get(&agent, &server.url("/")), (200, "hello".to_owned()));
        let (status, count) = get(&agent, &server.url("/count"));
        assert_eq!(status, 200);
        assert!(count.parse::<u64>().unwrap() >= 1);
    }
    let mut response = agent.post(&server.url("/echo")).send("still here").unwrap();
    assert_eq!(response.body_mut().read_to_string().unwrap(), "still here");
    // And no instance died: wasmtime reports a trap or a guest panic here.
    let log = server.log.lock().unwrap();
    let fatal: Vec<_> = log
        .iter()
        .filter(|line| {
            line.contains("trap")
                || line.contains("panicked")
                || line.contains("error while executing")
        })
        .collect();
    assert!(fatal.is_empty(), "the instance failed: {fatal:?}");
}

#[test]
#[ignore = "needs the wasip3_http component and wasmtime: run by tools/wasip3-checks"]
fn clients_that_read_the_head_and_hang_up_leave_no_body_write_behind() {
    const HANGUPS: usize = 50;
    let server = Server::start();
    let agent = client();
    assert_eq!(
        get(&agent, &server.url("/stats")),
        (200, "waitables 0".to_owned())
    );
    for _ in 0..HANGUPS {
        // 10 MB known up front: the detached body write is still pending
        // (the host takes the bytes as the client reads) when the client
        // goes away after the head.
        let mut conn = TcpStream::connect(server.addr()).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            conn,
            "GET /bytes?n=10000000 HTTP/1.1\r\nHost: {}\r\n\r\n",
            server.addr()
        )
        .unwrap();
        let mut head = [0u8; 64];
        let n = conn.read(&mut head).unwrap();
        assert!(head[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &head[..n]);
        drop(conn);
    }
    // The host drops each body's reading end once it has given up on the
    // client; the writes end with that, a little later.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stats = loop {
        // Several answers: `wasmtime serve` may have spread the requests
        // over more than one instance, and each has its own count.
        let stats: Vec<_> = (0..8)
            .map(|_| get(&agent, &server.url("/stats")).1)
            .collect();
        if stats.iter().all(|s| s == "waitables 0") || Instant::now() > deadline {
            break stats;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        stats.iter().all(|s| s == "waitables 0"),
        "body writes left behind: {stats:?}"
    );
    // And the instances serve on, whole.
    let (status, body) = get(&agent, &server.url("/bytes?n=100000"));
    assert_eq!((status, body.len()), (200, 100_000));
    assert_eq!(get(&agent, &server.url("/")), (200, "hello".to_owned()));
}

//! `gosched::io::stdin` parks only the reading goroutine: examples/stdin_lines
//! runs as a child process whose stdin gets a line every 150 ms, and its
//! ticker goroutine (every 10 ms) must keep ticking between the lines; the
//! goroutine dump it prints first must show main as `[IO wait]`.
//!
//! Natively the child is this test binary itself, running the example's
//! `main` in its ignored `child_runs_the_example` test. On wasm32-wasip1 the child is the example's module under cargo-gosched's runner,
//! once under wasmtime and once under Node's `node:wasi`. Those tests need
//! the module, so they are `#[ignore]`d here; tools/wasm-stdin-checks builds
//! it and runs them with `GOSCHED_STDIN_LINES_WASM=<module> cargo test --test
//! stdin -- --ignored wasip1_`. In a WASIp3 component the child is the
//! example's component under cargo-gosched's runner; tools/wasip3-checks runs that one
//! (`GOSCHED_STDIN_LINES_WASIP3=<module>`).
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const LINES: usize = 6;
const GAP: Duration = Duration::from_millis(150);

/// Kills the child if the test fails before it exits.
struct Reader(Child);

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `command` (the stdin_lines example), feeds it `LINES` lines `GAP`
/// apart, and checks what it prints.
fn feed_slowly(mut command: Command) {
    let mut child = Reader(
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the stdin_lines example"),
    );
    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = lines_tx.send(line.unwrap());
        }
    });
    let next = || {
        lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the example printed nothing for 60 s")
    };
    // (The native child is a test binary: libtest's lines come first.)
    while next() != "reading stdin, ticking every 10 ms" {}
    // The ticker's goroutine dump: main parked on its read, as Go names it.
    assert_eq!(next(), r#"goroutine 1 "main" [IO wait]"#);
    assert_eq!(next(), r#"goroutine 2 "ticker" [running]"#);

    let mut stdin = child.0.stdin.take().unwrap();
    let mut seen = Vec::new();
    let start = Instant::now();
    for i in 0..LINES {
        std::thread::sleep(GAP);
        writeln!(stdin, "message {i}").unwrap();
        stdin.flush().unwrap();
        let line = next();
        let (head, text) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("odd line: {line}"));
        assert_eq!(text, format!("message {i}"));
        let ticks: u32 = head
            .strip_prefix(&format!("line {i} after "))
            .and_then(|rest| rest.strip_suffix(" ticks"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("odd line: {line}"));
        seen.push(ticks);
    }
    let elapsed = start.elapsed();
    drop(stdin);
    let last = next();
    assert!(
        last.starts_with(&format!("end of input: {LINES} lines, ")),
        "odd last line: {last}"
    );
    let status = child.0.wait().unwrap();
    assert!(status.success(), "the example exited with {status}");

    // The ticker ran while the reader waited: ticks grew between every two
    // lines, and overall (coarsely) at half the rate or better.
    for pair in seen.windows(2) {
        assert!(pair[1] > pair[0], "no tick between two lines: {seen:?}");
    }
    let expected = (elapsed - GAP).as_millis() as u32 / 10;
    let ticked = seen[LINES - 1] - seen[0];
    assert!(
        ticked * 2 >= expected,
        "{ticked} ticks in {elapsed:?} (expected about {expected}): {seen:?}"
    );
}

#[path = "../examples/stdin_lines.rs"]
mod stdin_lines;

#[test]
#[ignore = "the child of native_reader_parks_while_the_ticker_ticks (reads stdin)"]
fn child_runs_the_example() {
    stdin_lines::main();
}

#[test]
fn native_reader_parks_while_the_ticker_ticks() {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([
        "--ignored",
        "--exact",
        "child_runs_the_example",
        "--nocapture",
        "-q",
    ]);
    feed_slowly(command);
}

fn wasip1(host: &str) -> Command {
    let module = std::env::var("GOSCHED_STDIN_LINES_WASM")
        .expect("GOSCHED_STDIN_LINES_WASM: path of the stdin_lines example's wasm32-wasip1 module");
    let mut command = Command::new("cargo-gosched");
    command
        .args(["gosched", "runner", "--target", "wasm32-wasip1"])
        .arg(module)
        .env("GOSCHED_WASM_HOST", host);
    command
}

#[test]
#[ignore = "needs the stdin_lines example's wasip1 module: run by tools/wasm-stdin-checks"]
fn wasip1_wasmtime_reader_parks_while_the_ticker_ticks() {
    feed_slowly(wasip1("wasmtime"));
}

#[test]
#[ignore = "needs the stdin_lines example's wasip1 module: run by tools/wasm-stdin-checks"]
fn wasip1_node_reader_parks_while_the_ticker_ticks() {
    feed_slowly(wasip1("node"));
}

#[test]
#[ignore = "needs the stdin_lines example's WASIp3 module: run by tools/wasip3-checks"]
fn wasip3_reader_parks_while_the_ticker_ticks() {
    let module = std::env::var("GOSCHED_STDIN_LINES_WASIP3").expect(
        "GOSCHED_STDIN_LINES_WASIP3: path of the stdin_lines example's wasm32-wasip2 module",
    );
    let mut command = Command::new("cargo-gosched");
    command
        .args(["gosched", "runner", "--target", "wasm32-wasip2"])
        .arg(module);
    feed_slowly(command);
}

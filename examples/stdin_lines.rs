//! Reads standard input line by line while a ticker goroutine keeps ticking:
//! waiting for input parks only the reading goroutine.
//!
//! ```text
//! (echo a; sleep 1; echo b) | cargo gosched run --target wasm32-wasip1 --example stdin_lines
//! ```
//!
//! The ticker goroutine starts by printing the goroutine dump, which shows
//! main waiting for input (`[IO wait]`). Each line is printed with the number
//! of ticks (every 10 ms) seen so far;
//! tests/stdin.rs feeds lines slowly and checks that the ticks went on
//! between them, under wasmtime and under Node's `node:wasi`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use gosched::{chan, select, tick};

// `pub`: tests/stdin.rs runs this in a child process too.
pub fn main() {
    gosched::run(|| {
        let ticks = Rc::new(Cell::new(0u32));
        let (quit, quit_rx) = chan::<()>(0);
        let ticker = gosched::Builder::new()
            .name("ticker".into())
            .spawn({
                let ticks = ticks.clone();
                move || {
                    // This goroutine first runs when main parks on its read.
                    println!("{}", gosched::goroutine_dump());
                    let ticker = tick(Duration::from_millis(10));
                    loop {
                        select! {
                            recv(ticker) -> _ => ticks.set(ticks.get() + 1),
                            recv(quit_rx) -> _ => return,
                        }
                    }
                }
            })
            .unwrap();
        println!("reading stdin, ticking every 10 ms");
        let mut lines = 0;
        for line in gosched::io::stdin().lines() {
            let line = line.expect("read stdin");
            println!("line {lines} after {} ticks: {line}", ticks.get());
            lines += 1;
        }
        quit.send(()).unwrap();
        ticker.join().unwrap();
        println!("end of input: {lines} lines, {} ticks", ticks.get());
    });
}

//! The Go tour's `select` example (go.dev/tour/concurrency/5), line for line:
//! a goroutine prints ten Fibonacci numbers as it receives them, then tells
//! the generator to quit.
//!
//! Run with `cargo run --example hello`.

use gosched::{chan, go, select, Receiver, Sender};

fn fibonacci(c: Sender<u64>, quit: Receiver<()>) {
    let (mut x, mut y) = (0, 1);
    loop {
        select! {
            send(c, x) -> _ => (x, y) = (y, x + y),
            recv(quit) -> _ => {
                println!("quit");
                return;
            }
        }
    }
}

fn main() {
    gosched::run(|| {
        let (c, numbers) = chan(0);
        let (quit, quit_rx) = chan(0);
        go(move || {
            for _ in 0..10 {
                println!("{}", numbers.recv().unwrap());
            }
            quit.send(()).unwrap();
        });
        fibonacci(c, quit_rx);
    });
}

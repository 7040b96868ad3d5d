//! A pipeline with fan-out and fan-in (after the Go blog's "Go Concurrency
//! Patterns: Pipelines and cancellation"): one stage generates numbers, two
//! goroutines square them, a `select!` merges both outputs.
//!
//! Run with `cargo run --example pipeline`.

use gosched::{chan, go, never, select, Receiver};

/// Sends `numbers` on a new channel, then closes it.
fn generate(numbers: Vec<u64>) -> Receiver<u64> {
    let (tx, rx) = chan(0);
    go(move || numbers.into_iter().for_each(|n| tx.send(n).unwrap()));
    rx
}

/// Squares what `input` carries until it closes.
fn square(input: Receiver<u64>) -> Receiver<u64> {
    let (tx, rx) = chan(0);
    go(move || input.iter().for_each(|n| tx.send(n * n).unwrap()));
    rx
}

/// Receives from both until both are closed.
fn merge(mut a: Receiver<u64>, mut b: Receiver<u64>) -> Vec<u64> {
    let (mut out, mut open) = (Vec::new(), 2);
    while open > 0 {
        select! {
            recv(a) -> n => match n {
                Ok(n) => out.push(n),
                // Closed: swap in a channel that never fires, like Go's nil.
                Err(_) => (a, open) = (never(), open - 1),
            },
            recv(b) -> n => match n {
                Ok(n) => out.push(n),
                Err(_) => (b, open) = (never(), open - 1),
            },
        }
    }
    out
}

// `pub`: tests/examples.rs runs this as a test too.
pub fn main() {
    gosched::run(|| {
        let numbers = generate((1..=10).collect());
        // Fan out: two squarers share one input channel.
        let (first, second) = (square(numbers.clone()), square(numbers));
        let mut squares = merge(first, second);
        squares.sort_unstable();
        println!("{squares:?}");
        assert_eq!(squares, (1..=10).map(|n| n * n).collect::<Vec<u64>>());
    });
}

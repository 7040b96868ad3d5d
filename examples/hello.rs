//! Goroutines that sleep side by side and hand their results back via join.
//!
//! Run with `cargo run --example hello`.

use std::time::Duration;

fn main() {
    gosched::run(|| {
        let start = gosched::now();
        let racers: Vec<_> = [("tortoise", 30), ("hare", 10), ("snail", 50)]
            .into_iter()
            .map(|(name, ms)| {
                gosched::Builder::new()
                    .name(name.to_owned())
                    .spawn(move || {
                        gosched::sleep(Duration::from_millis(ms));
                        let (id, me) = (gosched::current_id(), gosched::current_name());
                        println!("goroutine {id} ({}) woke after {ms} ms", me.unwrap());
                        ms
                    })
                    .expect("a stack for the goroutine")
            })
            .collect();
        let count = racers.len();
        let slept: u64 = racers.into_iter().map(|h| h.join().unwrap()).sum();
        // The sleeps overlap: main waits for the longest, not for the sum.
        let waited = gosched::now() - start;
        println!(
            "{count} goroutines slept {slept} ms in all; main waited less: {}",
            waited < Duration::from_millis(slept)
        );
    });
}

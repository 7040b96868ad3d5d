//! Ten goroutines each wait 200 ms on `wasi:clocks/monotonic-clock.wait-for`
//! (a WASIp3 async import): together they take about 200 ms, not 2 s.
//!
//! Run with `cargo gosched run --target wasm32-wasip2 --features wasip3 --example wasip3_sleeps`.

use std::time::Duration;

use gosched::wasip3::bindings::clocks::monotonic_clock;

fn main() {
    gosched::run(|| {
        let start = gosched::now();
        let (done_tx, done_rx) = gosched::chan(0);
        for i in 0..10u64 {
            let done_tx = done_tx.clone();
            gosched::go(move || {
                gosched::block_on(monotonic_clock::wait_for(200_000_000));
                done_tx.send(i).unwrap();
            });
        }
        drop(done_tx);
        let finished = done_rx.iter().count();
        let elapsed = gosched::now() - start;
        println!("{finished} goroutines waited 200 ms each, concurrently");
        assert!(elapsed < Duration::from_millis(1000), "took {elapsed:?}");
        println!("all done in {} ms", elapsed.as_millis());
    });
}

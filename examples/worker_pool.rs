//! A worker pool (after "Go by Example: Worker Pools"): three goroutines take
//! jobs from one channel and send results on another; a WaitGroup closes the
//! results when every worker is done.
//!
//! Run with `cargo run --example worker_pool`.

use std::time::Duration;

use gosched::sync::WaitGroup;
use gosched::{chan, sleep};

// `pub`: tests/examples.rs runs this as a test too.
pub fn main() {
    gosched::run(|| {
        let (jobs, queue) = chan::<u64>(100);
        let (results, done) = chan::<u64>(100);
        let workers = WaitGroup::new();
        for id in 1..=3 {
            let (queue, results) = (queue.clone(), results.clone());
            workers.go(move || {
                for job in &queue {
                    println!("worker {id} started job {job}");
                    sleep(Duration::from_millis(10)); // the "work"
                    results.send(job * 2).unwrap();
                }
            });
        }
        drop((queue, results));

        let start = gosched::now();
        for job in 1..=9 {
            jobs.send(job).unwrap();
        }
        drop(jobs); // no more jobs: the workers' loops end
        workers.wait();

        let total: u64 = done.try_iter().sum();
        let took = gosched::now() - start;
        println!("results add up to {total} after {} ms", took.as_millis());
        assert_eq!(total, 2 * (1..=9).sum::<u64>());
        // Nine 10 ms jobs on three workers take three rounds (30 ms), not nine.
        assert!(took < Duration::from_millis(85), "workers ran side by side");
    });
}

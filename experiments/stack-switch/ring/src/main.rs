//! B7's ring (examples/compare.rs) at several sizes, the same number of hops
//! each: how the cost of a hop grows with the number of goroutines that take
//! turns. Prints `RESULT <label> ring<N> ns_per_hop <value> ns` lines.
//!
//! usage: gosched-ring-sizes [label] [sizes, comma-separated; default 2,10,100,1000,10000]

const HOPS: usize = 1_000_000;

/// main -> g0 -> ... -> g(n-1) -> main over unbuffered channels, each
/// goroutine forwarding `v + 1`, laps until about `HOPS` hops.
fn ring(n: usize) -> f64 {
    let (first, mut rx) = gosched::chan::<usize>(0);
    let ring: Vec<_> = (0..n)
        .map(|_| {
            let (tx, next) = gosched::chan::<usize>(0);
            let prev = std::mem::replace(&mut rx, next);
            gosched::go(move || {
                for v in &prev {
                    tx.send(v + 1).unwrap();
                }
            })
        })
        .collect();
    let laps = HOPS / (n + 1);
    let t = gosched::now();
    for _ in 0..laps {
        first.send(0).unwrap();
        assert_eq!(rx.recv().unwrap(), n);
    }
    let per_hop = (gosched::now() - t).as_nanos() as f64 / ((n + 1) * laps) as f64;
    drop(first);
    ring.into_iter().for_each(|g| g.join().unwrap());
    per_hop
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let label = args.get(1).cloned().unwrap_or_else(|| "gosched".into());
    let sizes: Vec<usize> = args
        .get(2)
        .map_or("2,10,100,1000,10000", String::as_str)
        .split(',')
        .map(|s| s.parse().expect("sizes: comma-separated counts"))
        .collect();
    for n in sizes {
        let _warm_up = gosched::run(move || ring(n));
        for _ in 0..3 {
            let per_hop = gosched::run(move || ring(n));
            println!("RESULT\t{label}\tring{n}\tns_per_hop\t{per_hop:.1}\tns");
        }
    }
}

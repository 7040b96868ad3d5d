//! Soak tests: a million goroutine lifetimes, a million live goroutines and
//! ten million channel operations, with the memory they cost.
//!
//! They run in release builds only (`cargo test --release --test soak`; in a
//! debug build they are ignored) and print their figures: add
//! `-- --nocapture` to see them. The tests take turns ([`soak`]) because
//! they read the process's resident set size, which they share.
//!
//! The count of live goroutines is `GOSCHED_SOAK_LIVE` (default 1,000,000).
#![cfg(target_os = "linux")]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gosched::sync::WaitGroup;
use gosched::{chan, select, Receiver};

/// Runs one soak scenario at a time, each on a fresh thread that ends before
/// the next starts: they measure the RSS of the whole process, and a thread's
/// stack pool is unmapped only when the thread exits.
fn soak(scenario: impl FnOnce() + Send + 'static) {
    static SERIAL: Mutex<()> = Mutex::new(());
    let _turn = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    std::thread::spawn(scenario)
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The resident set size of this process, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line in kB");
    kib * 1024
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// RSS at the start of the measured part, its maximum and its end.
struct RssTrace {
    start: usize,
    peak: usize,
}

impl RssTrace {
    fn start() -> RssTrace {
        let start = rss();
        RssTrace { start, peak: start }
    }

    fn sample(&mut self) -> usize {
        let now = rss();
        self.peak = self.peak.max(now);
        now
    }
}

/// Goroutines started and joined per batch of the spawn/join soak.
const BATCH: usize = 100;
const CYCLES: usize = 1_000_000;
/// How much the RSS may grow over a million cycles and still be "flat": less
/// than one byte per cycle, so a leak of even one small allocation per
/// goroutine fails the test.
const FLAT_SLACK: usize = 512 * 1024;

/// Starts `BATCH` goroutines that each yield once, joins them, and returns the
/// sum of their results.
fn spawn_join_batch(first: usize) -> u64 {
    let handles: Vec<_> = (first..first + BATCH)
        .map(|i| {
            gosched::go(move || {
                gosched::yield_now();
                i as u64
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

#[test]
#[cfg_attr(debug_assertions, ignore = "soak test: run with --release")]
fn a_million_spawn_join_cycles_leave_rss_flat() {
    soak(|| {
        let began = Instant::now();
        gosched::run(move || {
            // One batch first, so the stack pool and the tables have their
            // steady-state size before the measurement starts.
            spawn_join_batch(0);
            let mut trace = RssTrace::start();
            let mut sum = 0;
            for first in (0..CYCLES).step_by(BATCH) {
                sum += spawn_join_batch(first);
                if first % (100 * BATCH) == 0 {
                    trace.sample();
                }
            }
            let end = trace.sample();
            println!(
                "soak: {CYCLES} spawn/join cycles in {:.2?}: RSS start {:.2} MiB, \
                 peak {:.2} MiB, end {:.2} MiB",
                began.elapsed(),
                mib(trace.start),
                mib(trace.peak),
                mib(end)
            );
            assert_eq!(sum, (CYCLES as u64 - 1) * CYCLES as u64 / 2);
            assert_eq!(gosched::num_goroutines(), 1);
            assert!(
                end <= trace.start + FLAT_SLACK,
                "RSS grew from {} to {end} bytes over {CYCLES} cycles",
                trace.start
            );
        })
    });
}

/// Each parked goroutine costs its record and one page of slab stack; more
/// than this per goroutine means stacks are touched deeper than the first page
/// or records grew.
const MAX_BYTES_PER_PARKED_GOROUTINE: usize = 8 * 1024;

fn live_goroutines() -> usize {
    std::env::var("GOSCHED_SOAK_LIVE")
        .ok()
        .map(|v| v.parse().expect("GOSCHED_SOAK_LIVE is a count"))
        .unwrap_or(1_000_000)
}

#[test]
#[cfg_attr(debug_assertions, ignore = "soak test: run with --release")]
fn a_million_parked_goroutines_on_unguarded_stacks() {
    let n = live_goroutines();
    soak(move || {
        let before = rss();
        let began = Instant::now();
        // SAFETY: these goroutines use a few hundred bytes of their 16 KiB stacks.
        let rt = unsafe {
            gosched::Runtime::new()
                .stack_size(16 * 1024)
                .unguarded_stacks()
        };
        let (parked, all_parked_after) = rt.run(move || {
            let gate = WaitGroup::new();
            gate.add(1);
            let done = WaitGroup::new();
            let finished = Rc::new(Cell::new(0usize));
            for _ in 0..n {
                let (gate, finished) = (gate.clone(), finished.clone());
                done.go(move || {
                    gate.wait();
                    // A million timers at once, then a million wake-ups.
                    gosched::sleep(Duration::from_millis(1));
                    finished.set(finished.get() + 1);
                });
            }
            // The goroutines queued before this one all run (and park) first.
            gosched::yield_now();
            let parked = rss();
            let all_parked_after = began.elapsed();
            assert_eq!(gosched::num_goroutines(), n + 1);
            assert_eq!(finished.get(), 0);
            gate.done();
            done.wait();
            assert_eq!(finished.get(), n);
            (parked, all_parked_after)
        });
        let per_goroutine = parked.saturating_sub(before) / n;
        println!(
            "soak: {n} parked goroutines (16 KiB unguarded stacks) after {all_parked_after:.2?}, \
             all done after {:.2?}: RSS before {:.2} MiB, parked {:.2} MiB, after {:.2} MiB; \
             {per_goroutine} bytes per goroutine",
            began.elapsed(),
            mib(before),
            mib(parked),
            mib(rss()),
        );
        assert!(
            per_goroutine <= MAX_BYTES_PER_PARKED_GOROUTINE,
            "{per_goroutine} bytes per parked goroutine"
        );
    });
}

/// Address space the process has mapped (`VmSize`), in bytes.
fn mapped_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmSize:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|n| n.trim().parse().ok())
        .expect("VmSize in /proc/self/status");
    kib * 1024
}

/// Goroutines still parked when `run` returns are unwound and their stacks
/// pooled: running that again and again maps no new stacks. (A soak test so
/// that no other test maps memory meanwhile.)
#[test]
#[cfg_attr(debug_assertions, ignore = "soak test: run with --release")]
fn stacks_of_unwound_goroutines_go_back_to_the_pool() {
    // A size no other test uses, so that these stacks have a bucket (and
    // chunks) of their own.
    const STACK: usize = 5 * 64 * 1024;
    const PARKED: usize = 20;
    soak(|| {
        let round = || {
            gosched::Runtime::new().stack_size(STACK).run(|| {
                for _ in 0..PARKED {
                    gosched::go(|| gosched::sleep(Duration::from_secs(3600)));
                }
                gosched::yield_now();
            })
        };
        round();
        let before = mapped_bytes();
        for _ in 0..100 {
            round();
        }
        // A leak of the 21 stacks a round uses would map 100 x 21 x 324 KiB
        // (about 660 MiB, in chunks of 64 stacks); the pool maps nothing new.
        let grown = mapped_bytes().saturating_sub(before);
        assert!(
            grown < 64 * (STACK + 4096),
            "stacks of unwound goroutines were not reused: {} MiB more mapped",
            grown >> 20
        );
    });
}

/// Goroutines of the channel soak: as many producers as consumers.
const CHAN_GOROUTINES: usize = 1000;
/// Values each producer sends: 500 x 10,000 = 5M values, 10M operations.
const PER_PRODUCER: usize = 10_000;
/// Rendezvous, nearly rendezvous, small and large buffers.
const CAPS: [usize; 8] = [0, 1, 16, 256, 0, 1, 16, 256];

/// Takes values from `a` and `b` (a select while both are open) until both
/// are closed; marks each in `seen` and fails on a value seen twice.
fn consume(a: Receiver<u32>, b: Option<Receiver<u32>>, seen: &RefCell<Vec<u64>>) -> usize {
    let mark = |v: u32| {
        let (word, bit) = (v as usize / 64, v % 64);
        let mut seen = seen.borrow_mut();
        assert_eq!(seen[word] >> bit & 1, 0, "value {v} received twice");
        seen[word] |= 1 << bit;
    };
    let mut received = 0;
    let (mut a, mut b) = (Some(a), b);
    loop {
        // A closed side is swapped for `never()`, Go's nil channel.
        let (ra, rb) = match (&a, &b) {
            (None, None) => return received,
            (Some(ra), None) | (None, Some(ra)) => match ra.recv() {
                Ok(v) => {
                    mark(v);
                    received += 1;
                    continue;
                }
                Err(_) => return received,
            },
            (Some(ra), Some(rb)) => (ra.clone(), rb.clone()),
        };
        select! {
            recv(ra) -> v => match v {
                Ok(v) => { mark(v); received += 1; }
                Err(_) => a = None,
            },
            recv(rb) -> v => match v {
                Ok(v) => { mark(v); received += 1; }
                Err(_) => b = None,
            },
        }
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "soak test: run with --release")]
fn ten_million_channel_operations_lose_no_value() {
    soak(|| {
        let began = Instant::now();
        gosched::run(move || {
            let mut trace = RssTrace::start();
            let ends: Vec<_> = CAPS.iter().map(|&cap| chan::<u32>(cap)).collect();
            let producers = CHAN_GOROUTINES / 2;
            let values = producers * PER_PRODUCER;
            let seen = Rc::new(RefCell::new(vec![0u64; values.div_ceil(64)]));
            let sent = Rc::new(Cell::new(0usize));
            let consumers: Vec<_> = (0..CHAN_GOROUTINES - producers)
                .map(|c| {
                    let a = ends[c % CAPS.len()].1.clone();
                    // Every other consumer selects over two channels.
                    let b = (c % 2 == 1).then(|| ends[(c + 1) % CAPS.len()].1.clone());
                    let seen = seen.clone();
                    gosched::go(move || consume(a, b, &seen))
                })
                .collect();
            for p in 0..producers {
                let a = ends[p % CAPS.len()].0.clone();
                let b = ends[(p + 3) % CAPS.len()].0.clone();
                let sent = sent.clone();
                gosched::go(move || {
                    for i in 0..PER_PRODUCER {
                        let v = (p * PER_PRODUCER + i) as u32;
                        // Every other producer selects between two channels.
                        let ok = if p % 2 == 0 {
                            a.send(v).is_ok()
                        } else {
                            select! {
                                send(a, v) -> r => r.is_ok(),
                                send(b, v) -> r => r.is_ok(),
                            }
                        };
                        assert!(ok, "a channel closed while its producers still sent");
                        sent.set(sent.get() + 1);
                    }
                });
            }
            // The producers hold the only senders now: channels close as they finish.
            drop(ends);
            trace.sample();
            let received: usize = consumers.into_iter().map(|h| h.join().unwrap()).sum();
            let end = trace.sample();
            println!(
                "soak: {} channel operations across {CHAN_GOROUTINES} goroutines in {:.2?}: \
                 RSS start {:.2} MiB, peak {:.2} MiB, end {:.2} MiB",
                sent.get() + received,
                began.elapsed(),
                mib(trace.start),
                mib(trace.peak),
                mib(end)
            );
            assert_eq!(sent.get(), values);
            assert_eq!(received, values);
            let seen = seen.borrow();
            let missing = (0..values).find(|&v| seen[v / 64] >> (v % 64) & 1 == 0);
            assert_eq!(missing, None, "a value sent was never received");
        });
    });
}

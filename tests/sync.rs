//! gosched::sync: Mutex, RwLock, WaitGroup, Once, Semaphore and Cond between
//! goroutines.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use gosched::sync::{Cond, Mutex, Once, RwLock, Semaphore, WaitGroup};
use gosched::{go, yield_now, JoinHandle};

/// Counts the allocations of each thread, so that a test can check that a
/// stretch of code allocates nothing (tests run on parallel threads).
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates to the system allocator; the counter is a const-initialised
// thread-local without destructor, which never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn join_all<T>(hs: impl IntoIterator<Item = JoinHandle<T>>) -> Vec<T> {
    hs.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Tracks how many goroutines are inside a section, and the most at once.
#[derive(Default)]
struct Occupancy {
    now: Cell<usize>,
    max: Cell<usize>,
}

impl Occupancy {
    fn enter(&self) {
        self.now.set(self.now.get() + 1);
        self.max.set(self.max.get().max(self.now.get()));
    }

    fn leave(&self) {
        self.now.set(self.now.get() - 1);
    }
}

#[test]
fn mutex_excludes_across_yields() {
    let (count, max_inside) = gosched::run(|| {
        let m = Rc::new(Mutex::new(0u32));
        let inside = Rc::new(Occupancy::default());
        let hs = (0..100).map(|_| {
            let (m, inside) = (m.clone(), inside.clone());
            go(move || {
                for _ in 0..10 {
                    let mut n = m.lock();
                    inside.enter();
                    let seen = *n;
                    yield_now();
                    *n = seen + 1;
                    inside.leave();
                }
            })
        });
        join_all(hs.collect::<Vec<_>>());
        let n = *m.lock();
        (n, inside.max.get())
    });
    assert_eq!(count, 1000, "no update was lost");
    assert_eq!(max_inside, 1);
}

#[test]
fn mutex_hands_off_in_fifo_order_and_unlockers_cannot_barge() {
    let order = gosched::run(|| {
        let m = Rc::new(Mutex::new(Vec::new()));
        let first = m.lock();
        let hs: Vec<_> = (0..5)
            .map(|i| {
                let m = m.clone();
                go(move || m.lock().push(i))
            })
            .collect();
        yield_now(); // all five park, in spawn order
        drop(first);
        // Main asks again at once, but the five were first.
        m.lock().push(99);
        join_all(hs);
        let v = m.lock().clone();
        v
    });
    assert_eq!(order, [0, 1, 2, 3, 4, 99]);
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
fn panicking_holders_release_their_locks_and_permits() {
    gosched::run(|| {
        let m = Rc::new(Mutex::new(Vec::new()));
        let l = Rc::new(RwLock::new(0));
        let sem = Rc::new(Semaphore::new(1));
        let (m1, l1, s1) = (m.clone(), l.clone(), sem.clone());
        let bad = go(move || {
            let mut v = m1.lock();
            let _w = l1.write();
            let _p = s1.acquire();
            v.push("bad");
            yield_now();
            panic!("expected test panic");
        });
        yield_now(); // `bad` holds all three
        let (m2, l2, s2) = (m.clone(), l.clone(), sem.clone());
        let waiter = go(move || {
            m2.lock().push("waiter");
            *l2.write() += 1;
            drop(s2.acquire());
        });
        assert!(bad.join().is_err());
        waiter.join().unwrap();
        assert_eq!(*m.lock(), ["bad", "waiter"]);
        assert_eq!(*l.read(), 1);
        assert_eq!(sem.available_permits(), 1);
        // The scheduler goes on as usual.
        assert_eq!(go(|| 7).join().unwrap(), 7);
    });
}

#[test]
fn waitgroup_waits_for_a_thousand_goroutines() {
    let (finished, waiters_released) = gosched::run(|| {
        let wg = WaitGroup::new();
        let finished = Rc::new(Cell::new(0));
        for i in 0..1000 {
            wg.add(1);
            let (wg, finished) = (wg.clone(), finished.clone());
            go(move || {
                for _ in 0..i % 7 {
                    yield_now();
                }
                finished.set(finished.get() + 1);
                wg.done();
            });
        }
        // Several goroutines may wait on one group.
        let extra: Vec<_> = (0..3)
            .map(|_| {
                let (wg, finished) = (wg.clone(), finished.clone());
                go(move || {
                    wg.wait();
                    finished.get()
                })
            })
            .collect();
        wg.wait();
        assert_eq!(wg.count(), 0);
        (finished.get(), join_all(extra))
    });
    assert_eq!(finished, 1000);
    assert_eq!(waiters_released, [1000, 1000, 1000]);
}

#[test]
fn waitgroup_go_counts_its_goroutines() {
    let sum = gosched::run(|| {
        let wg = WaitGroup::new();
        let sum = Rc::new(Cell::new(0u64));
        for i in 1..=100 {
            let sum = sum.clone();
            wg.go(move || {
                gosched::sleep(Duration::from_millis(i % 3));
                sum.set(sum.get() + i);
            });
        }
        wg.wait();
        sum.get()
    });
    assert_eq!(sum, 5050);
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
fn waitgroup_negative_counter_panics_like_go() {
    let err = catch_unwind(|| {
        let wg = WaitGroup::new();
        wg.add(2);
        wg.add(-3);
    })
    .unwrap_err();
    assert_eq!(
        err.downcast_ref::<&str>(),
        Some(&"sync: negative WaitGroup counter")
    );
}

#[test]
fn rwlock_readers_share_and_writers_exclude() {
    let (max_readers, max_writers, total) = gosched::run(|| {
        let l = Rc::new(RwLock::new(0u32));
        let readers = Rc::new(Occupancy::default());
        let writers = Rc::new(Occupancy::default());
        let mut hs = Vec::new();
        for i in 0..30 {
            let (l, readers, writers) = (l.clone(), readers.clone(), writers.clone());
            hs.push(go(move || {
                for _ in 0..5 {
                    if i % 10 == 0 {
                        let mut w = l.write();
                        writers.enter();
                        assert_eq!(readers.now.get(), 0, "a reader is inside with a writer");
                        yield_now();
                        *w += 1;
                        writers.leave();
                    } else {
                        let _r = l.read();
                        readers.enter();
                        assert_eq!(writers.now.get(), 0, "a writer is inside with readers");
                        yield_now();
                        yield_now();
                        readers.leave();
                    }
                }
            }));
        }
        join_all(hs);
        let total = *l.read();
        (readers.max.get(), writers.max.get(), total)
    });
    assert_eq!(max_writers, 1);
    assert!(max_readers > 1, "readers never shared the lock");
    assert_eq!(total, 15);
}

#[test]
fn rwlock_all_readers_inside_at_once() {
    let max = gosched::run(|| {
        let l = Rc::new(RwLock::new(()));
        let inside = Rc::new(Occupancy::default());
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let (l, inside) = (l.clone(), inside.clone());
                go(move || {
                    let _r = l.read();
                    inside.enter();
                    gosched::sleep(Duration::from_millis(2));
                    inside.leave();
                })
            })
            .collect();
        join_all(hs);
        inside.max.get()
    });
    assert_eq!(max, 50);
}

#[test]
fn rwlock_writer_is_not_starved_by_a_stream_of_readers() {
    let reads_before_write = gosched::run(|| {
        let l = Rc::new(RwLock::new(()));
        let reads = Rc::new(Cell::new(0u32));
        // Four readers overlap so that the lock is never free of readers.
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (l, reads) = (l.clone(), reads.clone());
                go(move || {
                    for _ in 0..500 {
                        let _r = l.read();
                        reads.set(reads.get() + 1);
                        yield_now();
                    }
                })
            })
            .collect();
        yield_now();
        drop(l.write());
        let seen = reads.get();
        join_all(readers);
        seen
    });
    assert!(
        reads_before_write < 100,
        "the writer waited for {reads_before_write} of 2000 reads"
    );
}

#[test]
fn once_runs_once_and_parks_concurrent_callers() {
    let (runs, seen) = gosched::run(|| {
        let once = Rc::new(Once::new());
        let value = Rc::new(Cell::new(0));
        let runs = Rc::new(Cell::new(0));
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let (once, value, runs) = (once.clone(), value.clone(), runs.clone());
                go(move || {
                    once.call_once(|| {
                        runs.set(runs.get() + 1);
                        // Park mid-way: the other callers arrive meanwhile.
                        gosched::sleep(Duration::from_millis(5));
                        value.set(42);
                    });
                    assert!(once.is_completed());
                    value.get()
                })
            })
            .collect();
        (runs, join_all(hs))
    });
    assert_eq!(runs.get(), 1);
    assert_eq!(seen, [42; 10], "every caller returned after the init");
}

#[test]
fn semaphore_bounds_concurrency() {
    let (max, permits_after) = gosched::run(|| {
        let sem = Rc::new(Semaphore::new(3));
        let inside = Rc::new(Occupancy::default());
        let hs: Vec<_> = (0..20)
            .map(|i| {
                let (sem, inside) = (sem.clone(), inside.clone());
                go(move || {
                    let _permit = sem.acquire();
                    inside.enter();
                    for _ in 0..=i % 4 {
                        yield_now();
                    }
                    inside.leave();
                })
            })
            .collect();
        join_all(hs);
        (inside.max.get(), sem.available_permits())
    });
    assert_eq!(max, 3);
    assert_eq!(permits_after, 3);
}

#[test]
fn semaphore_serves_waiters_in_order() {
    let order = gosched::run(|| {
        let sem = Rc::new(Semaphore::new(0));
        let log = Rc::new(RefCell::new(Vec::new()));
        let hs: Vec<_> = (0..5)
            .map(|i| {
                let (sem, log) = (sem.clone(), log.clone());
                go(move || {
                    sem.acquire().forget();
                    log.borrow_mut().push(i);
                })
            })
            .collect();
        yield_now();
        for _ in 0..5 {
            sem.add_permits(1);
            yield_now();
        }
        join_all(hs);
        let v = log.borrow().clone();
        v
    });
    assert_eq!(order, [0, 1, 2, 3, 4]);
}

#[test]
fn cond_producers_and_consumers_through_a_bounded_buffer() {
    const CAP: usize = 4;
    struct Buffer {
        items: Mutex<(VecDeque<u64>, usize)>, // (queue, producers still running)
        not_empty: Cond,
        not_full: Cond,
    }
    let (sum, received) = gosched::run(|| {
        let buf = Rc::new(Buffer {
            items: Mutex::new((VecDeque::new(), 3)),
            not_empty: Cond::new(),
            not_full: Cond::new(),
        });
        let producers: Vec<_> = (0..3u64)
            .map(|p| {
                let buf = buf.clone();
                go(move || {
                    for i in 0..200 {
                        let mut g = buf
                            .not_full
                            .wait_while(buf.items.lock(), |(q, _)| q.len() == CAP);
                        g.0.push_back(p * 1000 + i);
                        assert!(g.0.len() <= CAP);
                        drop(g);
                        buf.not_empty.signal();
                    }
                    buf.items.lock().1 -= 1;
                    buf.not_empty.broadcast();
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let buf = buf.clone();
                go(move || {
                    let (mut sum, mut n) = (0, 0);
                    loop {
                        let mut g = buf.items.lock();
                        while g.0.is_empty() && g.1 > 0 {
                            g = buf.not_empty.wait(g);
                        }
                        let Some(x) = g.0.pop_front() else { break };
                        drop(g);
                        buf.not_full.signal();
                        sum += x;
                        n += 1;
                        if n % 3 == 0 {
                            yield_now();
                        }
                    }
                    (sum, n)
                })
            })
            .collect();
        join_all(producers);
        let per_consumer = join_all(consumers);
        assert!(
            per_consumer.iter().all(|&(_, n)| n > 0),
            "both consumers got items"
        );
        per_consumer
            .iter()
            .fold((0, 0), |(s, n), &(s1, n1)| (s + s1, n + n1))
    });
    let expected: u64 = (0..3u64)
        .flat_map(|p| (0..200).map(move |i| p * 1000 + i))
        .sum();
    assert_eq!((sum, received), (expected, 600));
}

#[test]
fn cond_wait_timeout_reports_timeout_and_signal() {
    gosched::run(|| {
        let pair = Rc::new((Mutex::new(0), Cond::new()));
        let (g, timed_out) = pair.1.wait_timeout(pair.0.lock(), Duration::from_millis(2));
        assert!(timed_out);
        drop(g);
        let p = pair.clone();
        go(move || {
            *p.0.lock() = 1;
            p.1.signal();
        });
        let (g, timed_out) = pair.1.wait_timeout(pair.0.lock(), Duration::from_secs(60));
        assert!(!timed_out);
        assert_eq!(*g, 1);
    });
}

#[test]
fn uncontended_operations_do_not_allocate() {
    gosched::run(|| {
        let m = Mutex::new(0u64);
        let l = RwLock::new(0u64);
        let sem = Semaphore::new(1);
        let wg = WaitGroup::new();
        let once = Once::new();
        let cond = Cond::new();
        let before = allocations();
        for _ in 0..1000 {
            *m.lock() += 1;
            drop(m.try_lock());
            *l.write() += 1;
            let r = (l.read(), l.try_read());
            drop(r);
            drop(sem.acquire());
            drop(sem.try_acquire());
            wg.add(1);
            wg.done();
            wg.wait();
            once.call_once(|| ());
            cond.signal();
            cond.broadcast();
        }
        assert_eq!(allocations() - before, 0);
        assert_eq!((*m.lock(), *l.read()), (1000, 1000));
    });
}

#[test]
fn uncontended_use_outside_a_goroutine() {
    let m = Mutex::new(1);
    *m.lock() += 1;
    let l = RwLock::new(m.into_inner());
    let once = Once::new();
    once.call_once(|| *l.write() += 1);
    let sem = Semaphore::new(1);
    let _p = sem.acquire();
    let wg = WaitGroup::new();
    wg.wait();
    assert_eq!(l.into_inner(), 3);
}

/// Runs `scenario` (which must deadlock) and returns the dump's goroutine lines.
fn deadlock_dump(scenario: impl FnOnce() + 'static) -> Vec<String> {
    let err = catch_unwind(AssertUnwindSafe(|| gosched::run(scenario))).unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .expect("the deadlock panic carries a String");
    let dump = msg
        .strip_prefix("all goroutines are asleep - deadlock!\n")
        .unwrap_or_else(|| panic!("not a deadlock report: {msg}"));
    dump.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Starts a goroutine named `name` that blocks in `block`.
fn blocked(name: &str, block: impl FnOnce() + 'static) -> JoinHandle<()> {
    gosched::Builder::new()
        .name(name.into())
        .spawn(block)
        .unwrap()
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
fn deadlock_dump_names_each_primitive() {
    let dump = deadlock_dump(|| {
        let m = Rc::new(Mutex::new(()));
        let l = Rc::new(RwLock::new(()));
        let sem = Rc::new(Semaphore::new(0));
        let wg = WaitGroup::new();
        let pair = Rc::new((Mutex::new(()), Cond::new()));
        let once = Rc::new(Once::new());
        let _m = m.lock();
        let _l = l.write();
        wg.add(1);
        let m2 = m.clone();
        blocked("m", move || drop(m2.lock()));
        let l2 = l.clone();
        blocked("r", move || drop(l2.read()));
        blocked("s", move || drop(sem.acquire()));
        let wg2 = wg.clone();
        blocked("w", move || wg2.wait());
        blocked("c", move || drop(pair.1.wait(pair.0.lock())));
        let (o, m3) = (once.clone(), m.clone());
        blocked("o1", move || o.call_once(|| drop(m3.lock())));
        yield_now();
        let o = once.clone();
        blocked("o2", move || o.call_once(|| ()));
        yield_now();
        wg.wait();
    });
    assert_eq!(
        dump,
        [
            r#"goroutine 1 "main" [waitgroup]"#,
            r#"goroutine 2 "m" [mutex]"#,
            r#"goroutine 3 "r" [rwlock]"#,
            r#"goroutine 4 "s" [semaphore]"#,
            r#"goroutine 5 "w" [waitgroup]"#,
            r#"goroutine 6 "c" [cond]"#,
            r#"goroutine 7 "o1" [mutex]"#,
            r#"goroutine 8 "o2" [once]"#,
        ]
    );
}

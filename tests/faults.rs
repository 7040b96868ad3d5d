//! Faults: goroutines that panic (holding a lock, inside a select, with others
//! waiting on their channel), destructors that panic (of several buffered or
//! unsent values at once), dropped join handles, goroutines still parked
//! when `run` ends, and channels or locks that outlive the runtime that parked
//! goroutines on them. After each fault the scheduler must go on working, no
//! value that a send reported delivered may be lost, and every value must be
//! dropped exactly once.
//!
//! Deliberate panics use `resume_unwind`, which skips the panic hook, so the
//! test output stays readable; one test panics with `panic!` to cover the
//! hook path.
//!
//! Native only (`panic = "unwind"`): on wasm a panic aborts, and the runtime
//! abandons goroutines alive at shutdown without running their destructors.
#![cfg(panic = "unwind")]

use std::cell::{Cell, RefCell};
use std::future;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use gosched::sync::{Mutex, RwLock, Semaphore, WaitGroup};
use gosched::{chan, go, run, select, yield_now, RecvError};

/// Counts the drops of the [`Token`]s it hands out.
#[derive(Clone, Default)]
struct Drops(Rc<Cell<usize>>);

impl Drops {
    fn token(&self) -> Token {
        Token(self.0.clone())
    }

    fn count(&self) -> usize {
        self.0.get()
    }
}

struct Token(Rc<Cell<usize>>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// A value that records, by id, how often it was dropped.
struct Tracked {
    id: usize,
    drops: Rc<RefCell<Vec<u32>>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.borrow_mut()[self.id] += 1;
    }
}

/// Panics without running the panic hook.
fn fail(message: &'static str) -> ! {
    panic::resume_unwind(Box::new(message))
}

fn message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<not a string>")
}

/// The scheduler still spawns, switches, parks on channels and joins.
fn assert_scheduler_works() {
    let (tx, rx) = chan::<u64>(0);
    let hs: Vec<_> = (0..10u64)
        .map(|i| {
            let tx = tx.clone();
            go(move || {
                yield_now();
                tx.send(i).unwrap();
            })
        })
        .collect();
    drop(tx);
    assert_eq!(rx.iter().sum::<u64>(), 45);
    hs.into_iter().for_each(|h| h.join().unwrap());
    gosched::sleep(Duration::from_millis(1));
}

#[test]
fn a_panic_while_holding_a_mutex_hands_it_to_the_next_waiter() {
    run(|| {
        let m = Rc::new(Mutex::new(Vec::new()));
        let m1 = m.clone();
        let holder = go(move || {
            let mut v = m1.lock();
            v.push("holder");
            yield_now(); // the waiter queues up behind the lock
            panic!("deliberate panic while holding the mutex");
        });
        let m2 = m.clone();
        let waiter = go(move || m2.lock().push("waiter"));
        let err = holder.join().unwrap_err();
        assert_eq!(message(&*err), "deliberate panic while holding the mutex");
        waiter.join().unwrap();
        assert!(!m.is_locked());
        assert_eq!(*m.lock(), ["holder", "waiter"]);
        assert_scheduler_works();
    });
}

#[test]
fn panics_holding_rwlock_guards_and_semaphore_permits_release_them() {
    run(|| {
        let lock = Rc::new(RwLock::new(0));
        let sem = Rc::new(Semaphore::new(1));
        let (l, s) = (lock.clone(), sem.clone());
        let reader = go(move || {
            let _r = l.read();
            let _p = s.acquire();
            yield_now();
            fail("reader")
        });
        let (l, s) = (lock.clone(), sem.clone());
        let writer = go(move || {
            *l.write() += 1;
            let _p = s.acquire();
            fail("writer")
        });
        assert!(reader.join().is_err());
        assert!(writer.join().is_err());
        assert_eq!(*lock.read(), 1);
        assert_eq!(sem.available_permits(), 1);
        assert!(lock.try_write().is_some());
        assert_scheduler_works();
    });
}

#[test]
fn a_panic_in_a_select_body_leaves_its_channels_working() {
    run(|| {
        let (tx_a, rx_a) = chan::<u32>(1);
        let (tx_b, rx_b) = chan::<u32>(0);
        tx_a.send(1).unwrap();
        let drops = Drops::default();
        let (ra, tb, d) = (rx_a.clone(), tx_b.clone(), drops.clone());
        let h = go(move || {
            let unsent = d.token();
            select! {
                recv(ra) -> _ => fail("in the select body"),
                send(tb, 7) -> _ => drop(unsent),
            }
        });
        assert_eq!(message(&*h.join().unwrap_err()), "in the select body");
        // The panicking goroutine's values were dropped, not leaked.
        assert_eq!(drops.count(), 1);
        // Both channels still work, from both sides.
        tx_a.send(2).unwrap();
        assert_eq!(rx_a.recv(), Ok(2));
        let r = go(move || rx_b.recv());
        tx_b.send(3).unwrap();
        assert_eq!(r.join().unwrap(), Ok(3));
        assert_scheduler_works();
    });
}

fn failing_operand() -> u32 {
    fail("evaluating a select operand")
}

#[test]
fn a_panic_while_evaluating_a_select_operand_registers_nothing() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        let t = tx.clone();
        let h = go(move || {
            select! {
                send(t, 1) -> _ => {},
                send(t, failing_operand()) -> _ => {},
            }
        });
        assert!(h.join().is_err());
        // Had the panicking select left a sender queued, this receive would
        // take its value instead of blocking until the send below.
        assert!(rx.try_recv().is_err());
        let s = go(move || tx.send(2));
        assert_eq!(rx.recv(), Ok(2));
        s.join().unwrap().unwrap();
    });
}

#[test]
fn a_sender_that_panics_closes_its_channel_after_every_value_it_sent() {
    run(|| {
        let (tx, rx) = chan::<u32>(2);
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                go(move || rx.iter().collect::<Vec<_>>())
            })
            .collect();
        drop(rx);
        yield_now(); // all four park in recv
        let producer = go(move || {
            for v in 0..10 {
                tx.send(v).unwrap();
            }
            fail("producer")
        });
        assert!(producer.join().is_err());
        let mut got: Vec<u32> = receivers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert_scheduler_works();
    });
}

#[test]
fn senders_waiting_on_a_receiver_that_panics_get_their_values_back() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        let senders: Vec<_> = (0..3)
            .map(|i| {
                let tx = tx.clone();
                go(move || tx.send(i).map_err(|e| e.0))
            })
            .collect();
        drop(tx);
        yield_now(); // all three park in send
        let consumer = go(move || {
            let first = rx.recv().unwrap();
            if first < 10 {
                fail("consumer");
            }
        });
        assert!(consumer.join().is_err());
        let mut results: Vec<_> = senders.into_iter().map(|h| h.join().unwrap()).collect();
        results.sort();
        // One value was delivered (and received); the others come back.
        assert_eq!(results, [Ok(()), Err(1), Err(2)]);
        assert_scheduler_works();
    });
}

#[test]
fn values_are_received_or_dropped_exactly_once_when_receivers_panic() {
    const N: usize = 200;
    let drops = Rc::new(RefCell::new(vec![0u32; N]));
    let received = Rc::new(RefCell::new(vec![0u32; N]));
    let (d, r) = (drops.clone(), received.clone());
    run(move || {
        let (tx, rx) = chan::<Tracked>(8);
        let consumers: Vec<_> = (0..4)
            .map(|k| {
                let (rx, r) = (rx.clone(), r.clone());
                go(move || {
                    for (n, v) in rx.iter().enumerate() {
                        r.borrow_mut()[v.id] += 1;
                        // Consumer 0 dies holding a value, after a few.
                        if k == 0 && n == 5 {
                            fail("consumer");
                        }
                    }
                })
            })
            .collect();
        drop(rx);
        for id in 0..N {
            let sent = tx.send(Tracked {
                id,
                drops: d.clone(),
            });
            assert!(sent.is_ok(), "a receiver is left: every send is delivered");
        }
        drop(tx);
        let panicked = consumers
            .into_iter()
            .map(|h| h.join())
            .filter(Result::is_err)
            .count();
        assert_eq!(panicked, 1);
    });
    assert!(
        received.borrow().iter().all(|&n| n == 1),
        "each value received once"
    );
    assert!(
        drops.borrow().iter().all(|&n| n == 1),
        "each value dropped once"
    );
}

#[test]
fn a_dropped_join_handle_detaches_the_goroutine() {
    let drops = Drops::default();
    let d = drops.clone();
    run(move || {
        let finished = Rc::new(Cell::new(false));
        let f = finished.clone();
        let token = d.token();
        drop(go(move || {
            gosched::sleep(Duration::from_millis(2));
            f.set(true);
            token // the result nobody will take
        }));
        drop(go(|| fail("detached")));
        gosched::sleep(Duration::from_millis(20));
        assert!(finished.get());
        assert_eq!(d.count(), 1, "the unclaimed result is dropped once");
        assert_eq!(gosched::num_goroutines(), 1);
        assert_scheduler_works();
    });
    assert_eq!(drops.count(), 1);
}

#[test]
fn a_thousand_panicking_goroutines_leave_the_scheduler_working() {
    run(|| {
        let handles: Vec<_> = (0..1000)
            .map(|i| {
                go(move || {
                    if i % 3 == 0 {
                        yield_now();
                    }
                    fail("one of many")
                })
            })
            .collect();
        let failed = handles.into_iter().map(|h| h.join());
        assert_eq!(failed.filter(Result::is_err).count(), 1000);
        assert_eq!(gosched::num_goroutines(), 1);
        assert_scheduler_works();
    });
}

/// Starts goroutines that wait in every way there is, plus one that stays
/// runnable and one that never starts; returns how many (each holds a token
/// and counts itself in `resumed` if it ever gets past its wait). One of them
/// joins a further goroutine, which holds no token.
fn park_everywhere(drops: &Drops, resumed: &Rc<Cell<usize>>) -> usize {
    let mut started = 0;
    let mut spawn = |wait: Box<dyn FnOnce()>| {
        let (token, resumed) = (drops.token(), resumed.clone());
        started += 1;
        go(move || {
            let _token = token;
            wait();
            resumed.set(resumed.get() + 1);
        });
    };
    spawn(Box::new(|| gosched::sleep(Duration::from_secs(3600))));
    spawn(Box::new(|| {
        let (tx, _rx) = chan::<u32>(0);
        let _ = tx.send(1);
    }));
    spawn(Box::new(|| {
        let (_tx, rx) = chan::<u32>(0);
        let _ = rx.recv();
    }));
    spawn(Box::new(|| {
        let (_ta, ra) = chan::<u32>(1);
        let (tb, _rb) = chan::<u32>(0);
        select! {
            recv(ra) -> _ => {},
            send(tb, 1) -> _ => {},
        }
    }));
    let mutex = Rc::new(Mutex::new(()));
    let m = mutex.clone();
    spawn(Box::new(move || {
        let _held = m.lock();
        gosched::sleep(Duration::from_secs(3600));
    }));
    spawn(Box::new(move || drop(mutex.lock())));
    spawn(Box::new(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        wg.wait();
    }));
    spawn(Box::new(|| {
        let forever = go(|| gosched::sleep(Duration::from_secs(3600)));
        let _ = forever.join();
    }));
    spawn(Box::new(|| gosched::block_on(future::pending::<()>())));
    spawn(Box::new(|| loop {
        yield_now(); // runnable, never parked
    }));
    // Let them all reach their waits, then start one that never runs.
    yield_now();
    yield_now();
    spawn(Box::new(|| {}));
    started
}

#[test]
fn goroutines_alive_when_main_returns_are_unwound_and_never_resumed() {
    let drops = Drops::default();
    let resumed = Rc::new(Cell::new(0));
    let (d, r) = (drops.clone(), resumed.clone());
    let tokens = run(move || {
        let tokens = park_everywhere(&d, &r);
        assert_eq!(d.count(), 0);
        // Theirs, the joined one and main.
        assert_eq!(gosched::num_goroutines(), tokens + 2);
        tokens
    });
    assert_eq!(drops.count(), tokens, "every destructor ran");
    assert_eq!(resumed.get(), 0, "no goroutine ran past its wait");
    // The thread's next runtime starts clean.
    run(assert_scheduler_works);
}

#[test]
fn a_panicking_main_unwinds_the_others_and_the_thread_runs_again() {
    let drops = Drops::default();
    let resumed = Rc::new(Cell::new(0));
    let tokens = Rc::new(Cell::new(0));
    let (d, r, t) = (drops.clone(), resumed.clone(), tokens.clone());
    let result = panic::catch_unwind(AssertUnwindSafe(move || {
        run(move || {
            t.set(park_everywhere(&d, &r));
            fail("main")
        })
    }));
    assert_eq!(message(&*result.unwrap_err()), "main");
    assert_eq!(resumed.get(), 0);
    assert_eq!(drops.count(), tokens.get());
    run(assert_scheduler_works);
}

#[test]
fn a_deadlock_unwinds_everyone_and_the_thread_runs_again() {
    let drops = Drops::default();
    let d = drops.clone();
    let result = panic::catch_unwind(AssertUnwindSafe(move || {
        run(move || {
            let (_tx, rx) = chan::<u32>(0);
            let token = d.token();
            go(move || {
                let _token = token;
                let _ = rx.recv();
            });
            let _main_token = d.token();
            let (_tx2, rx2) = chan::<u32>(0);
            let _ = rx2.recv();
        })
    }));
    let payload = result.unwrap_err();
    assert!(message(&*payload).starts_with("all goroutines are asleep - deadlock!"));
    assert_eq!(drops.count(), 2);
    run(assert_scheduler_works);
}

#[test]
fn destructors_run_at_shutdown_may_wake_and_spawn_but_nothing_runs_again() {
    struct OnDrop(Option<Box<dyn FnOnce()>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            (self.0.take().unwrap())();
        }
    }
    let drops = Drops::default();
    let ran = Rc::new(Cell::new(false));
    let woke = Rc::new(Cell::new(false));
    let (d, r, w) = (drops.clone(), ran.clone(), woke.clone());
    run(move || {
        let (tx, rx) = chan::<u32>(0);
        let r2 = r.clone();
        // Unwound first (goroutines are unwound in the order they started):
        // its destructor hands a value to the receiver below and spawns.
        go(move || {
            let _wake_and_spawn = OnDrop(Some(Box::new(move || {
                w.set(tx.try_send(1).is_ok());
                let token = d.token();
                go(move || {
                    let _token = token;
                    r2.set(true);
                });
            })));
            gosched::sleep(Duration::from_secs(3600));
        });
        go(move || {
            let _ = rx.recv(); // made runnable by that destructor
            r.set(true);
        });
        yield_now();
    });
    assert!(
        woke.get(),
        "the destructor's send found the parked receiver"
    );
    assert!(
        !ran.get(),
        "neither the woken nor the spawned goroutine ran"
    );
    assert_eq!(
        drops.count(),
        1,
        "the spawned goroutine's closure was dropped"
    );
}

#[test]
fn channels_and_locks_outlive_the_runtime_that_unwound_their_waiters() {
    let (rx, tx, mutex, sem) = run(|| {
        let (tx, rx) = chan::<u32>(1);
        let (tx2, rx2) = chan::<u32>(0);
        let t = tx.clone();
        go(move || {
            t.send(1).unwrap(); // delivered into the buffer
            t.send(2).unwrap(); // parks: never delivered
        });
        let r = rx2.clone();
        go(move || r.recv()); // parks in recv
        let mutex = Rc::new(Mutex::new(0));
        let sem = Rc::new(Semaphore::new(1));
        let (m, s) = (mutex.clone(), sem.clone());
        go(move || {
            let _g = m.lock();
            let _p = s.acquire();
            gosched::sleep(Duration::from_secs(3600));
        });
        for _ in 0..3 {
            let (m, s) = (mutex.clone(), sem.clone());
            go(move || {
                *m.lock() += 1;
                s.acquire().forget();
            });
        }
        yield_now();
        yield_now();
        drop(rx2);
        (rx, tx2, mutex, sem)
    });
    // The goroutines that waited are gone, and so are their queue entries:
    // a new runtime uses the same objects without waking the dead.
    assert!(!mutex.is_locked());
    assert_eq!(sem.available_permits(), 1);
    run(move || {
        assert_eq!(rx.recv(), Ok(1), "the delivered value is still there");
        assert_eq!(rx.recv(), Err(RecvError), "its sender is gone");
        assert!(tx.send(5).is_err(), "its receivers are gone");
        let m = mutex.clone();
        go(move || *m.lock() += 10).join().unwrap();
        assert_eq!(*mutex.lock(), 10, "the waiters' increments never ran");
        let s = sem.clone();
        go(move || drop(s.acquire())).join().unwrap();
        assert_scheduler_works();
    });
}

/// Leaves goroutine blocked on `rx` (in `recv`, or in a select with a receive
/// on it) when `run` returns, with `rx` itself kept; a send in the next
/// runtime must not be handed to the unwound goroutine.
fn send_after_receiver_unwound(in_select: bool) -> Result<(), gosched::TrySendError<u32>> {
    let (tx, rx) = run(move || {
        let (tx, rx) = chan::<u32>(0);
        let r = rx.clone();
        go(move || {
            if in_select {
                let (_t, other) = chan::<u32>(0);
                select! {
                    recv(r) -> _ => {},
                    recv(other) -> _ => {},
                }
            } else {
                let _ = r.recv();
            }
        });
        yield_now();
        (tx, rx)
    });
    let sent = run(move || tx.try_send(5));
    drop(rx);
    sent
}

#[test]
fn a_send_never_goes_to_a_receiver_that_was_unwound() {
    assert!(send_after_receiver_unwound(false).is_err());
}

#[test]
fn a_send_never_goes_to_a_select_that_was_unwound() {
    assert!(send_after_receiver_unwound(true).is_err());
}

/// A value whose destructor counts its drop, then panics (without the hook).
#[derive(Clone)]
struct Bomb(Rc<Cell<usize>>);

impl Drop for Bomb {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
        fail("bomb");
    }
}

#[test]
fn dropping_the_last_receiver_drops_every_buffered_value_when_destructors_panic() {
    run(|| {
        let drops = Rc::new(Cell::new(0));
        let (tx, rx) = chan(3);
        for _ in 0..3 {
            tx.send(Bomb(drops.clone())).unwrap();
        }
        // Before: the second panic, during the first one's unwinding, aborted.
        let r = panic::catch_unwind(AssertUnwindSafe(move || drop(rx)));
        assert_eq!(message(&*r.unwrap_err()), "bomb");
        assert_eq!(drops.get(), 3);
        assert!(tx.is_closed());
        assert_scheduler_works();
    });
}

#[test]
fn a_select_drops_every_unsent_value_when_destructors_panic() {
    run(|| {
        let drops = Rc::new(Cell::new(0));
        let (full_tx, _full_rx) = chan(0);
        let (tx, rx) = chan::<u8>(1);
        tx.send(1).unwrap();
        let got = panic::catch_unwind(AssertUnwindSafe(|| {
            // Only the receive is ready; both values to send are unsent.
            select! {
                send(full_tx, Bomb(drops.clone())) -> _ => unreachable!(),
                send(full_tx, Bomb(drops.clone())) -> _ => unreachable!(),
                recv(rx) -> v => v,
            }
        }));
        assert_eq!(message(&*got.unwrap_err()), "bomb");
        assert_eq!(drops.get(), 2);
        assert_eq!(rx.try_recv(), Err(gosched::TryRecvError::Empty));
        assert_scheduler_works();
    });
}

#[test]
fn dropping_a_select_drops_every_unsent_value_when_destructors_panic() {
    run(|| {
        let drops = Rc::new(Cell::new(0));
        let (tx, _rx) = chan(0);
        let mut sel = gosched::Select::new();
        sel.send(&tx, Bomb(drops.clone()));
        sel.send(&tx, Bomb(drops.clone()));
        let copy = sel.clone();
        assert_eq!(drops.get(), 0, "no value was dropped yet");
        let r = panic::catch_unwind(AssertUnwindSafe(move || drop(sel)));
        assert_eq!(message(&*r.unwrap_err()), "bomb");
        assert_eq!(drops.get(), 2);
        let r = panic::catch_unwind(AssertUnwindSafe(move || drop(copy)));
        assert_eq!(message(&*r.unwrap_err()), "bomb");
        assert_eq!(drops.get(), 4, "the clone held clones of both values");
    });
}

//! Channels: rendezvous, buffering, FIFO service, closing, dropping ends,
//! timeouts, iterators, timer channels and the deadlock dump's wait reasons.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use gosched::{
    after, chan, go, never, run, tick, yield_now, RecvError, RecvTimeoutError, SendError,
    SendTimeoutError, TryRecvError, TrySendError,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Counts the drops of its values.
#[derive(Debug)]
struct Tracked(u32, Rc<Cell<u32>>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.set(self.1.get() + 1);
    }
}

#[test]
fn unbuffered_send_waits_for_a_receiver() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        let sent = Rc::new(Cell::new(false));
        let s = sent.clone();
        go(move || {
            tx.send(1).unwrap();
            s.set(true);
        });
        for _ in 0..5 {
            yield_now();
        }
        assert!(
            !sent.get(),
            "an unbuffered send completed without a receiver"
        );
        assert_eq!(rx.recv(), Ok(1));
        yield_now();
        assert!(sent.get());
    });
}

#[test]
fn receive_waits_for_a_sender() {
    run(|| {
        let (tx, rx) = chan::<u32>(3);
        let got = Rc::new(Cell::new(None));
        let g = got.clone();
        go(move || g.set(Some(rx.recv())));
        for _ in 0..5 {
            yield_now();
        }
        assert_eq!(got.get(), None);
        tx.send(4).unwrap();
        yield_now();
        assert_eq!(got.get(), Some(Ok(4)));
    });
}

#[test]
fn buffered_channel_is_fifo_and_reports_len_and_cap() {
    let (tx, rx) = chan::<u32>(3);
    assert_eq!((tx.len(), tx.cap(), rx.len(), rx.cap()), (0, 3, 0, 3));
    assert!(tx.is_empty() && !tx.is_full());
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
    assert_eq!((tx.len(), rx.len()), (3, 3));
    assert!(rx.is_full());
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn unbuffered_try_operations_need_a_waiting_partner() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let r2 = rx.clone();
        let h = go(move || r2.recv());
        yield_now(); // the goroutine now waits in recv
        assert_eq!(tx.try_send(2), Ok(()));
        assert_eq!(h.join().unwrap(), Ok(2));
        let t2 = tx.clone();
        go(move || t2.send(3).unwrap());
        yield_now();
        assert_eq!(rx.try_recv(), Ok(3));
    });
}

#[test]
fn close_lets_receivers_drain_the_buffer_then_fails() {
    run(|| {
        let (tx, rx) = chan::<u32>(4);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert!(tx.close());
        assert!(!tx.close(), "second close reports it was closed already");
        assert!(rx.is_closed() && tx.is_closed());
        assert_eq!(tx.send(3), Err(SendError(3)));
        assert_eq!(tx.try_send(4), Err(TrySendError::Closed(4)));
        assert_eq!(tx.send_timeout(5, ms(1)), Err(SendTimeoutError::Closed(5)));
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.recv(), Err(RecvError));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(rx.recv_timeout(ms(1)), Err(RecvTimeoutError::Closed));
    });
}

#[test]
fn close_wakes_every_blocked_receiver_and_sender() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                go(move || rx.recv())
            })
            .collect();
        yield_now();
        tx.close();
        for h in receivers {
            assert_eq!(h.join().unwrap(), Err(RecvError));
        }

        let (tx, _rx) = chan::<u32>(1);
        tx.send(0).unwrap();
        let senders: Vec<_> = (1..4)
            .map(|i| {
                let tx = tx.clone();
                go(move || tx.send(i))
            })
            .collect();
        yield_now();
        tx.close();
        for (i, h) in (1..4).zip(senders) {
            assert_eq!(h.join().unwrap(), Err(SendError(i)), "value comes back");
        }
    });
}

#[test]
fn dropping_the_last_sender_closes() {
    run(|| {
        let (tx, rx) = chan::<u32>(2);
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        drop(tx);
        assert!(!rx.is_closed(), "a clone still holds it open");
        let h = go(move || rx.iter().collect::<Vec<_>>());
        tx2.send(2).unwrap();
        drop(tx2);
        assert_eq!(h.join().unwrap(), [1, 2]);
    });
}

#[test]
fn dropping_the_last_receiver_fails_sends_and_drops_the_buffer() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    run(move || {
        let (tx, rx) = chan::<Tracked>(2);
        tx.send(Tracked(1, d.clone())).unwrap();
        tx.send(Tracked(2, d.clone())).unwrap();
        let t2 = tx.clone();
        let d2 = d.clone();
        let blocked = go(move || t2.send(Tracked(3, d2)).map_err(|e| e.0 .0));
        yield_now();
        let rx2 = rx.clone();
        drop(rx);
        assert!(!tx.is_closed(), "a clone still receives");
        drop(rx2);
        assert!(tx.is_closed());
        assert_eq!(d.get(), 2, "the buffered values are dropped");
        // The blocked sender gets its value back instead of blocking forever.
        assert_eq!(blocked.join().unwrap(), Err(3));
        match tx.send(Tracked(4, d.clone())) {
            Err(SendError(v)) => assert_eq!(v.0, 4),
            Ok(()) => panic!("sent with no receiver"),
        }
    });
    assert_eq!(drops.get(), 4);
}

#[test]
fn dropped_channel_drops_its_buffered_values() {
    let drops = Rc::new(Cell::new(0));
    let (tx, rx) = chan::<Tracked>(3);
    for i in 0..3 {
        tx.try_send(Tracked(i, drops.clone())).unwrap();
    }
    let tx2 = tx.clone();
    drop((tx, tx2));
    assert_eq!(drops.get(), 0, "closing keeps the values for receivers");
    assert_eq!(rx.try_recv().map(|t| t.0).ok(), Some(0));
    assert_eq!(drops.get(), 1);
    drop(rx);
    assert_eq!(drops.get(), 3);
}

#[test]
fn blocked_receivers_are_served_in_fifo_order() {
    run(|| {
        for cap in [0, 2] {
            let (tx, rx) = chan::<usize>(cap);
            let order = Rc::new(RefCell::new(Vec::new()));
            let hs: Vec<_> = (0..5)
                .map(|i| {
                    let rx = rx.clone();
                    let order = order.clone();
                    go(move || {
                        let v = rx.recv().unwrap();
                        order.borrow_mut().push((i, v));
                    })
                })
                .collect();
            yield_now(); // all five wait, in spawn order
            for v in 0..5 {
                tx.send(v * 10).unwrap();
            }
            hs.into_iter().for_each(|h| h.join().unwrap());
            let mut got = order.borrow().clone();
            got.sort();
            assert_eq!(
                got,
                [(0, 0), (1, 10), (2, 20), (3, 30), (4, 40)],
                "cap {cap}"
            );
        }
    });
}

#[test]
fn blocked_senders_are_served_in_fifo_order() {
    run(|| {
        for cap in [0, 1, 3] {
            let (tx, rx) = chan::<usize>(cap);
            for v in 0..cap {
                tx.send(v).unwrap();
            }
            let hs: Vec<_> = (cap..cap + 5)
                .map(|v| {
                    let tx = tx.clone();
                    go(move || tx.send(v).unwrap())
                })
                .collect();
            yield_now(); // all five wait, in spawn order
            let got: Vec<usize> = (0..cap + 5).map(|_| rx.recv().unwrap()).collect();
            assert_eq!(got, (0..cap + 5).collect::<Vec<_>>(), "cap {cap}");
            hs.into_iter().for_each(|h| h.join().unwrap());
        }
    });
}

#[test]
fn many_producers_and_consumers_lose_and_duplicate_nothing() {
    run(|| {
        for cap in [0, 1, 7] {
            let (tx, rx) = chan::<u32>(cap);
            let producers: Vec<_> = (0..4u32)
                .map(|p| {
                    let tx = tx.clone();
                    go(move || {
                        for i in 0..250 {
                            tx.send(p * 1000 + i).unwrap();
                            if i % 7 == 0 {
                                yield_now();
                            }
                        }
                    })
                })
                .collect();
            drop(tx);
            let consumers: Vec<_> = (0..3)
                .map(|_| {
                    let rx = rx.clone();
                    go(move || rx.iter().collect::<Vec<_>>())
                })
                .collect();
            drop(rx);
            producers.into_iter().for_each(|h| h.join().unwrap());
            let mut all: Vec<u32> = Vec::new();
            for h in consumers {
                let got = h.join().unwrap();
                // Each producer's values arrive at any one consumer in order.
                for p in 0..4 {
                    let mine: Vec<_> = got.iter().filter(|v| *v / 1000 == p).collect();
                    assert!(mine.windows(2).all(|w| w[0] < w[1]), "cap {cap}");
                }
                all.extend(got);
            }
            all.sort();
            let want: Vec<u32> = (0..4)
                .flat_map(|p| (0..250).map(move |i| p * 1000 + i))
                .collect();
            assert_eq!(all, want, "cap {cap}");
        }
    });
}

#[test]
fn recv_timeout_and_send_timeout_expire_and_withdraw() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        let start = gosched::now();
        assert_eq!(rx.recv_timeout(ms(3)), Err(RecvTimeoutError::Timeout));
        assert!(gosched::now() - start >= ms(3));
        // The timed-out receiver left the queue: nobody takes a value now.
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        assert_eq!(tx.send_timeout(2, ms(3)), Err(SendTimeoutError::Timeout(2)));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn timeouts_succeed_when_the_partner_comes_in_time() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        let t = tx.clone();
        go(move || {
            gosched::sleep(ms(1));
            t.send(5).unwrap();
        });
        assert_eq!(rx.recv_timeout(ms(1000)), Ok(5));
        let r = rx.clone();
        let h = go(move || {
            gosched::sleep(ms(1));
            r.recv()
        });
        assert_eq!(tx.send_timeout(6, ms(1000)), Ok(()));
        assert_eq!(h.join().unwrap(), Ok(6));
        // A huge timeout is a wait without deadline, not an overflow.
        tx.try_send(7).unwrap_err();
        let t = tx.clone();
        go(move || t.send(8).unwrap());
        assert_eq!(rx.recv_timeout(Duration::MAX), Ok(8));
    });
}

#[test]
fn a_value_reported_sent_is_received_even_at_the_timeout() {
    // Senders and receivers with timeouts that end around the same moment:
    // whatever the interleaving, a send that returned Ok was received by a
    // receive that returned Ok, and a failed send's value came back.
    run(|| {
        for round in 0..60u64 {
            let (tx, rx) = chan::<u64>(0);
            let r = go(move || rx.recv_timeout(Duration::from_micros(300 + round * 7 % 200)));
            let s = go(move || {
                gosched::sleep(Duration::from_micros(250 + round * 13 % 200));
                tx.send_timeout(round, Duration::from_micros(round % 3 * 100))
            });
            let sent = s.join().unwrap();
            let got = r.join().unwrap();
            match sent {
                Ok(()) => assert_eq!(got, Ok(round), "round {round}"),
                Err(SendTimeoutError::Timeout(v)) => {
                    assert_eq!(v, round);
                    assert!(got.is_err(), "round {round}");
                }
                Err(SendTimeoutError::Closed(v)) => {
                    assert_eq!(v, round);
                    assert!(got.is_err(), "round {round}");
                }
            }
        }
    });
}

#[test]
fn dropping_a_receiver_clone_while_others_wait_keeps_values() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        let waiter = {
            let rx = rx.clone();
            go(move || rx.recv())
        };
        yield_now();
        drop(rx); // not the last receiver: the waiting one remains
        tx.send(11).unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(11));
    });
}

#[test]
fn iterators() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        go(move || (0..5).for_each(|i| tx.send(i).unwrap()));
        let mut sum = 0;
        for v in &rx {
            sum += v;
        }
        assert_eq!(sum, 10);
        let (tx, rx) = chan::<u32>(2);
        go(move || (0..3).for_each(|i| tx.send(i).unwrap()));
        assert_eq!(rx.into_iter().collect::<Vec<_>>(), [0, 1, 2]);
    });
}

#[test]
fn after_delivers_once_and_never_closes() {
    run(|| {
        let start = gosched::now();
        let rx = after(ms(3));
        let at = rx.recv().unwrap();
        assert!(at - start >= ms(3));
        assert!(gosched::now() >= at);
        assert_eq!(rx.recv_timeout(ms(5)), Err(RecvTimeoutError::Timeout));
        assert!(!rx.is_closed());
    });
}

#[test]
fn tick_repeats_and_drops_ticks_for_a_slow_receiver() {
    run(|| {
        // `start` before the ticker: its grid starts when it is created.
        let start = gosched::now();
        let ticks = tick(ms(2));
        let a = ticks.recv().unwrap();
        let b = ticks.recv().unwrap();
        // Ticks are on the period's grid; each carries the time it fired.
        assert!(
            a - start >= ms(2) && b - start >= ms(4),
            "{start:?} {a:?} {b:?}"
        );
        gosched::sleep(ms(12));
        assert_eq!(
            ticks.len(),
            1,
            "one tick is kept, the missed ones are dropped"
        );
        ticks.recv().unwrap();
        let c = ticks.recv().unwrap();
        assert!(c - b >= ms(10), "{b:?} {c:?}");
    });
}

#[test]
#[should_panic(expected = "period must not be zero")]
fn tick_of_zero_panics() {
    run(|| {
        tick(Duration::ZERO);
    });
}

#[test]
#[cfg_attr(
    target_arch = "wasm32",
    ignore = "wasm32-wasip1 has no threads, and panics abort on wasm"
)]
fn tick_stops_once_its_receiver_is_dropped() {
    // If the ticker kept re-arming, its timer would keep this deadlocked
    // program waiting forever instead of reporting the deadlock.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| {
            run(|| {
                drop(tick(ms(1)));
                never::<()>().recv().ok();
            })
        });
        done_tx.send(r.is_err()).unwrap();
    });
    let deadlocked = done_rx.recv_timeout(Duration::from_secs(20));
    assert_eq!(deadlocked, Ok(true));
}

#[test]
fn never_never_delivers() {
    run(|| {
        let rx = never::<u32>();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(rx.recv_timeout(ms(2)), Err(RecvTimeoutError::Timeout));
        let r = gosched::select! {
            recv(rx) -> _ => 1,
            default(ms(2)) => 2,
        };
        assert_eq!(r, 2);
    });
}

#[test]
fn non_blocking_operations_work_outside_a_runtime() {
    let (tx, rx) = chan::<&str>(1);
    tx.try_send("a").unwrap();
    assert_eq!(tx.try_send("b"), Err(TrySendError::Full("b")));
    assert_eq!(rx.try_recv(), Ok("a"));
    tx.send("c").unwrap(); // buffer space: no need to block
    assert_eq!(rx.recv(), Ok("c"));
}

#[test]
#[should_panic(expected = "must be called inside a goroutine")]
fn blocking_outside_a_runtime_panics_clearly() {
    let (_tx, rx) = chan::<u32>(0);
    let _ = rx.recv();
}

#[test]
fn chan_of_chan_request_response() {
    run(|| {
        let (requests, incoming) = chan::<(u32, gosched::Sender<u32>)>(0);
        go(move || {
            for (x, reply) in &incoming {
                reply.send(x * x).unwrap();
            }
        });
        for x in 1..=5 {
            let (reply_tx, reply_rx) = chan(0);
            requests.send((x, reply_tx)).unwrap();
            assert_eq!(reply_rx.recv(), Ok(x * x));
        }
    });
}

#[test]
fn debug_and_display() {
    let (tx, rx) = chan::<u32>(2);
    tx.try_send(1).unwrap();
    assert_eq!(
        format!("{tx:?}"),
        "Sender { len: 1, cap: 2, closed: false }"
    );
    assert_eq!(
        format!("{rx:?}"),
        "Receiver { len: 1, cap: 2, closed: false }"
    );
    assert_eq!(SendError(1).to_string(), "sending on a closed channel");
    assert_eq!(format!("{:?}", TrySendError::Full(1)), "Full(..)");
    let e: Box<dyn std::error::Error> = Box::new(RecvTimeoutError::Timeout);
    assert_eq!(e.to_string(), "timed out waiting on a channel receive");
}

/// The deadlock report of a `run` whose goroutines all block.
fn deadlock_report(main: impl FnOnce() + 'static) -> String {
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(main)))
        .expect_err("the program deadlocks");
    err.downcast_ref::<String>()
        .cloned()
        .expect("the deadlock report is a String")
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
fn deadlock_dump_names_channel_waits() {
    let report = deadlock_report(|| {
        let (tx, rx) = chan::<u32>(0);
        let (_tx2, rx2) = chan::<u32>(0);
        gosched::Builder::new()
            .name("sender".into())
            .spawn(move || tx.send(1))
            .unwrap();
        gosched::Builder::new()
            .name("selector".into())
            .spawn(move || {
                gosched::select! {
                    recv(rx2) -> _ => (),
                    recv(never::<u8>()) -> _ => (),
                }
            })
            .unwrap();
        let (_keep, blocked) = chan::<u32>(0);
        let _ = blocked.recv();
        drop(rx); // held open (and never reached)
    });
    assert!(
        report.starts_with("all goroutines are asleep - deadlock!"),
        "{report}"
    );
    assert!(report.contains(r#""main" [chan receive]"#), "{report}");
    assert!(report.contains(r#""sender" [chan send]"#), "{report}");
    assert!(report.contains(r#""selector" [select]"#), "{report}");
}

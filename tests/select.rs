//! select! and Select: readiness, blocking, timeouts, fairness, syntax.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use gosched::platform::{Idle, Platform, Spawner, Unparker};
use gosched::{chan, go, run, select, yield_now, Runtime, Select};

#[test]
fn picks_the_ready_arm() {
    run(|| {
        let (tx1, rx1) = chan::<i32>(1);
        let (_tx2, rx2) = chan::<&str>(1);
        tx1.send(5).unwrap();
        let got = select! {
            recv(rx1) -> v => v.unwrap(),
            recv(rx2) -> _ => panic!("nothing was sent on rx2"),
        };
        assert_eq!(got, 5);
    });
}

#[test]
fn default_runs_when_nothing_is_ready() {
    run(|| {
        let (_tx, rx) = chan::<i32>(0);
        let r = select! {
            recv(rx) -> _ => 1,
            default => 2,
        };
        assert_eq!(r, 2);
    });
}

#[test]
fn blocks_until_a_sender_arrives() {
    run(|| {
        let (tx, rx) = chan::<i32>(0);
        let (_tx2, rx2) = chan::<i32>(0);
        go(move || {
            gosched::sleep(Duration::from_millis(2));
            tx.send(9).unwrap();
        });
        let got = select! {
            recv(rx2) -> _ => unreachable!(),
            recv(&rx) -> v => v,
        };
        assert_eq!(got, Ok(9));
    });
}

#[test]
fn send_arm_delivers_to_a_blocked_receiver() {
    run(|| {
        let (tx, rx) = chan::<String>(0);
        let h = go(move || rx.recv().unwrap());
        gosched::yield_now();
        select! {
            send(tx, "hello".to_string()) -> r => r.unwrap(),
        }
        assert_eq!(h.join().unwrap(), "hello");
    });
}

#[test]
fn timeout_arm() {
    run(|| {
        let (_tx, rx) = chan::<i32>(0);
        let start = gosched::now();
        let r = select! {
            recv(rx) -> _ => false,
            default(Duration::from_millis(5)) => true,
        };
        assert!(r);
        assert!(gosched::now() - start >= Duration::from_millis(5));
    });
}

#[test]
fn empty_select_with_default() {
    run(|| {
        let r = select! { default => 3 };
        assert_eq!(r, 3);
    });
}

#[test]
fn dynamic_select() {
    run(|| {
        let chans: Vec<_> = (0..4).map(|_| chan::<usize>(0)).collect();
        for (i, (tx, _)) in chans.iter().enumerate() {
            let tx = tx.clone();
            go(move || tx.send(i * 10).unwrap());
        }
        let mut sel = Select::new();
        for (_, rx) in &chans {
            sel.recv(rx);
        }
        let mut got = Vec::new();
        for _ in 0..4 {
            let op = sel.select();
            let i = op.index();
            got.push(op.recv(&chans[i].1).unwrap());
        }
        got.sort();
        assert_eq!(got, [0, 10, 20, 30]);
    });
}

#[test]
fn closed_channel_is_ready() {
    let seen = Rc::new(Cell::new(0));
    let s = seen.clone();
    run(move || {
        let (tx, rx) = chan::<i32>(0);
        drop(tx);
        let log = RefCell::new(Vec::new());
        select! {
            recv(rx) -> r => log.borrow_mut().push(r),
        }
        assert_eq!(*log.borrow(), [Err(gosched::RecvError)]);
        s.set(1);
    });
    assert_eq!(seen.get(), 1);
}

/// Counts the drops of its values.
struct Tracked(Rc<Cell<u32>>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// Pearson's chi-square statistic of `counts` against a uniform distribution.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

/// The target's platform with a fixed seed for the scheduler's random
/// choices, so that a sequence of selects can be replayed.
struct Seeded(Box<dyn Platform>, u64);

impl Platform for Seeded {
    fn now(&self) -> Duration {
        self.0.now()
    }
    fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
        self.0.before_idle(deadline)
    }
    fn has_event_sources(&self) -> bool {
        self.0.has_event_sources()
    }
    fn unparker(&self) -> Unparker {
        self.0.unparker()
    }
    fn attach(&mut self, spawner: Spawner) {
        self.0.attach(spawner)
    }
    fn random_seed(&self) -> u64 {
        self.1
    }
}

fn run_seeded<T: 'static>(seed: u64, main: impl FnOnce() -> T + 'static) -> T {
    Runtime::new()
        .platform(Seeded(Runtime::default_platform(), seed))
        .run(main)
}

/// Runs `n` selects over four buffered channels of which those in `ready`
/// always hold a value; returns how often each arm was chosen.
fn choice_counts(seed: u64, ready: &[usize], n: usize) -> [u64; 4] {
    let ready = ready.to_vec();
    run_seeded(seed, move || {
        let chans: Vec<_> = (0..4).map(|_| chan::<usize>(1)).collect();
        for &i in &ready {
            chans[i].0.send(i).unwrap();
        }
        let mut counts = [0u64; 4];
        for _ in 0..n {
            let i = select! {
                recv(chans[0].1) -> v => v.unwrap(),
                recv(chans[1].1) -> v => v.unwrap(),
                recv(chans[2].1) -> v => v.unwrap(),
                recv(chans[3].1) -> v => v.unwrap(),
            };
            counts[i] += 1;
            chans[i].0.send(i).unwrap(); // ready again
        }
        counts
    })
}

#[test]
fn choice_among_all_ready_arms_is_uniform() {
    // Fixed seed: deterministic. A first-ready or round-robin-start bias gives
    // a statistic in the thousands; 16.27 is the p = 0.001 quantile, 3 dof.
    let counts = choice_counts(0x5e1ec7, &[0, 1, 2, 3], 40_000);
    assert!(chi_square(&counts) < 16.27, "{counts:?}");
}

#[test]
fn choice_is_uniform_among_the_ready_arms_only() {
    // Arms 1 and 3 ready: a random start position followed by a scan would
    // pick arm 1 three times in four. 10.83: p = 0.001, 1 dof.
    let counts = choice_counts(7, &[1, 3], 20_000);
    assert_eq!((counts[0], counts[2]), (0, 0));
    assert!(chi_square(&[counts[1], counts[3]]) < 10.83, "{counts:?}");
}

#[test]
fn choice_is_uniform_over_many_seeded_runs() {
    // 30 runs of 3 000 selects among 3 ready arms. Per run, the statistic
    // exceeds 9.21 (p = 0.01, 2 dof) with probability 1 %: allow 3 of 30
    // (a 0.3 % tail); the pooled counts must pass at p = 0.001 (13.82).
    let mut pooled = [0u64; 3];
    let mut high = 0;
    for seed in 0..30 {
        let c = choice_counts(1000 + seed, &[0, 2, 3], 3_000);
        assert_eq!(c[1], 0);
        let three = [c[0], c[2], c[3]];
        if chi_square(&three) > 9.21 {
            high += 1;
        }
        for (p, x) in pooled.iter_mut().zip(three) {
            *p += x;
        }
    }
    assert!(high <= 3, "{high} runs of 30 failed at p = 0.01");
    assert!(chi_square(&pooled) < 13.82, "{pooled:?}");
}

#[test]
fn send_arms_are_chosen_at_random_too() {
    run_seeded(99, || {
        let (tx, rx) = chan::<u8>(1);
        let mut counts = [0u64; 2];
        for _ in 0..10_000 {
            select! {
                send(tx, 0) -> r => r.unwrap(),
                send(tx, 1) -> r => r.unwrap(),
            }
            counts[rx.recv().unwrap() as usize] += 1;
        }
        assert!(chi_square(&counts) < 10.83, "{counts:?}");
    });
}

#[test]
fn a_woken_select_leaves_the_other_queues() {
    run(|| {
        let (tx1, rx1) = chan::<u32>(0);
        let (tx2, rx2) = chan::<u32>(0);
        let r1 = rx1.clone(); // keeps channel 1 open after the goroutine ends
        let h = go(move || {
            select! {
                recv(r1) -> v => (1, v),
                recv(rx2) -> v => (2, v),
            }
        });
        yield_now(); // parked on both
        tx2.send(20).unwrap();
        // Its waiter on channel 1 is stale: no one may take a value there.
        assert_eq!(tx1.try_send(10), Err(gosched::TrySendError::Full(10)));
        assert_eq!(h.join().unwrap(), (2, Ok(20)));
        assert_eq!(tx1.try_send(10), Err(gosched::TrySendError::Full(10)));
    });
}

#[test]
fn a_timed_out_select_leaves_every_queue() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        let (tx2, rx2) = chan::<u32>(0);
        let r = select! {
            recv(rx) -> _ => false,
            send(tx2, 1) -> _ => false,
            default(Duration::from_millis(2)) => true,
        };
        assert!(r);
        assert_eq!(tx.try_send(1), Err(gosched::TrySendError::Full(1)));
        assert_eq!(rx2.try_recv(), Err(gosched::TryRecvError::Empty));
    });
}

#[test]
fn values_of_send_arms_not_chosen_are_dropped_not_sent() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    run(move || {
        let (tx, rx) = chan::<Tracked>(0);
        let (wake_tx, wake_rx) = chan::<()>(0);
        let waker = go(move || wake_tx.send(()).unwrap());
        // Blocks with its value queued on tx, then the other arm fires.
        let r = select! {
            send(tx, Tracked(d.clone())) -> _ => 1,
            recv(wake_rx) -> _ => 2,
        };
        assert_eq!(r, 2);
        waker.join().unwrap();
        assert_eq!(d.get(), 1, "the unsent value was dropped");
        assert!(rx.try_recv().is_err(), "and not left in the channel");
    });
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_send_arm_on_a_closed_channel_returns_the_value() {
    run(|| {
        let (tx, rx) = chan::<String>(0);
        drop(rx);
        let r = select! {
            send(tx, "v".to_string()) -> r => r,
        };
        assert_eq!(r, Err(gosched::SendError("v".to_string())));
        // ... also when the close comes while the select waits.
        let (tx, rx) = chan::<String>(0);
        let h = go(move || select! { send(&tx, "w".to_string()) -> r => r });
        yield_now();
        drop(rx);
        assert_eq!(h.join().unwrap(), Err(gosched::SendError("w".to_string())));
    });
}

#[test]
fn operands_are_evaluated_once_in_order() {
    run(|| {
        let log = RefCell::new(Vec::new());
        let (tx, rx) = chan::<u32>(1);
        let (tx2, _rx2) = chan::<u32>(0);
        let pick = |name: &'static str| {
            log.borrow_mut().push(name);
        };
        select! {
            recv({ pick("rx"); &rx }) -> _ => unreachable!(),
            send({ pick("tx"); &tx }, { pick("v"); 1 }) -> r => r.unwrap(),
            send({ pick("tx2"); &tx2 }, { pick("v2"); 2 }) -> _ => unreachable!(),
        }
        assert_eq!(*log.borrow(), ["rx", "tx", "v", "tx2", "v2"]);
    });
}

#[test]
fn syntax_variants() {
    run(|| {
        let (tx, rx) = chan::<i32>(4);
        tx.send(1).unwrap();
        // Block bodies without commas, a trailing comma, references, `_`.
        let mut n = 0;
        select! {
            recv(&rx) -> v => { n += v.unwrap(); }
            send(&tx, 2) -> _ => { n += 100; }
        }
        select! {
            recv(rx) -> _ => n += 10,
            default => n += 1000,
        }
        // recv then default, or send then recv.
        assert!(n == 1001 || n == 110, "{n}");
        // As an expression, with a timeout expression and nested selects.
        let r: Result<i32, &str> = select! {
            recv(rx) -> v => v.map_err(|_| "closed"),
            default(Duration::from_millis(1)) => select! {
                default => Err("empty")
            },
        };
        assert!(r.is_ok() || r == Err("empty"));
        // Control flow out of bodies.
        let mut loops = 0;
        loop {
            loops += 1;
            select! {
                recv(rx) -> _ => continue,
                default => break,
            }
        }
        assert!(loops >= 1);
        assert_eq!(rx.len(), 0);
    });
}

#[test]
fn select_without_operations_waits_for_its_timeout() {
    run(|| {
        let start = gosched::now();
        let r = select! { default(Duration::from_millis(3)) => 7 };
        assert_eq!(r, 7);
        assert!(gosched::now() - start >= Duration::from_millis(3));
    });
}

#[test]
fn builder_reuse_removal_and_send_once() {
    run(|| {
        let (tx_a, rx_a) = chan::<u32>(4);
        let (tx_b, rx_b) = chan::<u32>(1);
        let mut sel = Select::new();
        let a = sel.recv(&rx_a);
        let b = sel.send(&tx_b, 7);
        assert_ne!(a, b);
        // Only the send can proceed.
        let op = sel.try_select().unwrap();
        assert_eq!(op.index(), b);
        op.send(&tx_b).unwrap();
        assert_eq!(rx_b.try_recv(), Ok(7));
        // Sent once: the send operation is spent, nothing is ready.
        assert!(sel.try_select().is_err());
        tx_a.send(1).unwrap();
        tx_a.send(2).unwrap();
        assert_eq!(sel.select().recv(&rx_a), Ok(1));
        sel.remove(a);
        assert!(sel.try_select().is_err());
        assert!(sel.select_timeout(Duration::from_millis(1)).is_err());
        assert_eq!(rx_a.try_recv(), Ok(2));
    });
}

#[test]
fn builder_blocks_and_gets_woken() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        let (tx2, rx2) = chan::<u32>(0);
        go(move || {
            gosched::sleep(Duration::from_millis(1));
            tx2.send(5).unwrap();
        });
        let mut sel = Select::new();
        let i = sel.recv(&rx);
        let j = sel.recv(&rx2);
        let op = sel.select_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(op.index(), j);
        assert_ne!(i, j);
        assert_eq!(op.recv(&rx2), Ok(5));
        drop(tx);
    });
}

#[test]
#[should_panic(expected = "is not a receive on this channel")]
fn builder_result_taken_for_the_wrong_channel_panics() {
    let (tx, rx) = chan::<u32>(1);
    let (_tx2, rx2) = chan::<u32>(1);
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let _ = sel.try_select().unwrap().recv(&rx2);
}

#[test]
#[should_panic(expected = "dropped without taking its result")]
fn builder_result_left_untaken_panics() {
    let (tx, rx) = chan::<u32>(1);
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.try_select().unwrap();
    drop(op);
}

#[test]
fn select_biased_takes_the_first_ready_arm() {
    run(|| {
        let (tx1, rx1) = chan::<i32>(1000);
        let (tx2, rx2) = chan::<i32>(1000);
        for i in 0..1000 {
            tx1.send(i).unwrap();
            tx2.send(i).unwrap();
        }
        for i in 0..1000 {
            let got = gosched::select_biased! {
                recv(rx1) -> v => v.unwrap(),
                recv(rx2) -> _ => unreachable!("the first arm was ready"),
            };
            assert_eq!(got, i);
        }
        // Drained: now the second arm is the first ready one.
        let got = gosched::select_biased! {
            recv(rx1) -> _ => unreachable!(),
            recv(rx2) -> v => v.unwrap(),
            default => -1,
        };
        assert_eq!(got, 0);
    });
}

#[test]
fn select_biased_blocks_and_wakes_like_select() {
    run(|| {
        let (tx, rx) = chan::<i32>(0);
        let (_tx2, rx2) = chan::<i32>(0);
        go(move || tx.send(4).unwrap());
        let got = gosched::select_biased! {
            recv(rx2) -> _ => unreachable!(),
            recv(rx) -> v => v.unwrap(),
        };
        assert_eq!(got, 4);
    });
}

#[test]
fn crossbeam_syntax_trailing_commas_default_parens_and_deref() {
    struct Wrapper(gosched::Receiver<i32>);
    impl std::ops::Deref for Wrapper {
        type Target = gosched::Receiver<i32>;
        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }
    run(|| {
        let (tx, rx) = chan::<i32>(1);
        let rx = Wrapper(rx);
        select! {
            send(tx, 1,) -> r => r.unwrap(),
            default() => unreachable!("the buffer had room"),
        }
        let got = select! {
            recv(rx,) -> v => v.unwrap(),
            default(Duration::from_millis(10),) => unreachable!(),
        };
        assert_eq!(got, 1);
        let boxed = Box::new(tx);
        let rc = Rc::new(rx);
        select! {
            send(*boxed, 2) -> r => r.unwrap(),
        }
        assert_eq!(select! { recv(rc) -> v => v }, Ok(2));
    });
}

#[test]
fn ready_leaves_the_value_in_the_channel() {
    run(|| {
        let (tx, rx) = chan::<i32>(1);
        tx.send(1).unwrap();
        let mut sel = Select::new();
        let i = sel.recv(&rx);
        assert_eq!(sel.ready(), i);
        assert_eq!(sel.ready(), i, "asking again changes nothing");
        assert_eq!(rx.len(), 1);
    });
}

#[test]
fn ready_wakes_when_a_select_queues_a_partner() {
    // The partner is a blocked select: it does not pass through try_send or
    // try_recv after the observer is queued, so queuing it must wake it.
    run(|| {
        let (tx, rx) = chan::<i32>(0);
        let (_other_tx, other_rx) = chan::<i32>(0);
        let rx = Rc::new(rx);
        let watcher = {
            let rx = rx.clone();
            go(move || {
                let mut sel = Select::new();
                sel.recv(&rx);
                sel.ready()
            })
        };
        yield_now(); // the watcher parks first
        let sender = go(move || {
            select! {
                send(tx, 7) -> r => r.unwrap(),
                recv(other_rx) -> _ => unreachable!(),
            }
        });
        assert_eq!(watcher.join().unwrap(), 0);
        assert_eq!(rx.try_recv(), Ok(7), "the sender waits in its select");
        sender.join().unwrap();

        let (tx, rx) = chan::<i32>(0);
        let tx = Rc::new(tx);
        let watcher = {
            let tx = tx.clone();
            go(move || {
                let mut sel = Select::new();
                sel.send(&tx, 0);
                sel.ready()
            })
        };
        yield_now();
        let receiver = go(move || select! { recv(rx) -> v => v.unwrap() });
        assert_eq!(watcher.join().unwrap(), 0);
        assert_eq!(tx.try_send(8), Ok(()), "the receiver waits in its select");
        assert_eq!(receiver.join().unwrap(), 8);
    });
}

#[test]
fn ready_waits_are_not_partners_of_each_other() {
    run(|| {
        let (tx, rx) = chan::<i32>(0);
        // Shared: a goroutine that ends must not close the channel (closed
        // counts as ready).
        let (tx, rx) = (Rc::new(tx), Rc::new(rx));
        let (tx2, rx2) = (tx.clone(), rx.clone());
        let recv_side = go(move || {
            let rx = rx2;
            let mut sel = Select::new();
            sel.recv(&rx);
            sel.ready_timeout(Duration::from_millis(20)).is_err()
        });
        let send_side = go(move || {
            let tx = tx2;
            let mut sel = Select::new();
            sel.send(&tx, 1);
            sel.ready_timeout(Duration::from_millis(20)).is_err()
        });
        assert!(recv_side.join().unwrap(), "nobody sends");
        assert!(send_side.join().unwrap(), "nobody receives");
        drop((tx, rx));
    });
}

#[test]
fn ready_looks_again_when_someone_else_took_the_value() {
    run(|| {
        let (tx, rx) = chan::<i32>(1);
        let rx = Rc::new(rx);
        let taken = Rc::new(Cell::new(0));
        // A plain receiver parks behind the watcher; the first send wakes
        // the watcher and goes to the receiver, so the watcher must wait on.
        let watcher = {
            let rx = rx.clone();
            go(move || {
                let mut sel = Select::new();
                sel.recv(&rx);
                sel.ready();
                rx.try_recv().unwrap()
            })
        };
        yield_now();
        let thief = {
            let (rx, taken) = (rx.clone(), taken.clone());
            go(move || taken.set(rx.recv().unwrap()))
        };
        yield_now();
        tx.send(1).unwrap();
        yield_now();
        tx.send(2).unwrap();
        assert_eq!(watcher.join().unwrap(), 2);
        thief.join().unwrap();
        assert_eq!(taken.get(), 1);
    });
}

#[test]
fn a_cloned_select_has_the_same_operations_not_started() {
    run(|| {
        let (tx, rx) = chan::<String>(1);
        let mut sel = Select::new_biased();
        let r = sel.recv(&rx);
        let s = sel.send(&tx, "v".to_string());
        let mut copy = sel.clone();
        let op = sel.select();
        assert_eq!(op.index(), s, "room to send, nothing to receive");
        op.send(&tx).unwrap();
        // The original's send is spent; the copy still holds its value.
        let op = copy.try_select().unwrap();
        assert_eq!(op.index(), r, "the buffer is full, a value waits");
        assert_eq!(op.recv(&rx).as_deref(), Ok("v"));
        let op = copy.try_select().unwrap();
        assert_eq!(op.index(), s);
        op.send(&tx).unwrap();
        assert_eq!(rx.try_recv().as_deref(), Ok("v"));
        let mut spent = sel.clone();
        assert!(
            spent.try_select().is_err(),
            "a clone of a spent send is off"
        );
    });
}

//! Go's own channel tests, ported: `runtime/chan_test.go` and programs of
//! `test/chan/` (Copyright 2009 The Go Authors, BSD-style licence).
//!
//! Adaptations: a nil channel is [`never`] for receiving, and a sender whose
//! unbuffered channel nobody receives from for sending; where Go panics on a
//! send to a closed channel we get `Err` with the value; sizes are smaller
//! where Go loops very long; `sync.WaitGroup` is joining the goroutines.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use gosched::{chan, go, never, run, select, sleep, yield_now, Receiver, Select, Sender};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// runtime/chan_test.go TestChan, for capacities 0..20.
#[test]
fn test_chan() {
    run(|| {
        for cap in 0..20 {
            // A receive from an empty channel blocks.
            {
                let (tx, rx) = chan::<i32>(cap);
                let recv1 = Rc::new(Cell::new(false));
                let recv2 = Rc::new(Cell::new(false));
                for flag in [&recv1, &recv2] {
                    let (rx, flag) = (rx.clone(), flag.clone());
                    go(move || {
                        let _ = rx.recv();
                        flag.set(true);
                    });
                }
                sleep(ms(1));
                assert!(
                    !recv1.get() && !recv2.get(),
                    "cap {cap}: received from empty"
                );
                // A non-blocking receive does not block.
                select! {
                    recv(rx) -> _ => panic!("cap {cap}: received from empty"),
                    default => {}
                }
                tx.send(0).unwrap();
                tx.send(0).unwrap();
            }
            // A send to a full channel blocks.
            {
                let (tx, rx) = chan::<i32>(cap);
                for i in 0..cap {
                    tx.send(i as i32).unwrap();
                }
                let sent = Rc::new(Cell::new(false));
                let (t, s) = (tx.clone(), sent.clone());
                go(move || {
                    t.send(0).unwrap();
                    s.set(true);
                });
                sleep(ms(1));
                assert!(!sent.get(), "cap {cap}: sent to full");
                // A non-blocking send does not block.
                select! {
                    send(tx, 0) -> _ => panic!("cap {cap}: sent to full"),
                    default => {}
                }
                rx.recv().unwrap();
            }
            // A closed channel yields its buffered values, then fails.
            {
                let (tx, rx) = chan::<i32>(cap);
                for i in 0..cap {
                    tx.send(i as i32).unwrap();
                }
                tx.close();
                for i in 0..cap {
                    assert_eq!(rx.recv(), Ok(i as i32), "cap {cap}");
                }
                assert!(rx.recv().is_err(), "cap {cap}");
                assert!(rx.recv().is_err(), "cap {cap}");
            }
            // Close unblocks a receive.
            {
                let (tx, rx) = chan::<i32>(cap);
                let (done_tx, done_rx) = chan::<bool>(0);
                go(move || done_tx.send(rx.recv().is_err()).unwrap());
                sleep(ms(1));
                tx.close();
                assert!(done_rx.recv().unwrap(), "cap {cap}: received from closed");
            }
            // 100 integers arrive uncorrupted in FIFO order.
            {
                let (tx, rx) = chan::<i32>(cap);
                let t = tx.clone();
                go(move || (0..100).for_each(|i| t.send(i).unwrap()));
                for i in 0..100 {
                    assert_eq!(rx.recv(), Ok(i), "cap {cap}");
                }
                // 1000 integers from each of 4 senders reach 4 receivers.
                const P: usize = 4;
                const L: i32 = 1000;
                for _ in 0..P {
                    let t = tx.clone();
                    go(move || (0..L).for_each(|i| t.send(i).unwrap()));
                }
                let (done_tx, done_rx) = chan::<HashMap<i32, usize>>(0);
                for _ in 0..P {
                    let (rx, done_tx) = (rx.clone(), done_tx.clone());
                    go(move || {
                        let mut got = HashMap::new();
                        for _ in 0..L {
                            *got.entry(rx.recv().unwrap()).or_insert(0) += 1;
                        }
                        done_tx.send(got).unwrap();
                    });
                }
                let mut total: HashMap<i32, usize> = HashMap::new();
                for _ in 0..P {
                    for (k, v) in done_rx.recv().unwrap() {
                        *total.entry(k).or_insert(0) += v;
                    }
                }
                assert_eq!(total.len(), L as usize, "cap {cap}");
                assert!(total.values().all(|&v| v == P), "cap {cap}");
            }
            // len and cap.
            {
                let (tx, rx) = chan::<i32>(cap);
                assert_eq!((rx.len(), rx.cap()), (0, cap));
                for i in 0..cap {
                    tx.send(i as i32).unwrap();
                }
                assert_eq!((rx.len(), rx.cap()), (cap, cap));
            }
        }
    });
}

/// runtime/chan_test.go TestNonblockRecvRace.
#[test]
fn test_nonblock_recv_race() {
    run(|| {
        for _ in 0..1000 {
            let (tx, rx) = chan::<i32>(1);
            tx.send(1).unwrap();
            let r = rx.clone();
            go(move || {
                select! {
                    recv(r) -> _ => {}
                    default => panic!("chan is not ready"),
                }
            });
            tx.close();
            let _ = rx.recv();
        }
    });
}

/// runtime/chan_test.go TestNonblockSelectRace and TestNonblockSelectRace2:
/// a select sees the channels at one moment; one of them is always ready.
#[test]
fn test_nonblock_select_race() {
    run(|| {
        for close_c2 in [false, true] {
            let (done_tx, done_rx) = chan::<bool>(1);
            for _ in 0..1000 {
                let (c1_tx, c1) = chan::<i32>(1);
                let (c2_tx, c2) = chan::<i32>(if close_c2 { 0 } else { 1 });
                c1_tx.send(1).unwrap();
                let (r1, r2, done) = (c1.clone(), c2.clone(), done_tx.clone());
                go(move || {
                    let ok = select! {
                        recv(r1) -> _ => true,
                        recv(r2) -> _ => true,
                        default => false,
                    };
                    done.send(ok).unwrap();
                });
                if close_c2 {
                    c2_tx.close();
                } else {
                    c2_tx.send(1).unwrap();
                }
                select! {
                    recv(c1) -> _ => {}
                    default => {}
                }
                assert!(done_rx.recv().unwrap(), "no chan is ready");
            }
        }
    });
}

/// runtime/chan_test.go TestSelfSelect: a select that sends and receives on
/// one channel never receives its own value.
#[test]
fn test_self_select() {
    run(|| {
        for cap in [0, 10] {
            let (tx, rx) = chan::<usize>(cap);
            let hs: Vec<_> = (0..2)
                .map(|p| {
                    let (tx, rx) = (tx.clone(), rx.clone());
                    go(move || {
                        for i in 0..1000 {
                            let got = if p == 0 || i % 2 == 0 {
                                select! {
                                    send(tx, p) -> r => { r.unwrap(); None }
                                    recv(rx) -> v => Some(v.unwrap()),
                                }
                            } else {
                                select! {
                                    recv(rx) -> v => Some(v.unwrap()),
                                    send(tx, p) -> r => { r.unwrap(); None }
                                }
                            };
                            if cap == 0 {
                                assert_ne!(got, Some(p), "self receive");
                            }
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        }
    });
}

/// runtime/chan_test.go TestSelectStress: plain senders and receivers plus
/// one selecting sender and one selecting receiver on four channels; a
/// channel whose quota is done is switched off (Go sets it to nil).
#[test]
fn test_select_stress() {
    const N: usize = 10_000;
    run(|| {
        let caps = [0, 0, 2, 3];
        let chans: Vec<(Sender<u8>, Receiver<u8>)> = caps.iter().map(|&c| chan(c)).collect();
        let mut hs = Vec::new();
        for (tx, rx) in &chans {
            let tx = tx.clone();
            hs.push(go(move || (0..N).for_each(|_| tx.send(0).unwrap())));
            let rx = rx.clone();
            hs.push(go(move || {
                (0..N).for_each(|_| assert_eq!(rx.recv(), Ok(0)))
            }));
        }
        let senders: Vec<Sender<u8>> = chans.iter().map(|(tx, _)| tx.clone()).collect();
        hs.push(go(move || {
            let mut n = [0; 4];
            for _ in 0..4 * N {
                // A send operation per channel still below its quota.
                let mut sel = Select::new();
                let live: Vec<usize> = (0..4).filter(|&k| n[k] < N).collect();
                for &k in &live {
                    sel.send(&senders[k], 0);
                }
                let op = sel.select();
                let k = live[op.index()];
                op.send(&senders[k]).unwrap();
                n[k] += 1;
            }
        }));
        let mut receivers: Vec<Receiver<u8>> = chans.iter().map(|(_, rx)| rx.clone()).collect();
        hs.push(go(move || {
            let mut n = [0; 4];
            for _ in 0..4 * N {
                let k = select! {
                    recv(receivers[0]) -> v => { v.unwrap(); 0 }
                    recv(receivers[1]) -> v => { v.unwrap(); 1 }
                    recv(receivers[2]) -> v => { v.unwrap(); 2 }
                    recv(receivers[3]) -> v => { v.unwrap(); 3 }
                };
                n[k] += 1;
                if n[k] == N {
                    receivers[k] = never();
                }
            }
        }));
        for h in hs {
            h.join().unwrap();
        }
    });
}

/// runtime/chan_test.go TestPseudoRandomSend.
#[test]
fn test_pseudo_random_send() {
    const N: usize = 100;
    run(|| {
        for cap in [0, N] {
            let (tx, rx) = chan::<usize>(cap);
            let h = go(move || {
                (0..N)
                    .map(|_| {
                        yield_now();
                        rx.recv().unwrap()
                    })
                    .collect::<Vec<_>>()
            });
            for _ in 0..N {
                select! {
                    send(tx, 1) -> r => r.unwrap(),
                    send(tx, 0) -> r => r.unwrap(),
                }
            }
            let l = h.join().unwrap();
            let ones: usize = l.iter().sum();
            let zeros = N - ones;
            assert!(
                zeros > N / 10 && ones > N / 10,
                "want pseudorandom, got {zeros} zeros and {ones} ones (cap {cap})"
            );
        }
    });
}

/// runtime/chan_test.go TestMultiConsumer.
#[test]
fn test_multi_consumer() {
    const NWORK: usize = 23;
    const NITER: usize = 27_182;
    const PN: [usize; 10] = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];
    run(|| {
        let (q_tx, q) = chan::<usize>(NWORK * 3);
        let (r_tx, r) = chan::<usize>(NWORK * 3);
        let workers: Vec<_> = (0..NWORK)
            .map(|w| {
                let (q, r_tx) = (q.clone(), r_tx.clone());
                go(move || {
                    for v in &q {
                        // Mess with the FIFO-ish nature of the range.
                        if PN[w % PN.len()] == v {
                            yield_now();
                        }
                        r_tx.send(v).unwrap();
                    }
                })
            })
            .collect();
        drop((q, r_tx));
        let expect = Rc::new(Cell::new(0));
        let e = expect.clone();
        go(move || {
            for i in 0..NITER {
                let v = PN[i % PN.len()];
                e.set(e.get() + v);
                q_tx.send(v).unwrap();
            }
            drop(q_tx); // no more work
            workers.into_iter().for_each(|h| h.join().unwrap());
            // The workers' senders are gone: r closes.
        });
        let (mut n, mut s) = (0, 0);
        for v in &r {
            n += 1;
            s += v;
        }
        assert_eq!((n, s), (NITER, expect.get()));
    });
}

/// runtime/chan_test.go TestSelectDuplicateChannel: a goroutine queued twice
/// on one channel (two arms) leaves it intact for the next waiter.
#[test]
fn test_select_duplicate_channel() {
    run(|| {
        let (c_tx, c) = chan::<i32>(0);
        let (d_tx, d) = chan::<i32>(0);
        let (e_tx, e) = chan::<i32>(0);
        let c2 = c.clone();
        go(move || {
            select! {
                recv(c2) -> _ => {}
                recv(c2) -> _ => {}
                recv(d) -> _ => {}
            }
            e_tx.send(9).unwrap();
        });
        sleep(ms(1)); // A is queued first on c
        let b = go(move || c.recv().unwrap());
        sleep(ms(1)); // B is queued on c
        d_tx.send(7).unwrap(); // wakes A, which leaves c's queue
        assert_eq!(e.recv(), Ok(9));
        c_tx.send(8).unwrap(); // wakes B
        assert_eq!(b.join().unwrap(), 8);
    });
}

/// test/chan/sieve1.go: the prime sieve, a daisy chain of filters.
#[test]
fn sieve1() {
    fn generate(tx: Sender<u32>) {
        for i in 2.. {
            if tx.send(i).is_err() {
                return;
            }
        }
    }
    fn filter(rx: Receiver<u32>, tx: Sender<u32>, prime: u32) {
        for i in &rx {
            if i % prime != 0 && tx.send(i).is_err() {
                return;
            }
        }
    }
    fn sieve(primes: Sender<u32>) {
        let (tx, mut rx) = chan(0);
        go(move || generate(tx));
        loop {
            let prime = rx.recv().unwrap();
            if primes.send(prime).is_err() {
                return;
            }
            let (tx1, rx1) = chan(0);
            go(move || filter(rx, tx1, prime));
            rx = rx1;
        }
    }
    run(|| {
        let (tx, primes) = chan(0);
        go(move || sieve(tx));
        let want = [
            2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
            89, 97,
        ];
        for p in want {
            assert_eq!(primes.recv(), Ok(p));
        }
    });
}

/// test/chan/doubleselect.go: two arms of one select must never both run
/// (the same value would come out of two channels).
#[test]
fn doubleselect() {
    const ITERATIONS: u32 = 20_000;
    run(|| {
        let chans: Vec<(Sender<u32>, Receiver<u32>)> = (0..4).map(|_| chan(0)).collect();
        let (mux_tx, mux_rx) = chan::<u32>(0);
        let senders: Vec<Sender<u32>> = chans.iter().map(|(t, _)| t.clone()).collect();
        go(move || {
            for i in 0..ITERATIONS {
                select! {
                    send(senders[0], i) -> r => r.unwrap(),
                    send(senders[1], i) -> r => r.unwrap(),
                    send(senders[2], i) -> r => r.unwrap(),
                    send(senders[3], i) -> r => r.unwrap(),
                }
            }
        });
        for (_, rx) in chans {
            let out = mux_tx.clone();
            go(move || {
                for v in &rx {
                    out.send(v).unwrap();
                }
            });
        }
        drop(mux_tx);
        let mut seen = vec![false; ITERATIONS as usize];
        for v in &mux_rx {
            assert!(!seen[v as usize], "got duplicate value: {v}");
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    });
}

/// test/chan/fifo.go: buffered and unbuffered channels are pure FIFOs.
#[test]
fn fifo() {
    const N: i32 = 10;
    run(|| {
        let (tx, rx) = chan::<i32>(N as usize);
        (0..N).for_each(|i| tx.send(i).unwrap());
        (0..N).for_each(|i| assert_eq!(rx.recv(), Ok(i)));

        // Thread a daisy chain of goroutines that read the values in turn.
        let (ch_tx, ch) = chan::<i32>(0);
        let (start, mut inp) = chan::<i32>(0);
        for val in 0..N {
            let (out, next) = chan::<i32>(0);
            let ch = ch.clone();
            go(move || {
                inp.recv().unwrap();
                assert_eq!(ch.recv(), Ok(val));
                out.send(1).unwrap();
            });
            inp = next;
        }
        start.send(0).unwrap();
        (0..N).for_each(|i| ch_tx.send(i).unwrap());
        inp.recv().unwrap();
    });
}

/// test/chan/select.go: every send operand is evaluated each time the select
/// runs, chosen or not, and a nil channel is never chosen.
#[test]
fn select_evaluates_send_operands() {
    run(|| {
        let counter = Cell::new(0);
        let shift = Cell::new(0);
        let get_value = || {
            counter.set(counter.get() + 1);
            1u32 << shift.get()
        };
        // A "nil" sender: unbuffered, and nobody ever receives.
        let (nil, _never_received) = chan::<u32>(0);
        let send = |mut a: Sender<u32>, mut b: Sender<u32>| {
            let mut i = 0;
            loop {
                let done = select! {
                    send(a, get_value()) -> r => { r.unwrap(); i += 1; a = nil.clone(); false }
                    send(b, get_value()) -> r => { r.unwrap(); i += 1; b = nil.clone(); false }
                    default => true,
                };
                if done {
                    return i;
                }
                shift.set(shift.get() + 1);
            }
        };
        let (a, ra) = chan::<u32>(1);
        let (b, rb) = chan::<u32>(1);
        assert_eq!(send(a.clone(), b.clone()), 2);
        assert_eq!(ra.recv().unwrap() | rb.recv().unwrap(), 3);
        assert_eq!(send(a, nil.clone()), 1);
        assert_eq!(counter.get(), 10);
    });
}

/// Runs `f` in a goroutine and says whether it blocked (for 20 ms), like
/// test/chan/select3.go's testBlock.
fn blocks(f: impl FnOnce() + 'static) -> bool {
    let (tx, rx) = chan::<bool>(2);
    let t = tx.clone();
    go(move || {
        f();
        let _ = t.send(false);
    });
    go(move || {
        sleep(ms(20));
        let _ = tx.send(true);
    });
    rx.recv().unwrap()
}

/// test/chan/select3.go: blocking semantics of nil, closed, empty and
/// default cases.
#[test]
fn select3() {
    run(|| {
        let (closed_tx, closed) = chan::<i32>(0);
        closed_tx.close();
        let nil_recv = never::<i32>;
        let nil_send = || {
            let (tx, rx) = chan::<i32>(0);
            std::mem::forget(rx); // held open forever, never received from
            tx
        };

        // Sending/receiving on a nil channel blocks.
        assert!(blocks(move || nil_send().send(7).unwrap()));
        assert!(blocks(move || {
            nil_recv().recv().unwrap();
        }));
        // ... and inside a select is never chosen.
        select! {
            send(nil_send(), 7) -> _ => unreachable!(),
            default => {}
        }
        select! {
            recv(nil_recv()) -> _ => unreachable!(),
            default => {}
        }
        // Sending to a channel with free buffer space never blocks.
        assert!(!blocks(|| chan::<i32>(1).0.send(7).unwrap()));
        // Receiving from a closed channel never blocks.
        let c = closed.clone();
        assert!(!blocks(
            move || (0..10).for_each(|_| assert!(c.recv().is_err()))
        ));
        // Sending to a closed channel fails (Go panics).
        assert_eq!(closed_tx.send(7), Err(gosched::SendError(7)));
        // Receiving from a non-ready channel blocks.
        assert!(blocks(|| {
            let (_tx, rx) = chan::<i32>(0);
            let _ = rx.recv();
        }));
        // Empty selects and selects on nil channels block.
        assert!(blocks(|| select! {}));
        assert!(blocks(
            move || select! { recv(nil_recv()) -> _ => unreachable!() }
        ));
        assert!(blocks(
            move || select! { send(nil_send(), 7) -> _ => unreachable!() }
        ));
        assert!(blocks(move || select! {
            recv(nil_recv()) -> _ => unreachable!(),
            send(nil_send(), 7) -> _ => unreachable!(),
        }));
        // Selects on non-ready channels block.
        assert!(blocks(|| {
            let (_tx, rx) = chan::<i32>(0);
            select! { recv(rx) -> _ => unreachable!() }
        }));
        // Selects with a default never block.
        assert!(!blocks(|| select! { default => {} }));
        assert!(!blocks(move || select! {
            recv(nil_recv()) -> _ => unreachable!(),
            default => {}
        }));
        // Selects with ready channels do not block.
        assert!(!blocks(|| {
            let (tx, _rx) = chan::<i32>(1);
            select! {
                send(tx, 7) -> r => r.unwrap(),
                default => unreachable!(),
            }
        }));
        assert!(!blocks(|| {
            let (tx, rx) = chan::<i32>(1);
            tx.send(7).unwrap();
            select! {
                recv(rx) -> v => assert_eq!(v, Ok(7)),
                default => unreachable!(),
            }
        }));
        // Closed channels in selects behave like plain operations.
        let c = closed.clone();
        assert!(!blocks(
            move || select! { recv(c) -> v => assert!(v.is_err()) }
        ));
        let t = closed_tx.clone();
        assert!(!blocks(
            move || select! { send(t, 7) -> r => assert!(r.is_err()) }
        ));
        // A select is not confused when it sees itself.
        assert!(blocks(|| {
            let (tx, rx) = chan::<i32>(0);
            select! {
                send(tx, 1) -> _ => unreachable!(),
                recv(rx) -> _ => unreachable!(),
            }
        }));
    });
}

/// test/chan/select6.go (Go issue 2075): a select's failed cases must not
/// corrupt the queues of channels that have other waiters.
#[test]
fn select6() {
    run(|| {
        let (c1_tx, c1) = chan::<bool>(0);
        let (c2_tx, c2) = chan::<bool>(0);
        let (c3_tx, c3) = chan::<bool>(0);
        let r = c1.clone();
        go(move || r.recv().unwrap());
        let r = c1.clone();
        go(move || {
            select! {
                recv(r) -> _ => panic!("dummy"),
                recv(c2) -> _ => c3_tx.send(true).unwrap(),
            }
            r.recv().unwrap();
        });
        go(move || c2_tx.send(true).unwrap());
        c3.recv().unwrap();
        c1_tx.send(true).unwrap();
        c1_tx.send(true).unwrap();
    });
}

/// test/chan/goroutines.go: a long chain of goroutines, threaded together,
/// passes a value along and tears down cleanly.
#[test]
fn goroutine_chain() {
    const N: usize = 2_000;
    run(|| {
        let (first, mut right) = chan::<usize>(0);
        for _ in 0..N {
            let (tx, rx) = chan::<usize>(0);
            let left = right;
            go(move || tx.send(left.recv().unwrap() + 1).unwrap());
            right = rx;
        }
        first.send(0).unwrap();
        assert_eq!(right.recv(), Ok(N));
    });
}

/// test/chan/zerosize.go and friends: channels of zero-sized values.
#[test]
fn zero_sized_values() {
    run(|| {
        let (tx, rx) = chan::<()>(0);
        let (tx2, rx2) = chan::<[u8; 0]>(2);
        go(move || {
            tx.send(()).unwrap();
            tx2.send([]).unwrap();
        });
        assert_eq!(rx.recv(), Ok(()));
        assert_eq!(rx2.recv(), Ok([]));
    });
}

/// A channel of channels: each request carries the channel its reply goes on
/// (the idiom of Effective Go's "Channels of channels").
#[test]
fn chan_of_chan() {
    run(|| {
        type Request = (Vec<u32>, Sender<u32>);
        let (queue, requests) = chan::<Request>(4);
        let served = Rc::new(RefCell::new(0));
        for _ in 0..3 {
            let requests = requests.clone();
            let served = served.clone();
            go(move || {
                for (args, reply) in &requests {
                    *served.borrow_mut() += 1;
                    reply.send(args.iter().sum()).unwrap();
                }
            });
        }
        let replies: Vec<Receiver<u32>> = (0..10u32)
            .map(|i| {
                let (tx, rx) = chan(1);
                queue.send((vec![i, i, i], tx)).unwrap();
                rx
            })
            .collect();
        for (i, rx) in (0..10u32).zip(&replies) {
            assert_eq!(rx.recv(), Ok(3 * i));
        }
        assert_eq!(*served.borrow(), 10);
    });
}

//! The parts of the API that work without switching stacks: non-blocking
//! channel and select operations, the `try_` side of the sync primitives, and
//! a `Program` whose goroutines are spawned but never run. Nothing here starts
//! a coroutine, so Miri can check it (docs/reliability.md):
//! `cargo +nightly miri test --test without_switching`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gosched::sync::{Mutex, Once, RwLock, Semaphore, WaitGroup};
use gosched::{chan, Select, TryRecvError, TrySendError};

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

fn tracked(n: usize) -> (impl Fn(usize) -> Tracked, Rc<RefCell<Vec<u32>>>) {
    let drops = Rc::new(RefCell::new(vec![0; n]));
    let d = drops.clone();
    (
        move |id| Tracked {
            id,
            drops: d.clone(),
        },
        drops,
    )
}

#[test]
fn buffered_channel_keeps_order_and_drops_each_value_once() {
    let (value, drops) = tracked(6);
    let (tx, rx) = chan::<Tracked>(4);
    for id in 0..4 {
        assert!(tx.try_send(value(id)).is_ok());
    }
    match tx.try_send(value(4)) {
        Err(TrySendError::Full(v)) => assert_eq!(v.id, 4),
        _ => panic!("a full channel takes no more"),
    }
    assert_eq!((tx.len(), tx.cap()), (4, 4));
    assert_eq!(rx.try_recv().map(|v| v.id).ok(), Some(0));
    assert!(tx.try_send(value(5)).is_ok()); // wraps around the ring
    drop(tx); // closed: what is buffered is still received
    let ids: Vec<usize> = rx.try_iter().map(|v| v.id).collect();
    assert_eq!(ids, [1, 2, 3, 5]);
    assert_eq!(rx.try_recv().err(), Some(TryRecvError::Closed));
    assert!(drops.borrow().iter().all(|&n| n == 1));
}

#[test]
fn values_left_in_a_dropped_channel_are_dropped_once() {
    let (value, drops) = tracked(3);
    let (tx, rx) = chan::<Tracked>(3);
    for id in 0..3 {
        assert!(tx.try_send(value(id)).is_ok());
    }
    drop(rx);
    match tx.try_send(value(0)) {
        Err(TrySendError::Closed(v)) => drop(v),
        _ => panic!("no receiver left: the channel is closed"),
    }
    drop(tx);
    // Three buffered values, plus the rejected copy of value 0.
    assert_eq!(*drops.borrow(), [2, 1, 1]);
}

#[test]
fn rendezvous_channel_has_nothing_to_take_without_a_partner() {
    let (tx, rx) = chan::<u32>(0);
    assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(tx.close());
    assert!(!tx.close());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn try_select_takes_a_ready_case_and_leaves_the_others() {
    let (tx_a, rx_a) = chan::<u32>(1);
    let (tx_b, rx_b) = chan::<u32>(1);
    tx_a.try_send(10).unwrap();
    let mut sel = Select::new();
    let recv_a = sel.recv(&rx_a);
    let send_b = sel.send(&tx_b, 20);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let op = sel.try_select().expect("a case is ready");
        let i = op.index();
        if i == recv_a {
            seen.push(op.recv(&rx_a).unwrap());
        } else {
            assert_eq!(i, send_b);
            op.send(&tx_b).unwrap();
            seen.push(rx_b.try_recv().unwrap());
        }
        sel.remove(i);
    }
    seen.sort_unstable();
    assert_eq!(seen, [10, 20]);
    assert!(rx_a.is_empty() && rx_b.is_empty());
}

#[test]
fn uncontended_sync_primitives() {
    let m = Mutex::new(1);
    {
        let mut g = m.try_lock().unwrap();
        *g += 1;
        assert!(m.try_lock().is_none());
    }
    assert_eq!(*m.lock(), 2);

    let rw = RwLock::new(0);
    let (r1, r2) = (rw.try_read().unwrap(), rw.try_read().unwrap());
    assert!(rw.try_write().is_none());
    drop((r1, r2));
    *rw.try_write().unwrap() = 5;
    assert_eq!(*rw.read(), 5);

    let sem = Semaphore::new(2);
    let p = sem.try_acquire().unwrap();
    let q = sem.try_acquire().unwrap();
    assert!(sem.try_acquire().is_none());
    drop(p);
    q.forget();
    assert_eq!(sem.available_permits(), 1);
    sem.add_permits(2);
    assert_eq!(sem.available_permits(), 3);

    let wg = WaitGroup::new();
    wg.add(2);
    wg.clone().done();
    wg.done();
    assert_eq!(wg.count(), 0);
    wg.wait(); // zero: returns at once

    let once = Once::new();
    let calls = Cell::new(0);
    once.call_once(|| calls.set(calls.get() + 1));
    once.call_once(|| calls.set(calls.get() + 1));
    assert_eq!(calls.get(), 1);
}

#[test]
fn dropping_a_program_drops_the_goroutines_that_never_ran() {
    let (value, drops) = tracked(3);
    let program = gosched::Runtime::new().start(|| 1);
    let (tx, rx) = chan::<u32>(1);
    let handles = program.enter(|| {
        tx.try_send(7).unwrap();
        let hs: Vec<_> = (0..3)
            .map(|id| {
                let v = value(id);
                let rx = rx.clone();
                gosched::go(move || (v.id, rx.recv()))
            })
            .collect::<Vec<_>>();
        hs
    });
    assert!(handles.iter().all(|h| !h.is_finished()));
    assert_eq!(program.next_deadline(), None);
    drop(program);
    assert!(
        drops.borrow().iter().all(|&n| n == 1),
        "each closure dropped once"
    );
    drop(handles);
    assert_eq!(rx.try_recv(), Ok(7), "the buffered value is still there");
}

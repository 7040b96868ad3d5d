//! select! and Select: readiness, blocking, timeouts, fairness, syntax.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use gosched::{chan, go, run, select, Select};

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

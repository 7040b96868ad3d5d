//! gosched::context: cancellation trees, deadlines, values, `_ctx` waits, and
//! that cancelling leaves no goroutine or timer behind. Tests named `go_*`
//! follow Go's src/context/x_test.go tests of the same name.

use std::time::Duration;

use gosched::context::{
    self, background, sleep_ctx, with_cancel, with_deadline, with_timeout, with_value, Context,
    ContextError, RecvCtxError, SendCtxError,
};
use gosched::{chan, go, now, run, select, sleep, Receiver, TryRecvError};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const HOUR: Duration = Duration::from_secs(3600);

fn is_done(ctx: &Context) -> bool {
    ctx.done().try_recv() == Err(TryRecvError::Closed)
}

/// Waits until the scheduler goes idle and returns what its idle hook was
/// told: the time to the next timer, `None` if no timer is pending.
fn next_timer_when_idle() -> Option<Duration> {
    let (tx, rx) = chan(1);
    gosched::set_idle_hook(move |until| {
        let _ = tx.try_send(until);
        true
    });
    let until = rx.recv().unwrap();
    gosched::set_idle_hook(|_| false);
    until
}

#[test]
fn go_test_background() {
    // TestBackground: never done, no deadline, no error, no value.
    let ctx = background();
    assert!(!is_done(&ctx));
    assert_eq!(ctx.err(), None);
    assert_eq!(ctx.deadline(), None);
    assert_eq!(ctx.value::<u32>(), None);
}

#[test]
fn go_test_with_cancel() {
    // TestWithCancel: cancelling the first context cancels the children
    // (through a value node too); each reports Canceled.
    let (c1, cancel) = with_cancel(&background());
    let o = [
        c1.clone(),
        with_value(&c1, "between"),
        with_cancel(&with_value(&c1, 1u8)).0,
    ];
    // The third's handle was dropped at once: only it is cancelled so far.
    assert!(!is_done(&o[0]) && !is_done(&o[1]) && is_done(&o[2]));
    let (d, _keep) = with_cancel(&o[1]);
    assert!(!is_done(&d));
    cancel.cancel();
    for ctx in [&o[0], &o[1], &o[2], &d] {
        assert!(is_done(ctx));
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    }
}

#[test]
fn go_test_parent_finishes_child() {
    // TestParentFinishesChild: a tree of cancel, timer and value nodes; the
    // parent's cancel reaches every descendant, not the parent's parent.
    run(|| {
        let (root, _root_cancel) = with_cancel(&background());
        let (parent, cancel) = with_cancel(&root);
        let (cancel_child, _c1) = with_cancel(&parent);
        let (timer_child, _c2) = with_timeout(&parent, HOUR);
        let value_child = with_value(&parent, "value");
        let (grandchild, _c3) = with_cancel(&value_child);
        for ctx in [
            &parent,
            &cancel_child,
            &timer_child,
            &value_child,
            &grandchild,
        ] {
            assert!(!is_done(ctx));
        }
        cancel.cancel();
        for ctx in [
            &parent,
            &cancel_child,
            &timer_child,
            &value_child,
            &grandchild,
        ] {
            assert_eq!(ctx.err(), Some(ContextError::Canceled));
            assert!(is_done(ctx));
        }
        assert!(!is_done(&root), "the parent's parent is not cancelled");
        // A child of a cancelled parent is born cancelled.
        let (late, _c4) = with_cancel(&parent);
        assert_eq!(late.err(), Some(ContextError::Canceled));
        assert_eq!(
            next_timer_when_idle(),
            None,
            "the timer child's timer stopped"
        );
    });
}

#[test]
fn go_test_child_finishes_first() {
    // TestChildFinishesFirst: a cancelled child leaves its parent alone.
    let (parent, _cancel) = with_cancel(&background());
    let (child, child_cancel) = with_cancel(&parent);
    drop(child_cancel);
    assert_eq!(child.err(), Some(ContextError::Canceled));
    assert_eq!(parent.err(), None);
    assert!(!is_done(&parent));
}

#[test]
fn go_test_deadline_and_timeout() {
    // TestDeadline and TestTimeout: done within a bound after the deadline,
    // with DeadlineExceeded; an earlier parent deadline wins.
    run(|| {
        let start = now();
        let (ctx, _c1) = with_deadline(&background(), start + ms(50));
        assert_eq!(ctx.deadline(), Some(start + ms(50)));
        let (child, _c2) = with_timeout(&ctx, HOUR);
        assert_eq!(child.deadline(), ctx.deadline());
        let (earlier, _c3) = with_timeout(&ctx, ms(10));
        assert!(earlier.deadline() < ctx.deadline());
        select! {
            recv(earlier.done()) -> _ => {}
            recv(gosched::after(Duration::from_secs(10))) -> _ => panic!("no timeout"),
        }
        assert_eq!(earlier.err(), Some(ContextError::DeadlineExceeded));
        assert_eq!(
            ctx.err(),
            None,
            "a child's deadline leaves the parent alone"
        );
        child.done().recv().unwrap_err();
        assert!(now() - start >= ms(50));
        assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
        // A deadline already past: done at once.
        let (past, _c4) = with_deadline(&background(), now());
        assert_eq!(past.err(), Some(ContextError::DeadlineExceeded));
    });
}

#[test]
fn go_test_canceled_timeout() {
    // TestCanceledTimeout: cancelling a context with a timeout reports
    // Canceled, and its timer is released.
    run(|| {
        let (ctx, cancel) = with_timeout(&background(), Duration::from_secs(1));
        let (child, _c) = with_cancel(&with_value(&ctx, "x"));
        cancel.cancel();
        assert_eq!(child.err(), Some(ContextError::Canceled));
        select! {
            recv(child.done()) -> _ => {}
            default(Duration::from_secs(1)) => panic!("context not done"),
        }
        assert_eq!(next_timer_when_idle(), None);
    });
}

#[test]
fn go_test_values() {
    // TestValues: the nearest value of a key (here: of a type) wins; other
    // keys are found further up; cancel nodes pass lookups through.
    #[derive(Debug, PartialEq)]
    struct Key1(&'static str);
    #[derive(Debug, PartialEq)]
    struct Key2(&'static str);
    let c0 = background();
    let c1 = with_value(&c0, Key1("c1k1"));
    let c2 = with_value(&c1, Key2("c2k2"));
    let (c3, _cancel) = with_cancel(&c2);
    let c4 = with_value(&c3, Key1("c4k1"));
    assert_eq!(c0.value::<Key1>(), None);
    assert_eq!(c1.value::<Key1>(), Some(&Key1("c1k1")));
    assert_eq!(c1.value::<Key2>(), None);
    assert_eq!(c3.value::<Key1>(), Some(&Key1("c1k1")));
    assert_eq!(c3.value::<Key2>(), Some(&Key2("c2k2")));
    assert_eq!(c4.value::<Key1>(), Some(&Key1("c4k1")));
    assert_eq!(c4.value::<Key2>(), Some(&Key2("c2k2")));
}

#[test]
fn done_wakes_blocked_goroutines_in_select() {
    run(|| {
        let (ctx, cancel) = with_cancel(&background());
        let (_jobs_tx, jobs) = chan::<u32>(0);
        let workers: Vec<_> = (0..10)
            .map(|_| {
                let (ctx, jobs) = (ctx.clone(), jobs.clone());
                go(move || {
                    select! {
                        recv(jobs) -> _ => None,
                        recv(ctx.done()) -> _ => ctx.err(),
                    }
                })
            })
            .collect();
        sleep(ms(2));
        cancel.cancel();
        for w in workers {
            assert_eq!(w.join().unwrap(), Some(ContextError::Canceled));
        }
    });
}

#[test]
fn cancelling_leaves_no_goroutine_or_timer_behind() {
    run(|| {
        let before = gosched::num_goroutines();
        let (root, cancel_root) = with_cancel(&background());
        let mut handles = Vec::new();
        for i in 0..1000 {
            let (ctx, cancel) = with_timeout(&root, HOUR + ms(i));
            let (_grandchild, c2) = with_deadline(&ctx, now() + HOUR);
            handles.push((cancel, c2));
        }
        assert!(next_timer_when_idle().is_some(), "1000 deadlines pending");
        // Half cancelled one by one, the rest through the root.
        handles.truncate(500);
        cancel_root.cancel();
        drop(handles);
        assert_eq!(next_timer_when_idle(), None, "every timer released");
        assert_eq!(gosched::num_goroutines(), before);
        // A timeout that fires also leaves nothing behind.
        let (ctx, _c) = with_timeout(&background(), ms(1));
        ctx.done().recv().unwrap_err();
        assert_eq!(next_timer_when_idle(), None);
    });
}

#[test]
fn recv_send_and_sleep_ctx_give_up_when_the_context_is_done() {
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        let (ctx, cancel) = with_cancel(&background());
        // Values pass while the context lives.
        go({
            let tx = tx.clone();
            move || tx.send(1).unwrap()
        });
        assert_eq!(rx.recv_ctx(&ctx), Ok(1));
        let h = go({
            let rx = rx.clone();
            move || rx.recv_ctx(&background())
        });
        assert_eq!(tx.send_ctx(&ctx, 2), Ok(()));
        assert_eq!(h.join().unwrap(), Ok(2));
        // Closed channels are reported as such.
        let (tx2, rx2) = chan::<u32>(0);
        drop(tx2);
        assert_eq!(rx2.recv_ctx(&ctx), Err(RecvCtxError::Closed));
        // Cancelled while blocked: the value comes back.
        go(move || {
            sleep(ms(2));
            cancel.cancel();
        });
        match tx.send_ctx(&ctx, 3) {
            Err(SendCtxError::Done(ContextError::Canceled, 3)) => {}
            other => panic!("{other:?}"),
        }
        let (_tx3, rx3): (_, Receiver<u32>) = chan(0);
        assert_eq!(
            rx3.recv_ctx(&ctx),
            Err(RecvCtxError::Done(ContextError::Canceled))
        );
        assert_eq!(sleep_ctx(&ctx, HOUR), Err(ContextError::Canceled));
        // sleep_ctx sleeps its time when the context stays alive.
        let start = now();
        assert_eq!(sleep_ctx(&background(), ms(3)), Ok(()));
        assert!(now() - start >= ms(3));
        let (short, _c) = context::with_timeout(&background(), ms(2));
        assert_eq!(sleep_ctx(&short, HOUR), Err(ContextError::DeadlineExceeded));
        assert_eq!(
            next_timer_when_idle(),
            None,
            "sleep_ctx's timer is released"
        );
    });
}

#[test]
fn a_parent_and_a_child_deadline_due_in_the_same_poll() {
    // Both timers come due while main is busy; whichever fires first, the
    // child ends with DeadlineExceeded, and nothing fires twice.
    run(|| {
        for _ in 0..20 {
            let (parent, _c1) = with_timeout(&background(), ms(2));
            let (child, _c2) = with_timeout(&parent, ms(1));
            assert!(child.deadline() < parent.deadline());
            let start = now();
            while now() - start < ms(4) {}
            sleep(Duration::from_nanos(1)); // the idle poll fires both
            assert_eq!(parent.err(), Some(ContextError::DeadlineExceeded));
            assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
        }
        assert_eq!(next_timer_when_idle(), None);
    });
}

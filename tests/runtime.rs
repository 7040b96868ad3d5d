//! Goroutines, join, yield, sleep, block_on and misuse, natively and on wasm.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

#[test]
fn run_returns_main_value() {
    assert_eq!(gosched::run(|| 42), 42);
}

#[test]
fn goroutines_run_in_spawn_order_when_yielding() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    gosched::run(move || {
        let hs: Vec<_> = (0..3)
            .map(|i| {
                let l = l.clone();
                gosched::go(move || {
                    for step in 0..2 {
                        l.borrow_mut().push((i, step));
                        gosched::yield_now();
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    assert_eq!(
        *log.borrow(),
        vec![(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
    );
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
fn panic_in_goroutine_comes_back_from_join() {
    gosched::run(|| {
        let h = gosched::go(|| -> i32 { panic!("expected test panic") });
        let err = h.join().unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"expected test panic"));
        // The scheduler keeps working.
        assert_eq!(gosched::go(|| 5).join().unwrap(), 5);
    });
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
fn main_panic_propagates_from_run() {
    let r = std::panic::catch_unwind(|| gosched::run(|| panic!("main fails")));
    assert!(r.is_err());
    // And the thread can run again afterwards.
    assert_eq!(gosched::run(|| 1), 1);
}

#[test]
fn ten_sleeps_overlap() {
    let elapsed = gosched::run(|| {
        let start = gosched::now();
        let hs: Vec<_> = (0..10)
            .map(|_| gosched::go(|| gosched::sleep(Duration::from_millis(200))))
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        gosched::now() - start
    });
    assert!(elapsed >= Duration::from_millis(200));
    assert!(
        elapsed < Duration::from_millis(1000),
        "sleeps did not overlap: {elapsed:?}"
    );
}

#[test]
fn sleeps_wake_in_deadline_order() {
    let order = gosched::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let hs: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|ms| {
                let log = log.clone();
                gosched::go(move || {
                    gosched::sleep(Duration::from_millis(ms));
                    log.borrow_mut().push(ms);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let v = log.borrow().clone();
        v
    });
    assert_eq!(order, vec![10, 20, 30]);
}

#[test]
#[cfg_attr(
    target_arch = "wasm32",
    ignore = "wasm cannot unwind: abandoned goroutines are leaked, their destructors do not run"
)]
fn main_return_abandons_and_unwinds_others() {
    struct Flag(Rc<RefCell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            *self.0.borrow_mut() = true;
        }
    }
    let dropped = Rc::new(RefCell::new(false));
    let d = dropped.clone();
    gosched::run(move || {
        gosched::go(move || {
            let _flag = Flag(d);
            gosched::sleep(Duration::from_secs(3600));
        });
        gosched::yield_now();
    });
    assert!(
        *dropped.borrow(),
        "the abandoned goroutine's destructors ran"
    );
}

#[test]
fn thousands_of_goroutines() {
    let sum = gosched::run(|| {
        let hs: Vec<_> = (0..5000u64).map(|i| gosched::go(move || i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, 5000 * 4999 / 2);
}

#[test]
fn deep_recursion_across_switches() {
    fn depth(n: u32) -> u32 {
        if n == 0 {
            gosched::yield_now();
            return 0;
        }
        let pad = [(n as u8) | 1; 64];
        1 + depth(n - 1) + u32::from(std::hint::black_box(pad)[0] == 0)
    }
    let r = gosched::run(|| {
        let h = gosched::go(|| depth(1000));
        depth(1000) + h.join().unwrap()
    });
    assert_eq!(r, 2000);
}

#[test]
fn closures_through_fn_pointers() {
    fn double(x: u32) -> u32 {
        gosched::yield_now();
        x * 2
    }
    let f: fn(u32) -> u32 = double;
    let boxed: Box<dyn Fn(u32) -> u32> = Box::new(move |x| f(x) + 1);
    assert_eq!(
        gosched::run(move || gosched::go(move || boxed(20)).join().unwrap()),
        41
    );
}

#[test]
fn builder_names_and_stack_size() {
    gosched::run(|| {
        let h = gosched::Builder::new()
            .name("named".into())
            .stack_size(32 * 1024)
            .spawn(|| (gosched::current_name(), gosched::current_id()))
            .unwrap();
        let id = h.id();
        let (name, seen) = h.join().unwrap();
        assert_eq!(name.as_deref(), Some("named"));
        assert_eq!(seen, id);
    });
}

#[test]
#[should_panic(expected = "inside a goroutine")]
fn blocking_outside_a_goroutine_panics() {
    gosched::sleep(Duration::from_millis(1));
}

#[test]
#[should_panic(expected = "gosched::run called inside a goroutine")]
fn run_inside_run_panics() {
    gosched::run(|| gosched::run(|| ()));
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "wasm32-wasip1 has no threads")]
fn block_on_parks_only_its_goroutine() {
    use std::task::Poll;
    let (done_tx, done_rx) = std::sync::mpsc::channel::<std::task::Waker>();
    let helper = std::thread::spawn(move || {
        let waker = done_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        waker.wake();
    });
    let log = gosched::run(move || {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let other = gosched::go(move || {
            for i in 0..3 {
                l.borrow_mut().push(format!("tick {i}"));
                gosched::sleep(Duration::from_millis(5));
            }
        });
        let mut sent = false;
        let v = gosched::block_on(std::future::poll_fn(move |cx| {
            if sent {
                return Poll::Ready(7);
            }
            sent = true;
            done_tx.send(cx.waker().clone()).unwrap();
            Poll::Pending
        }));
        log.borrow_mut().push(format!("future {v}"));
        other.join().unwrap();
        let out = log.borrow().clone();
        out
    });
    helper.join().unwrap();
    assert_eq!(log, ["tick 0", "tick 1", "tick 2", "future 7"]);
}

#[test]
fn unguarded_stacks_run_many_goroutines() {
    // SAFETY: the goroutines use a few hundred bytes of stack.
    let rt = unsafe {
        gosched::Runtime::new()
            .stack_size(16 * 1024)
            .unguarded_stacks()
    };
    let n = rt.run(|| {
        let hs: Vec<_> = (0..50_000u64).map(|i| gosched::go(move || i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(n, 50_000 * 49_999 / 2);
}

/// A host-driven platform (like a JS event loop): idle means "return to host".
struct HostLoop(std::time::Instant);

impl gosched::platform::Platform for HostLoop {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
    fn before_idle(&mut self, _deadline: Option<Duration>) -> gosched::platform::Idle {
        gosched::platform::Idle::ReturnToHost
    }
    fn unparker(&self) -> gosched::platform::Unparker {
        gosched::platform::Unparker::noop()
    }
}

#[test]
fn host_drives_a_returning_platform_with_poll() {
    use std::task::Poll;
    let mut program = gosched::Runtime::new()
        .platform(HostLoop(std::time::Instant::now()))
        .start(|| {
            let hs: Vec<_> = (0..3u64)
                .map(|i| gosched::go(move || gosched::sleep(Duration::from_millis(10 * (i + 1)))))
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            "all slept"
        });
    let mut returns_to_host = 0;
    let value = loop {
        match program.poll() {
            Poll::Ready(v) => break v,
            Poll::Pending => {
                returns_to_host += 1;
                let deadline = program
                    .next_deadline()
                    .expect("a sleeper's timer is pending");
                let now = program.enter(gosched::now);
                std::thread::sleep(deadline.saturating_sub(now));
            }
        }
    };
    assert_eq!(value, "all slept");
    // At least once; under load one host sleep may cover all three timers.
    assert!(returns_to_host >= 1, "sleeping returned to the host");
}

#[test]
fn host_callbacks_spawn_goroutines_between_polls() {
    use std::task::Poll;
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let mut program = gosched::Runtime::new()
        .platform(HostLoop(std::time::Instant::now()))
        .start(move || {
            gosched::sleep(Duration::from_millis(20));
            s.borrow_mut().push("main");
        });
    assert_eq!(program.poll(), Poll::Pending);
    let s = seen.clone();
    program.enter(|| gosched::go(move || s.borrow_mut().push("from host")));
    while program.poll().is_pending() {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(*seen.borrow(), ["from host", "main"]);
}

#[test]
#[should_panic(expected = "returns to its host")]
fn run_refuses_a_platform_that_returns_to_host() {
    gosched::Runtime::new()
        .platform(HostLoop(std::time::Instant::now()))
        .run(|| gosched::sleep(Duration::from_millis(1)));
}

/// A stack size no memory can hold: mapping (natively) or carving it (from
/// wasm32's 4 GiB linear memory) fails.
const IMPOSSIBLE_STACK: usize = usize::MAX - (1 << 20);

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
fn goroutine_without_a_stack_waits_and_spawn_fails_meanwhile() {
    let r = std::panic::catch_unwind(|| {
        gosched::run(|| {
            let h = gosched::Builder::new()
                .stack_size(IMPOSSIBLE_STACK)
                .spawn(|| 1)
                .expect("spawning takes no stack yet");
            gosched::yield_now(); // it tried to start, and waits for a stack
            assert!(!h.is_finished());
            let err = gosched::Builder::new().spawn(|| 2).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
            let text = err.to_string();
            assert!(
                text.starts_with("1 goroutine(s) wait for a stack: "),
                "{text}"
            );
            assert!(text.contains("smaller stacks"), "{text}");
            h.join().unwrap() // nothing frees a stack: a deadlock
        })
    });
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("1 goroutine(s) wait for a stack"), "{msg}");
    assert!(msg.contains("[waiting for a stack]"), "{msg}");
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
fn go_panics_once_while_goroutines_wait_for_a_stack() {
    let r = std::panic::catch_unwind(|| {
        gosched::run(|| {
            let _h = gosched::Builder::new()
                .stack_size(IMPOSSIBLE_STACK)
                .spawn(|| ())
                .unwrap();
            gosched::yield_now();
            for _ in 0..1000 {
                gosched::go(|| ());
            }
        })
    });
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(
        msg.starts_with("gosched::go: 1 goroutine(s) wait for a stack"),
        "{msg}"
    );
}

#[test]
fn goroutines_wait_for_stacks_that_others_return() {
    // Stacks so large that only a few fit in the address space (47 bits
    // natively, 4 GiB of linear memory on wasm32): the others start as
    // the first ones finish.
    #[cfg(target_pointer_width = "64")]
    const HUGE: usize = 24 << 40;
    #[cfg(target_pointer_width = "32")]
    const HUGE: usize = 768 << 20;
    let ran = gosched::run(|| {
        let ran = Rc::new(std::cell::Cell::new(0));
        let hs: Vec<_> = (0..12)
            .map(|_| {
                let ran = ran.clone();
                gosched::Builder::new()
                    .stack_size(HUGE)
                    .spawn(move || {
                        gosched::sleep(Duration::from_millis(1));
                        ran.set(ran.get() + 1);
                    })
                    .unwrap()
            })
            .collect();
        gosched::yield_now(); // all tried to start; some wait for a stack
        assert!(gosched::Builder::new().spawn(|| ()).is_err());
        hs.into_iter().for_each(|h| h.join().unwrap());
        ran.get()
    });
    assert_eq!(ran, 12);
}

#[test]
fn a_channel_hand_off_runs_the_woken_goroutine_next() {
    // Go's runnext: the receiver a send wakes runs before goroutines that
    // were queued earlier, while its value is still in cache.
    let log = gosched::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let (tx, rx) = gosched::chan::<u32>(0);
        let l = log.clone();
        let receiver = gosched::go(move || l.borrow_mut().push(rx.recv().unwrap()));
        gosched::yield_now(); // the receiver parks
        let l = log.clone();
        let queued = gosched::go(move || l.borrow_mut().push(0));
        tx.send(1).unwrap();
        gosched::yield_now();
        receiver.join().unwrap();
        queued.join().unwrap();
        log.take()
    });
    assert_eq!(log, [1, 0]);
}

#[test]
fn goroutines_handing_values_back_and_forth_do_not_starve_the_queue() {
    // Each hand-off puts the partner in `runnext`; the pair shares one slice
    // (Go's inheritTime), so a goroutine queued meanwhile still runs soon.
    const ROUNDS: u32 = 100_000;
    let seen_at = gosched::run(|| {
        let (ping_tx, ping_rx) = gosched::chan::<u32>(0);
        let (pong_tx, pong_rx) = gosched::chan::<u32>(0);
        let echo = gosched::go(move || {
            for v in &ping_rx {
                pong_tx.send(v).unwrap();
            }
        });
        let ran = Rc::new(std::cell::Cell::new(false));
        let r = ran.clone();
        let bystander = gosched::go(move || r.set(true));
        let mut seen_at = None;
        for i in 0..ROUNDS {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv().unwrap(), i);
            if ran.get() && seen_at.is_none() {
                seen_at = Some(i);
            }
        }
        drop(ping_tx);
        echo.join().unwrap();
        bystander.join().unwrap();
        seen_at
    });
    let round = seen_at.expect("the bystander ran only after the ping-pong ended");
    assert!(round < 100, "the bystander waited {round} round trips");
}

/// Hand-offs (natively, a goroutine that parks switches straight to the one
/// it just woke): a goroutine entered that way panics, and its join sees it.
#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
fn panic_in_a_goroutine_entered_by_hand_off_comes_back_from_join() {
    let got = gosched::run(|| {
        let (tx, rx) = gosched::chan::<u32>(0);
        let h = gosched::go(move || -> u32 {
            let v = rx.recv().unwrap();
            panic!("handed {v}");
        });
        gosched::yield_now(); // the goroutine parks in recv
                              // The send puts it in runnext; the join parks and hands over to it.
        tx.send(7).unwrap();
        h.join()
    });
    let err = got.expect_err("the goroutine panicked");
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some("handed 7")
    );
}

/// Main returns while two goroutines are parked where they handed over to
/// the next one: both are unwound, their destructors run.
#[test]
#[cfg_attr(
    target_arch = "wasm32",
    ignore = "wasm cannot unwind: abandoned goroutines are leaked, their destructors do not run"
)]
fn shutdown_unwinds_goroutines_that_parked_handing_over() {
    struct Count(Rc<std::cell::Cell<u32>>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let dropped = Rc::new(std::cell::Cell::new(0));
    let d = dropped.clone();
    gosched::run(move || {
        let (to_a, a_rx) = gosched::chan::<()>(0);
        let (to_b, b_rx) = gosched::chan::<()>(0);
        let (done_tx, done_rx) = gosched::chan::<()>(0);
        let (_never_tx, never_rx) = gosched::chan::<()>(0);
        let never_b = never_rx.clone();
        let count = Count(d.clone());
        gosched::go(move || {
            let _count = count;
            a_rx.recv().unwrap();
            to_b.send(()).unwrap(); // B to runnext
            never_rx.recv().unwrap(); // parks, hands over to B
        });
        let count = Count(d);
        gosched::go(move || {
            let _count = count;
            b_rx.recv().unwrap();
            done_tx.send(()).unwrap(); // main to runnext
            never_b.recv().unwrap(); // parks, hands over to main
        });
        gosched::yield_now(); // both park in recv
        to_a.send(()).unwrap(); // A to runnext
        done_rx.recv().unwrap(); // parks, hands over to A
        assert_eq!(gosched::num_goroutines(), 3);
    });
    assert_eq!(dropped.get(), 2);
}
